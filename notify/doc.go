// Package notify is tinit's end of systemd's notify protocol (sd_notify(3)):
// the datagram socket named by the child's NOTIFY_SOCKET, the reader that
// turns each datagram into a Message, and the parser. What a Message means
// (readiness, the watchdog, who may speak) is the supervisor's business.
//
// Invariants:
//
//   - One owner, one reader. Listen makes the socket; Run, started once, is
//     the only code that reads it, and it hands out Messages as values on
//     the caller's channel. Close stops Run and waits for it, so no Message
//     is sent after Close returns. Nothing is kept between datagrams and
//     there is no package-level state.
//   - A datagram is taken whole or not at all. One over MaxSize (the kernel
//     sets MSG_TRUNC) is dropped as "oversized", one with more than MaxFDs
//     descriptors (MSG_CTRUNC) as "fds", one that is not KEY=VALUE lines
//     as "malformed", with nothing applied, so a half-garbled READY=1
//     never counts. Within a good datagram, a key tinit does not handle, or
//     a known key with a value it does not take, is skipped and counted
//     (Unknown): the protocol grows, and senders put MONOTONIC_USEC or
//     BARRIER=1 next to the keys that matter.
//   - Descriptors are never kept, and at most MaxFDs come in at once. Any
//     process that reaches the socket may pass them, before anyone judges
//     its pid; the control buffer has room for MaxFDs, so the kernel
//     installs no more and releases the rest without putting them in
//     tinit's table, which no sender can fill. Every one received, bad
//     datagrams included, is closed before the Message is sent and only
//     counted (FDs). Closing it is what releases a sender waiting in
//     sd_notify_barrier.
//   - Nothing leaks into the child. The socket is close-on-exec, so the
//     child never inherits it: it gets the address, not the descriptor.
//     Passed descriptors are close-on-exec from the moment they arrive, so
//     a child forked between the read and the close cannot inherit them.
//   - This package does not decide who may speak. SO_PASSCRED is set
//     before the socket is bound, so every datagram carries its sender's
//     pid (Message.Pid), and the supervisor decides, because only it knows
//     the main child's tree. Pid is the sender's as the kernel saw it at
//     send time, in tinit's pid namespace: 0 for a sender in a namespace
//     tinit cannot see, and possibly gone (or reused) by the time it is
//     read. A sender with CAP_SYS_ADMIN may claim another pid through its
//     own SCM_CREDENTIALS (unix(7)); containers do not get that capability
//     by default. The socket file of --notify-socket is mode 0666 for the
//     same reason: the credentials, not the mode, decide.
//   - Read errors: Run returns on net.ErrClosed (Close was called). Any
//     other error is retried after a pause that doubles from 10 ms to 1 s,
//     reset by the next datagram: a transient ENOMEM must not end readiness
//     for the rest of the child's life, a permanent error must not spin a
//     CPU, and the package has no logger to report it with.
//
// What was checked in Go's source (go1.26.8), and is tested here so that a
// change would show:
//
//   - net creates every socket with SOCK_CLOEXEC|SOCK_NONBLOCK
//     (net/sock_cloexec.go, sysSocket) and reads it through the netpoller:
//     Run parks a goroutine, not a thread blocked in recvmsg.
//   - On Linux, (*net.UnixConn).ReadMsgUnix calls recvmsg with
//     MSG_CMSG_CLOEXEC (net/unixsock_readmsg_cmsg_cloexec.go sets
//     readMsgFlags; UnixConn.readMsg in net/unixsock_posix.go passes it).
//     TestPassedFDsArriveCloseOnExec sends a descriptor without the flag
//     and finds it set on arrival.
//   - A leading "@" names the abstract namespace: syscall's and x/sys/unix's
//     SockaddrUnix both rewrite it to a NUL and drop the trailing NUL from
//     the length, so "@tinit-notify-…" from net.ListenConfig and from
//     unix.Sendmsg reach the same socket, which /proc/net/unix lists as
//     "@tinit-notify-…" and which has no file.
//   - net.ListenConfig's Control runs after socket(2) and before bind(2) for
//     datagram sockets (net/sock_posix.go, listenDatagram): that is where
//     SO_PASSCRED is set, so no datagram can arrive without credentials.
//   - Closing a *net.UnixConn never unlinks its file (only a UnixListener
//     does), hence Close's own Remove, and the stale files a killed tinit
//     leaves behind, which Listen removes after connect(2) has shown that
//     no socket holds them any more (ECONNREFUSED).
//   - recvmsg on a datagram socket may return 0 bytes without error (net
//     does not treat a zero read as EOF there): an empty datagram reaches
//     Parse, which calls it malformed.
package notify
