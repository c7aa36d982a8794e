package healthz

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxConns caps the connections the endpoint holds open at once. Probes
// and a scraper need a handful; the cap keeps a slow or hostile client
// from exhausting the fds tinit needs to supervise its child.
const maxConns = 64

// Listen opens the TCP listener for the endpoint. ":PORT" (empty host)
// listens on every address.
//
// Go opens every socket with SOCK_CLOEXEC, so the supervised child never
// inherits the listener: it could otherwise keep the port open after tinit
// is gone, or answer probes in tinit's place.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", addr, innermost(err))
	}
	return l, nil
}

// Serve serves h on l in a new goroutine and returns the server, which the
// caller may Close. At most maxConns connections are open at once; the
// rest wait in the kernel's accept queue.
//
// A failure of the server ends the endpoint, not tinit: liveness probes
// will notice that it no longer answers.
func Serve(l net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{
		Handler: h,
		// Every timeout bounds how long one client can hold one of the
		// maxConns slots.
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
		// net/http logs every bad request and TLS handshake; a port
		// scanner must not be able to fill the container's log.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go srv.Serve(newLimitListener(l, maxConns))
	return srv
}

// limitListener admits at most cap(sem) connections at a time: Accept
// takes a slot before accepting and the connection's Close gives it back.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		// Closed while every slot was taken: without this, Accept would
		// wait for a slot before it could see the closed listener.
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back on the first Close; net/http may close a
// connection more than once.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Probe asks the endpoint at addr (as given to Listen) whether tinit is
// alive: nil only when GET /healthz answers 200. An empty host, 0.0.0.0 or
// :: means loopback, since that is where a listener on every address can
// be reached from inside the container.
func Probe(addr string, timeout time.Duration) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("probe %q: bad address: want HOST:PORT", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("probe %q: bad address: port %q is not a number in 1-65535", addr, port)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	u := "http://" + net.JoinHostPort(host, port) + "/healthz"
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			// The container's HTTP_PROXY is for the app, not for loopback.
			Proxy:             nil,
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(u)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ue.Timeout() {
			return fmt.Errorf("probe %s: no answer within %v", u, timeout)
		}
		return fmt.Errorf("probe %s: unreachable: %w", u, innermost(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	// The handler's body is one line saying why; a stranger's may be
	// anything, so read little of it.
	line, _ := bufio.NewReader(io.LimitReader(resp.Body, 512)).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" {
		return fmt.Errorf("probe %s: status %d", u, resp.StatusCode)
	}
	return fmt.Errorf("probe %s: status %d: %s", u, resp.StatusCode, line)
}

// innermost drops the wrappers that repeat what the caller's message
// already says ("Get URL", "dial tcp ADDR", "listen tcp ADDR"), keeping
// the cause: "connection refused", "address already in use".
func innermost(err error) error {
	for {
		var (
			ue *url.Error
			oe *net.OpError
		)
		switch {
		case errors.As(err, &ue):
			err = ue.Err
		case errors.As(err, &oe):
			err = oe.Err
		default:
			return err
		}
	}
}
