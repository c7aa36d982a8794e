package notify

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// oobSize holds the sender's credentials and MaxFDs descriptors. The
// kernel installs only the descriptors that fit, releases the others
// without ever putting them in tinit's table, and sets MSG_CTRUNC.
var oobSize = unix.CmsgSpace(unix.SizeofUcred) + unix.CmsgSpace(MaxFDs*4)

// Read errors other than a closed socket are retried after a pause that
// doubles from retryMin to retryMax: a transient one (ENOMEM, ENOBUFS)
// must not end readiness for the rest of the child's life, and a permanent
// one must not spin a CPU.
const (
	retryMin = 10 * time.Millisecond
	retryMax = time.Second
)

// Socket is the notify socket: one datagram socket, read by Run.
type Socket struct {
	conn *net.UnixConn
	addr string // NOTIFY_SOCKET: "@tinit-notify-…" or the path
	path string // the file to remove on Close; "" for an abstract socket

	done chan struct{} // closed by Close: Run stops waiting on out or a retry

	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup // Run calls in progress, waited for by Close

	closeOnce sync.Once
	closeErr  error
}

// Listen opens the notify socket, a datagram unix socket. path "" means an
// abstract socket named "@tinit-notify-<16 lowercase hex>", random on every
// call: containers in a pod share the abstract namespace and each tinit
// there is PID 1, so a pid would collide. Otherwise path must be absolute
// (sd_notify(3) ignores a NOTIFY_SOCKET that starts with neither / nor @);
// a stale socket file there is removed first, and anything else there (a
// regular file, a directory, a socket that another process still reads) is
// an error naming the path.
//
// SO_PASSCRED is set before the socket is bound, so every datagram it ever
// receives carries its sender's credentials.
func Listen(path string) (*Socket, error) {
	if path == "" {
		name, err := abstractName()
		if err != nil {
			return nil, err
		}
		return listen(name, "")
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("notify socket %q: not an absolute path (senders ignore a NOTIFY_SOCKET that starts with neither / nor @)", path)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	s, err := listen(path, path)
	if err != nil {
		return nil, err
	}
	// bind created the file with the umask's mode. Anyone may write to it:
	// a child that drops root must still be able to send, and the
	// supervisor decides from the sender's pid who may speak.
	if err := os.Chmod(path, 0o666); err != nil {
		s.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return s, nil
}

// abstractName returns a fresh "@tinit-notify-<16 hex>". getrandom(2)
// rather than crypto/rand, which added 160 kB of crypto packages to
// tinit's stripped binary for eight bytes (3,932,322 against 3,772,578
// bytes, measured); the name must only be unlikely to collide in a pod.
func abstractName() (string, error) {
	var b [8]byte
	for n := 0; n < len(b); {
		m, err := unix.Getrandom(b[n:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("notify socket: random name: getrandom: %w", err)
		}
		n += m
	}
	return "@tinit-notify-" + hex.EncodeToString(b[:]), nil
}

// listen binds name ("@…" for the abstract namespace, which Go's net and
// syscall packages both map to a leading NUL) with SO_PASSCRED already set.
func listen(name, path string) (*Socket, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("setsockopt(SO_PASSCRED): %w", serr)
		}
		return nil
	}}
	pc, err := lc.ListenPacket(context.Background(), "unixgram", name)
	if err != nil {
		// net's error names the operation and the name: "listen unixgram
		// /run/notify: bind: address already in use".
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return &Socket{
		conn: pc.(*net.UnixConn),
		addr: name,
		path: path,
		done: make(chan struct{}),
	}, nil
}

// removeStale clears path for bind: nothing there is fine, a socket that
// nobody reads any more (left by a tinit that was killed) is removed, and
// anything else is an error. A socket that another process still reads is
// not stale: taking it over would take its children's messages.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("notify socket: %w", err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("notify socket %s: %s is there, want a socket or nothing", path, describe(fi.Mode()))
	}
	live, err := inUse(path)
	if err != nil {
		return err
	}
	if live {
		return fmt.Errorf("notify socket %s: another process is reading that socket", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("notify socket: remove stale socket: %w", err)
	}
	return nil
}

// inUse tells whether a socket file is bound by a live socket: connect(2)
// succeeds on a bound datagram socket, fails with EPROTOTYPE on a bound
// socket of another type, and with ECONNREFUSED on a file that no socket
// holds any more.
func inUse(path string) (bool, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("notify socket %s: socket to probe it: %w", path, err)
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
	switch {
	case err == nil, errors.Is(err, unix.EPROTOTYPE):
		return true, nil
	case errors.Is(err, unix.ECONNREFUSED):
		return false, nil
	default:
		return false, fmt.Errorf("notify socket %s: connect to tell whether it is stale: %w", path, err)
	}
}

// describe names a file type for an error message.
func describe(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeSymlink:
		return "a symbolic link"
	case fs.ModeNamedPipe:
		return "a named pipe"
	default:
		return "a file of type " + m.Type().String()
	}
}

// Addr is the value of NOTIFY_SOCKET for the child: "@tinit-notify-…" or
// the path.
func (s *Socket) Addr() string { return s.addr }

// Run reads datagrams until Close and sends one Message per datagram to
// out, blocking while out is full: the loop drains it, and meanwhile the
// kernel's socket buffer holds what comes (a sender that finds it full gets
// EAGAIN or blocks, as under systemd). Run returns when the socket is
// closed, at once if it already is; it never closes out. Only one Run may
// read a Socket.
func (s *Socket) Run(out chan<- Message) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.running.Add(1)
	s.mu.Unlock()
	defer s.running.Done()

	buf := make([]byte, MaxSize)
	oob := make([]byte, oobSize)
	pause := retryMin
	for {
		// ReadMsgUnix waits in the netpoller, not in a thread blocked in
		// recvmsg, and passes MSG_CMSG_CLOEXEC (see doc.go).
		n, oobn, flags, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			// recvmsg may have succeeded before Go failed to decode the
			// sender's address; descriptors that came must not stay open.
			release(oob[:oobn])
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if !s.sleep(pause) {
				return
			}
			pause = min(2*pause, retryMax)
			continue
		}
		pause = retryMin
		m := receive(buf[:n], oob[:oobn], flags)
		select {
		case out <- m:
		case <-s.done:
			return
		}
	}
}

// sleep waits d, or until Close; it reports whether the socket is open.
func (s *Socket) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// receive makes the Message for one datagram: its control messages first,
// so that its descriptors are closed whatever the payload says.
func receive(payload, oob []byte, flags int) Message {
	pid, fds := release(oob)
	var m Message
	switch {
	case flags&unix.MSG_CTRUNC != 0:
		// More descriptors than oobSize holds (or than RLIMIT_NOFILE let
		// in): the kernel released the rest. A sender that passes that
		// many is not speaking this protocol.
		m.Bad = BadFDs
	case flags&unix.MSG_TRUNC != 0:
		// The kernel cut the datagram to MaxSize: the rest of it is gone,
		// and half a message is not applied.
		m.Bad = BadOversized
	default:
		var err error
		if m, err = Parse(payload); err != nil {
			m.Bad = BadMalformed
		}
	}
	m.Pid, m.FDs = pid, fds
	return m
}

// release reads the sender's pid from the control messages and closes every
// descriptor that came along, returning how many did. Closing them at once
// is also what releases a sender waiting in sd_notify_barrier. oob comes
// from the kernel, which writes only whole control messages (MSG_CTRUNC
// drops what does not fit), so a parse error is not expected; were there
// one, the descriptors in the buffer could not be found anyway.
func release(oob []byte) (pid, fds int) {
	if len(oob) == 0 {
		return 0, 0
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, 0
	}
	for i := range cmsgs {
		c := &cmsgs[i]
		if c.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch c.Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(c); err == nil {
				pid = int(cred.Pid)
			}
		case unix.SCM_RIGHTS:
			rights, err := unix.ParseUnixRights(c)
			if err != nil {
				continue
			}
			for _, fd := range rights {
				unix.Close(fd)
			}
			fds += len(rights)
		}
	}
	return pid, fds
}

// Close stops Run and waits for it to return, so that no Message is sent
// after Close returns, then removes the socket file of a path socket.
// Calling it again returns the first result.
func (s *Socket) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
		// Remove the file while the socket still holds it: another
		// tinit's Listen sees a live socket and refuses, rather than
		// finding it stale, binding, and losing its file to this Remove.
		var rerr error
		if s.path != "" {
			if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				rerr = fmt.Errorf("notify socket: %w", err)
			}
		}
		if err := s.conn.Close(); err != nil {
			s.closeErr = fmt.Errorf("notify socket: %w", err)
		} else {
			s.closeErr = rerr
		}
		s.running.Wait()
	})
	return s.closeErr
}
