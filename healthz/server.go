package healthz

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// maxConns caps the connections the endpoint holds open at once. Probes
// and a scraper need a handful; the cap keeps a slow or hostile client
// from exhausting the fds tinit needs to supervise its child.
const maxConns = 64

// limits bounds what one client can take from the server. Every timeout
// bounds how long one client can hold one of the maxConns slots.
type limits struct {
	header      time.Duration // from a request's first byte to its blank line
	idle        time.Duration // waiting for the next request on a kept-alive connection
	write       time.Duration // writing one response
	headerBytes int           // request line and headers together
}

var defaultLimits = limits{
	header:      2 * time.Second,
	idle:        30 * time.Second,
	write:       5 * time.Second,
	headerBytes: 8 << 10,
}

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

// Server serves a Handler over HTTP/1.1 (and 1.0). It is made by Serve
// and owns the listener and every connection it accepted.
type Server struct {
	l   *limitListener
	h   *Handler
	lim limits

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Serve serves h on l in a new goroutine and returns the server, which the
// caller may Close. At most maxConns connections are open at once; the
// rest wait in the kernel's accept queue.
//
// A failure of the server ends the endpoint, not tinit: liveness probes
// will notice that it no longer answers.
func Serve(l net.Listener, h *Handler) *Server {
	return serve(l, h, defaultLimits)
}

func serve(l net.Listener, h *Handler, lim limits) *Server {
	s := &Server{l: newLimitListener(l, maxConns), h: h, lim: lim, conns: make(map[net.Conn]struct{})}
	go s.acceptLoop()
	return s
}

// Close stops accepting and closes every open connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	return s.l.Close()
}

func (s *Server) acceptLoop() {
	var pause time.Duration
	for {
		c, err := s.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like pass; pausing lets the fds come back
			// instead of spinning on the error.
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		if !s.track(c) {
			c.Close()
			return
		}
		go s.serveConn(c)
	}
}

// track records c so that Close can reach it; false once closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// serveConn answers requests on c until the client or the server ends
// the connection. Request bodies are never read: a request that has one
// is answered, then the connection is closed.
func (s *Server) serveConn(c net.Conn) {
	defer s.untrack(c)
	br := bufio.NewReaderSize(c, s.lim.headerBytes)
	var out bytes.Buffer
	for first := true; ; first = false {
		// The header deadline starts at the request's first byte, so an
		// idle kept-alive connection may wait longer than a slow header.
		wait := s.lim.header
		if !first {
			wait = s.lim.idle
		}
		c.SetReadDeadline(time.Now().Add(wait))
		if _, err := br.Peek(1); err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(s.lim.header))
		req, err := readRequest(br, s.lim.headerBytes)
		var (
			resp response
			he   *httpError
		)
		switch {
		case err == nil:
			resp = s.h.respond(req.method, req.path)
		case errors.As(err, &he):
			resp = plain(he.code, he.msg)
			req.keepAlive = false
		default:
			return // timed out or gone: nobody to answer
		}
		out.Reset()
		writeResponse(&out, resp, req.method == "HEAD", req.keepAlive, time.Now())
		c.SetWriteDeadline(time.Now().Add(s.lim.write))
		if _, err := c.Write(out.Bytes()); err != nil {
			return
		}
		if !req.keepAlive {
			linger(c)
			return
		}
	}
}

// lingerFor bounds how long a closing connection is drained.
const lingerFor = 500 * time.Millisecond

// linger half-closes c and drains what the client still sends, briefly,
// before the caller closes it. Closing a socket with unread data makes the
// kernel send a reset, which can destroy the answer just written before
// the client reads it: a 431 or 400 would then look like a dropped
// connection.
func linger(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(lingerFor))
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// request is what the handler needs of a request line and its headers.
type request struct {
	method    string
	path      string // the target without its query
	keepAlive bool   // the connection may carry another request
}

// httpError is a request the server answers with an error and a close.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return strconv.Itoa(e.code) + " " + e.msg }

// readRequest reads one request line and its headers, at most max bytes
// together. A malformed request is an *httpError; anything else is the
// connection failing.
func readRequest(br *bufio.Reader, max int) (request, error) {
	var req request
	left := max
	line, err := readLine(br, &left)
	if err != nil {
		return req, err
	}
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || !isToken(method) {
		return req, &httpError{400, "malformed request line"}
	}
	req.method = string(method)
	switch string(proto) {
	case "HTTP/1.1":
		req.keepAlive = true
	case "HTTP/1.0":
		// One answer, then close: keep-alive is an HTTP/1.0 extension
		// that no probe or scraper needs.
	default:
		if !bytes.HasPrefix(proto, []byte("HTTP/")) {
			return req, &httpError{400, "malformed request line"}
		}
		return req, &httpError{505, "HTTP version not supported"}
	}
	req.path = requestPath(target)

	hasBody := false
	for {
		line, err := readLine(br, &left)
		if err != nil {
			return req, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || !isToken(name) {
			return req, &httpError{400, "malformed header"}
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Connection")):
			for _, opt := range bytes.Split(value, []byte{','}) {
				opt = bytes.TrimSpace(opt)
				if bytes.EqualFold(opt, []byte("close")) {
					req.keepAlive = false
				}
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			hasBody = true
		case bytes.EqualFold(name, []byte("Content-Length")):
			hasBody = hasBody || string(value) != "0"
		}
	}
	if hasBody {
		// The body is not read, so the next request cannot be found.
		req.keepAlive = false
	}
	return req, nil
}

// readLine returns the next CRLF- or LF-terminated line without its
// terminator, charging its length to *left.
func readLine(br *bufio.Reader, left *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*left -= len(line)
	switch {
	case errors.Is(err, bufio.ErrBufferFull) || *left < 0:
		return nil, &httpError{431, "request header too large"}
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// requestPath is the path of an origin-form ("/readyz?x=1") or
// absolute-form ("http://host/readyz") target, as net/http's r.URL.Path
// would give it for the paths tinit serves.
func requestPath(target []byte) string {
	if i := bytes.Index(target, []byte("://")); i > 0 && target[0] != '/' {
		target = target[i+3:]
		if j := bytes.IndexByte(target, '/'); j >= 0 {
			target = target[j:]
		} else {
			target = []byte("/")
		}
	}
	if i := bytes.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	return string(target)
}

// isToken reports whether b is an RFC 9110 token, as methods and header
// names must be.
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}

// writeResponse writes r as an HTTP/1.1 response. A HEAD response has
// every header GET would have, Content-Length included, and no body.
func writeResponse(w *bytes.Buffer, r response, head, keepAlive bool, now time.Time) {
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(r.code))
	w.WriteByte(' ')
	w.WriteString(statusText(r.code))
	w.WriteString("\r\nContent-Type: ")
	w.WriteString(r.ctype)
	w.WriteString("\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(r.body)))
	// Probes must see the state now, never a cached answer.
	w.WriteString("\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nDate: ")
	w.WriteString(now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	if r.allow != "" {
		w.WriteString("\r\nAllow: ")
		w.WriteString(r.allow)
	}
	if !keepAlive {
		w.WriteString("\r\nConnection: close")
	}
	w.WriteString("\r\n\r\n")
	if !head {
		w.Write(r.body)
	}
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 431:
		return "Request Header Fields Too Large"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status " + strconv.Itoa(code)
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

// limitConn gives its slot back on the first Close; both Server.Close and
// the connection's own goroutine close it.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// CloseWrite half-closes the connection, for linger.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// innermost drops the wrappers that repeat what the caller's message
// already says ("dial tcp ADDR", "listen tcp ADDR"), keeping the cause:
// "connection refused", "address already in use".
func innermost(err error) error {
	for {
		var oe *net.OpError
		if !errors.As(err, &oe) {
			return err
		}
		err = oe.Err
	}
}
