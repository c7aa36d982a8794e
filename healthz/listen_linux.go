package healthz

import (
	"net"

	"golang.org/x/sys/unix"
)

// deferAcceptFor is how long the kernel holds a connection that has sent
// nothing before handing it to Accept anyway: the header timeout, after
// which the server would close it.
const deferAcceptFor = 2 // seconds

// deferAccept makes the kernel hand l's connections to Accept only once
// their first bytes have come (TCP_DEFER_ACCEPT, as nginx's "deferred").
// Every HTTP client sends first, so this costs a client nothing, while a
// connection that sends nothing takes no fd and no slot from the budget:
// it waits in the kernel's SYN queue, not among the server's connections.
// And a connection that reaches the server has its request (a probe's
// fits in one segment) ready to read, so it needs no grace before it can
// be judged by what it sent.
func deferAccept(l net.Listener) error {
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return nil
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, deferAcceptFor)
	}); err != nil {
		return err
	}
	return serr
}
