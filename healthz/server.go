package healthz

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxConns bounds the sockets the endpoint holds open at once, the one
// just accepted included, and so the fds it can take from tinit, which
// needs its own to supervise the child. Probes and a scraper need a
// handful; under attack the budget is what the attackers share, and a new
// client never waits for it (see admit).
const maxConns = 64

// fdReserve is what tinit keeps of its descriptors for itself beyond the
// endpoint's connections: stdio (3), the runtime's poller (2), the
// listener, a failed exec's error pipe (2), a walk of /proc, the
// termination log, the notify socket and the fds one datagram may pass
// before they are closed (1 + 4), and one spare; each app check may hold
// one more while it runs.
const fdReserve = 16

// MinConns is the fewest connections the endpoint needs: a probe or two
// and a scraper.
const MinConns = 4

// connBudget is maxConns, or fewer when RLIMIT_NOFILE would run out
// first: a budget the process cannot open would never evict, and the
// attackers would take the descriptors tinit needs to restart the child.
func connBudget(h *Handler) int {
	free, ok := freeForConns(h)
	if !ok {
		return maxConns
	}
	return budgetFor(free)
}

// budgetFor is the connection budget when free descriptors are left.
func budgetFor(free int) int { return max(MinConns, min(maxConns, free)) }

// freeForConns is RLIMIT_NOFILE minus what tinit keeps for itself.
func freeForConns(h *Handler) (int, bool) {
	lim, ok := nofile()
	if !ok {
		return 0, false
	}
	checks := 0
	if h != nil && h.checks != nil {
		checks = h.checks.cfg.Count()
	}
	return int(lim) - fdReserve - checks, true
}

// nofile is RLIMIT_NOFILE's soft limit, or false when it cannot be read
// or is so high (over a million) that the budget cannot reach it.
func nofile() (uint64, bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<20 {
		return 0, false
	}
	return lim.Cur, true
}

// CheckFDLimit says whether RLIMIT_NOFILE leaves the endpoint MinConns
// connections beside what tinit keeps for itself and for its app checks
// (checks of them): an endpoint that a handful of clients could starve is
// a configuration error.
func CheckFDLimit(checks int) error {
	lim, ok := nofile()
	if !ok {
		return nil
	}
	if want := uint64(fdReserve + checks + MinConns); lim < want {
		return fmt.Errorf("RLIMIT_NOFILE (ulimit -n) %d is too low for --health-addr: want at least %d (tinit's own %d, %d for app checks and --wait-for targets, %d connections)", lim, want, fdReserve, checks, MinConns)
	}
	return nil
}

// limits bounds what one client can take from the server while nobody
// needs its slot; when somebody does, eviction takes it sooner.
type limits struct {
	header      time.Duration // from a request's first byte to its blank line
	idle        time.Duration // waiting for the next request on a kept-alive connection
	write       time.Duration // writing one response
	headerBytes int           // request line and headers together
	conns       int           // sockets open at once, the one just accepted included; 0: maxConns
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
	if err := deferAccept(l); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen on %q: TCP_DEFER_ACCEPT: %w", addr, err)
	}
	return l, nil
}

// Server serves a Handler over HTTP/1.1 (and 1.0). It is made by Serve
// and owns the listener and every connection it accepted.
type Server struct {
	l   net.Listener
	h   *Handler
	lim limits
	// bufs holds each connection's buffers between connections: under an
	// attack that makes the server accept thousands of connections a
	// second, allocating 8 KiB for each would be most of tinit's work.
	bufs sync.Pool

	mu      sync.Mutex
	conns   map[*conn]struct{}
	evicted time.Time // when admit last closed a connection for a newcomer
	closed  bool
}

// pressureFor is how long after an eviction the server counts as under
// pressure and closes each connection after one answer. A kept-alive
// connection would otherwise be served again and again while newcomers,
// a probe among them, wait in the kernel's accept queue: a flood of
// requests on 64 connections leaves the accept loop little CPU.
// Answering one request per connection makes every client queue for its
// turn in accept order, the kept-alive ones included.
const pressureFor = time.Second

// phase is where a connection stands, for choosing which to close when a
// new client needs its slot. In the order they are given up: a connection
// that is closing has had its answer; an idle one can reconnect at no
// cost; a request still arriving after the server looked may never be
// complete; a connection the server has not read yet may hold a whole
// request (a probe sends its request with the connection), and only a
// flood of newer connections faster than the server reads can reach it;
// a request being answered is what the server is there to finish.
type phase int

const (
	closing phase = iota // answered; lingering before the close
	idle                 // kept alive, waiting for the next request
	reading              // read from, headers not complete
	fresh                // accepted, not read from yet
	busy                 // a complete request, being answered
)

// conn is one accepted connection and where it stands. phase and since
// are guarded by Server.mu.
type conn struct {
	net.Conn
	phase phase
	since time.Time    // when it entered phase
	reads atomic.Int32 // Read calls since the request began
	once  sync.Once

	looked chan struct{} // closed when its goroutine starts
}

// Read counts the reads a request takes. A probe's request comes in one
// segment and takes one; a request that needs a second is arriving in
// pieces, as a slowloris sends it.
func (c *conn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

// rank orders connections for eviction, lowest first: by phase, and in
// reading, a request that has needed a second read before one that has
// not, whatever their ages. A newcomer's request, read at once, is then
// never displaced by a trickle of slow ones that came after it.
func (c *conn) rank() int {
	r := 2 * int(c.phase)
	if c.phase == reading && c.reads.Load() < 2 {
		r++
	}
	return r
}

// Close closes the connection once, whoever asks first, and returns only
// when its fd is closed: net.Conn's Close waits for that, but a second
// caller's returns at once, and admit must not accept again before the
// victim's fd is gone.
func (c *conn) Close() error {
	var err error
	c.once.Do(func() { err = c.Conn.Close() })
	return err
}

// Serve serves h on l in a new goroutine and returns the server, which the
// caller may Close. At most maxConns connections are open at once (see
// admit); the accept loop never waits for a slot.
//
// A failure of the server ends the endpoint, not tinit: liveness probes
// will notice that it no longer answers.
func Serve(l net.Listener, h *Handler) *Server {
	return serve(l, h, defaultLimits)
}

func serve(l net.Listener, h *Handler, lim limits) *Server {
	if lim.conns <= 0 {
		lim.conns = connBudget(h)
	}
	s := &Server{l: l, h: h, lim: lim, conns: make(map[*conn]struct{})}
	s.bufs.New = func() any { return &buffers{br: bufio.NewReaderSize(nil, lim.headerBytes)} }
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
		nc, err := s.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors (other fds of tinit's took them): the
			// connection worth least makes room, as for a newcomer.
			if (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) && s.evictOne() {
				continue
			}
			// EMFILE and the like pass; pausing lets the fds come back
			// instead of spinning on the error.
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		c, ok := s.admit(nc)
		if !ok {
			nc.Close()
			return
		}
		go s.serveConn(c)
		// Accept the next one only once this one's goroutine runs.
		// Otherwise, under a flood of connections, the accept loop runs
		// ahead of the goroutines it starts and evicts connections that
		// nobody has read yet, a probe's complete request among them.
		<-c.looked
	}
}

// admit records nc so that Close can reach it, and keeps the budget: when
// the connections already held and the one just accepted fill all
// maxConns, the one that is worth least (victim) is closed before the
// next accept can add one more. So the accept loop never waits, a new
// client never queues behind old ones, and no more than maxConns sockets
// are open at any moment. A prober whose request arrives with its
// connection is served before 63 newer connections could push it out.
// False once the server is closed.
func (s *Server) admit(nc net.Conn) (*conn, bool) {
	c := &conn{Conn: nc, phase: fresh, since: time.Now(), looked: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false
	}
	var victim *conn
	if len(s.conns)+1 >= s.lim.conns {
		victim = s.evictLocked(c.since)
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if victim != nil {
		// Close returns once the fd is closed: the budget holds before
		// the next Accept.
		victim.Close()
	}
	return c, true
}

// evictOne closes the connection worth least, if there is one.
func (s *Server) evictOne() bool {
	s.mu.Lock()
	v := s.evictLocked(time.Now())
	s.mu.Unlock()
	if v == nil {
		return false
	}
	v.Close()
	return true
}

// evictLocked forgets the connection worth least (nil when there is none)
// and marks the pressure from now; the caller holds s.mu, and closes it
// once it has let go.
func (s *Server) evictLocked(now time.Time) *conn {
	if len(s.conns) == 0 {
		return nil
	}
	v := s.victim()
	delete(s.conns, v)
	s.evicted = now
	return v
}

// victim is the connection to close for a newcomer: the lowest rank
// (closing, idle, a request arriving in pieces, one read at once, one not
// read yet, one being answered), and in it the longest there (the longest
// idle, the slowest unfinished request). The caller holds s.mu and
// s.conns is not empty.
func (s *Server) victim() *conn {
	var v *conn
	for c := range s.conns {
		if v == nil || c.rank() < v.rank() || c.rank() == v.rank() && c.since.Before(v.since) {
			v = c
		}
	}
	return v
}

// enter moves c to phase p.
func (s *Server) enter(c *conn, p phase) {
	s.mu.Lock()
	c.phase, c.since = p, time.Now()
	s.mu.Unlock()
}

// release closes c and forgets it, if admit has not already done both
// for a newcomer. In that order: until its fd is closed, c counts
// against the budget.
func (s *Server) release(c *conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// pressed reports whether a newcomer has had to displace a connection
// within pressureFor.
func (s *Server) pressed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.evicted.IsZero() && time.Since(s.evicted) < pressureFor
}

// buffers are one connection's: the request reader and the answer.
type buffers struct {
	br  *bufio.Reader
	out bytes.Buffer
}

// serveConn answers requests on c until the client or the server ends
// the connection. Request bodies are never read: a request that has one
// is answered, then the connection is closed.
func (s *Server) serveConn(c *conn) {
	defer s.release(c)
	b := s.bufs.Get().(*buffers)
	defer func() {
		b.br.Reset(nil)
		b.out.Reset()
		s.bufs.Put(b)
	}()
	b.br.Reset(c)
	// Looked at: no longer fresh, whether a request is there or not.
	s.enter(c, reading)
	close(c.looked)
	for first := true; ; first = false {
		// The header deadline starts at the request's first byte, so an
		// idle kept-alive connection may wait longer than a slow header.
		wait := s.lim.header
		if !first {
			wait = s.lim.idle
		}
		c.SetReadDeadline(time.Now().Add(wait))
		if _, err := b.br.Peek(1); err != nil {
			return
		}
		if !first {
			s.enter(c, reading)
			c.reads.Store(1) // the Peek's
		}
		c.SetReadDeadline(time.Now().Add(s.lim.header))
		req, err := readRequest(b.br, s.lim.headerBytes)
		var (
			resp response
			he   *httpError
		)
		switch {
		case err == nil && req.method == "OPTIONS" && req.path == "*":
			// About the server rather than a resource: net/http answers it
			// itself, with a 200.
			resp = response{code: 200, ctype: textPlain}
		case err == nil:
			resp = s.h.respond(req.method, req.path)
		case errors.As(err, &he):
			resp = plain(he.code, he.msg)
			req.keepAlive = false
		default:
			return // timed out or gone: nobody to answer
		}
		if req.keepAlive && s.pressed() {
			req.keepAlive = false
		}
		s.enter(c, busy)
		b.out.Reset()
		writeResponse(&b.out, resp, req.method == "HEAD", connectionHeader(req), time.Now())
		c.SetWriteDeadline(time.Now().Add(s.lim.write))
		if _, err := c.Write(b.out.Bytes()); err != nil {
			return
		}
		if !req.keepAlive {
			s.enter(c, closing)
			linger(c.Conn)
			return
		}
		s.enter(c, idle)
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
	path      string // the target's path, as net/http's r.URL.Path
	keepAlive bool   // the connection may carry another request
	http10    bool   // HTTP/1.0: keep-alive must be said, not assumed
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
//
// What is malformed, and the answer, is net/http's (its server is the
// reference the tests hold this one to): 400 for a bad request line,
// version, target, header line or value, Content-Length or Host; 501 for
// a Transfer-Encoding other than one "chunked"; 505 for a version other
// than 1.x; 417 for an Expect other than 100-continue. A probe that works
// against net/http works here, and what net/http refuses is refused.
func readRequest(br *bufio.Reader, max int) (request, error) {
	var req request
	left := max
	line, err := readLine(br, &left)
	if err != nil {
		return req, err
	}
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 || !isToken(method) {
		return req, &httpError{400, "malformed request line"}
	}
	major, minor, ok := httpVersion(proto)
	if !ok {
		return req, &httpError{400, "malformed HTTP version"}
	}
	req.method = string(method)
	req.path, ok = targetPath(req.method, string(target))
	if !ok {
		return req, &httpError{400, "malformed request target"}
	}

	// The headers that matter, each with every value it was sent with.
	var host, contentLength, transferEncoding, connection, expect [][]byte
	var name, value []byte // the header being read: it may be folded onto the next lines
	flush := func() error {
		if name == nil {
			return nil
		}
		for _, h := range []struct {
			name string
			to   *[][]byte
		}{{"Host", &host}, {"Content-Length", &contentLength}, {"Transfer-Encoding", &transferEncoding}, {"Connection", &connection}, {"Expect", &expect}} {
			if bytes.EqualFold(name, []byte(h.name)) {
				*h.to = append(*h.to, value)
			}
		}
		name = nil
		return nil
	}
	for {
		line, err := readLine(br, &left)
		if err != nil {
			return req, err
		}
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			// obs-fold: a continuation of the header before, which net/http
			// joins to it with a space (RFC 9112 allows that or a 400).
			if name == nil {
				return req, &httpError{400, "malformed header"}
			}
			if !validValue(line) {
				return req, &httpError{400, "invalid header value"}
			}
			value = append(append(value, ' '), trimOWS(line)...)
			continue
		}
		if err := flush(); err != nil {
			return req, err
		}
		if len(line) == 0 {
			break
		}
		n, v, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(n) == 0 || !isToken(n) {
			return req, &httpError{400, "malformed header"}
		}
		if !validValue(v) {
			return req, &httpError{400, "invalid header value"}
		}
		// Copied: the next readLine may overwrite the reader's buffer.
		name, value = append([]byte(nil), n...), append([]byte(nil), trimOWS(v)...)
	}

	hasBody := false
	// Transfer-Encoding means nothing in HTTP/1.0, as in net/http.
	if len(transferEncoding) > 0 && (major > 1 || minor > 0) {
		if len(transferEncoding) > 1 || !bytes.EqualFold(transferEncoding[0], []byte("chunked")) {
			return req, &httpError{501, "unsupported transfer encoding"}
		}
		hasBody = true
	}
	if len(contentLength) > 0 {
		for _, cl := range contentLength[1:] {
			if !bytes.Equal(cl, contentLength[0]) {
				return req, &httpError{400, "conflicting Content-Length"}
			}
		}
		n, err := strconv.ParseUint(string(contentLength[0]), 10, 63)
		if err != nil {
			return req, &httpError{400, "bad Content-Length"}
		}
		hasBody = hasBody || n > 0
	}
	if major != 1 {
		return req, &httpError{505, "HTTP version not supported"}
	}
	req.http10 = minor == 0
	switch {
	case len(host) > 1:
		return req, &httpError{400, "too many Host headers"}
	case len(host) == 0 && !req.http10 && req.method != "CONNECT":
		return req, &httpError{400, "missing required Host header"}
	case len(host) == 1 && !validHost(host[0]):
		return req, &httpError{400, "malformed Host header"}
	}
	if len(expect) > 0 && !hasToken(expect[0], "100-continue") {
		return req, &httpError{417, "expectation failed"}
	}
	// HTTP/1.1 keeps the connection unless told to close; 1.0 closes it
	// unless told to keep it.
	req.keepAlive = !headerHasToken(connection, "close") && (!req.http10 || headerHasToken(connection, "keep-alive"))
	if hasBody {
		// The body is not read, so the next request cannot be found.
		req.keepAlive = false
	}
	return req, nil
}

// httpVersion parses "HTTP/X.Y" as net/http's ParseHTTPVersion does: one
// digit each, so HTTP/1.2 is a 1.x version and HTTP/1.10 is malformed.
func httpVersion(proto []byte) (major, minor int, ok bool) {
	if len(proto) != len("HTTP/X.Y") || !bytes.HasPrefix(proto, []byte("HTTP/")) || proto[6] != '.' ||
		!isDigit(proto[5]) || !isDigit(proto[7]) {
		return 0, 0, false
	}
	return int(proto[5] - '0'), int(proto[7] - '0'), true
}

// validValue reports whether a header value, before its spaces are
// trimmed, holds no control byte but HTAB: a NUL or a CR could split it
// into two headers for whoever reads it next.
func validValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// trimOWS trims the optional white space around a header value: spaces
// and tabs only.
func trimOWS(v []byte) []byte {
	return bytes.Trim(v, " \t")
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

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

// targetPath is the path of a request target as net/http's r.URL.Path
// gives it (net/url is linked already, for the client): percent-decoded,
// without the query (a fragment is not cut: a target has none), the path
// of an absolute-form target, and none for a CONNECT authority. False for
// a target net/http refuses: control bytes, a bad escape, no leading
// slash.
func targetPath(method, target string) (string, bool) {
	if method == "CONNECT" && !strings.HasPrefix(target, "/") {
		target = "http://" + target
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return "", false
	}
	return u.Path, true
}

// validHost reports whether h may be a Host header, as net/http's
// httpguts.ValidHostHeader has it: the bytes a host, an IPv6 literal and
// a port can hold, and sub-delims.
func validHost(h []byte) bool {
	for _, c := range h {
		if !(isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0) {
			return false
		}
	}
	return true
}

// headerHasToken reports whether any of values, each a comma-separated
// list, holds token, case-insensitively.
func headerHasToken(values [][]byte, token string) bool {
	for _, v := range values {
		if hasToken(v, token) {
			return true
		}
	}
	return false
}

func hasToken(v []byte, token string) bool {
	for _, opt := range bytes.Split(v, []byte{','}) {
		if bytes.EqualFold(bytes.TrimSpace(opt), []byte(token)) {
			return true
		}
	}
	return false
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

// connectionHeader is the Connection header that answers req: "close"
// when the server will close, "keep-alive" when an HTTP/1.0 client asked
// for it and gets it (1.0 closes unless told), none otherwise.
func connectionHeader(req request) string {
	switch {
	case !req.keepAlive:
		return "close"
	case req.http10:
		return "keep-alive"
	}
	return ""
}

// writeResponse writes r as an HTTP/1.1 response, with conn (if any) as
// its Connection header. A HEAD response has every header GET would
// have, Content-Length included, and no body.
func writeResponse(w *bytes.Buffer, r response, head bool, conn string, now time.Time) {
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
	if conn != "" {
		w.WriteString("\r\nConnection: ")
		w.WriteString(conn)
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
	case 417:
		return "Expectation Failed"
	case 431:
		return "Request Header Fields Too Large"
	case 503:
		return "Service Unavailable"
	case 501:
		return "Not Implemented"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status " + strconv.Itoa(code)
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
