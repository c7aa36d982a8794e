package healthz

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// serveOn serves h on a new loopback listener and returns its address.
func serveOn(t *testing.T, h *Handler) string {
	t.Helper()
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Serve(l, h)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// countedServe serves a handler with no checks on a new loopback listener
// that counts the connections the server holds, and returns its address.
func countedServe(t *testing.T) (string, *countingListener) {
	t.Helper()
	inner, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: inner}
	srv := Serve(cl, NewHandler(NewState(), nil, nil))
	t.Cleanup(func() { srv.Close() })
	return inner.Addr().String(), cl
}

// send dials addr and writes raw on the new connection, whose deadline is
// 5 s; the caller closes it.
func send(t *testing.T, addr, raw string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		c.Close()
		t.Fatalf("sending %.60q...: %v", raw, err)
	}
	return c
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestListenErrorsNameTheAddress(t *testing.T) {
	busy, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name    string
		addr    string
		want    string
		wantErr error
	}{
		{"a port in use", busy.Addr().String(), "address already in use", syscall.EADDRINUSE},
		{"a port out of range", "127.0.0.1:99999", "invalid port", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Listen(tc.addr)
			if err == nil {
				l.Close()
				t.Fatalf("Listen(%q) succeeded", tc.addr)
			}
			prefix := `listen on "` + tc.addr + `": `
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line starting %q and saying %q", msg, prefix, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %q does not wrap %v", err, tc.wantErr)
			}
		})
	}
}

func TestListenWithEmptyHostListensOnEveryAddress(t *testing.T) {
	l, err := Listen(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsUnspecified() {
		t.Errorf("listening on %v, want the unspecified address", ip)
	}
}

// countingListener records how many accepted connections are open at
// once, as the server sees them.
type countingListener struct {
	net.Listener
	open, peak atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for {
		p := l.peak.Load()
		if n <= p || l.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

// Close counts the connection closed once its fd is: net.Conn's Close
// returns only then.
func (c *countingConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// CloseWrite lets the server half-close, as it does the connections it
// accepts itself.
func (c *countingConn) CloseWrite() error {
	return c.Conn.(interface{ CloseWrite() error }).CloseWrite()
}

func TestServeKeepsItsBudgetAndServesNewcomers(t *testing.T) {
	addr, cl := countedServe(t)

	// 100 clients that connect and send nothing and stay, as a slowloris
	// would.
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 100 {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("idle connection %d: %v", len(idle)+1, err)
		}
		idle = append(idle, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for cl.open.Load() < maxConns-1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Give the server time to take more than its share if it would.
	time.Sleep(200 * time.Millisecond)
	if open, peak := cl.open.Load(), cl.peak.Load(); open != maxConns-1 || peak > maxConns {
		t.Errorf("with 100 idle clients the server holds %d connections (peak %d), want %d (and a peak of at most %d)", open, peak, maxConns-1, maxConns)
	}

	// The idle clients stay; a probe is still answered at once.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz with 100 idle clients connected: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz with 100 idle clients connected: status %d", resp.StatusCode)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("GET /healthz with 100 idle clients connected took %v", d)
	}
	if p := cl.peak.Load(); p > maxConns {
		t.Errorf("peak of %d open connections, want at most %d", p, maxConns)
	}
}

func TestNewcomersDisplaceTheConnectionWorthLeast(t *testing.T) {
	for _, tc := range []struct {
		name     string
		phases   []phase // of the connections held, oldest first
		inPieces int     // the one whose request has needed a second read; -1 for none
		want     int     // index of the one closed
	}{
		{"a closing connection goes first", []phase{busy, reading, idle, closing}, -1, 3},
		{"then the longest idle", []phase{busy, idle, reading, idle}, -1, 1},
		{"then the slowest unfinished request", []phase{busy, reading, busy, reading}, -1, 1},
		{"a request in pieces before an older one read at once", []phase{busy, reading, busy, reading}, 3, 3},
		{"then one not read yet", []phase{busy, fresh, busy, fresh}, -1, 1},
		{"a request being answered goes last", []phase{busy, busy}, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{conns: make(map[*conn]struct{})}
			var held []*conn
			for i, p := range tc.phases {
				c := &conn{phase: p, since: t0.Add(time.Duration(i) * time.Second)}
				if i == tc.inPieces {
					c.reads.Store(2)
				}
				held = append(held, c)
				s.conns[c] = struct{}{}
			}
			if v := s.victim(); v != held[tc.want] {
				t.Errorf("closed %v since %v, want %v since %v", v.phase, v.since, held[tc.want].phase, held[tc.want].since)
			}
		})
	}
}

func TestServerCloseReturnsWhileEverySlotIsTaken(t *testing.T) {
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Serve(l, NewHandler(NewState(), nil, nil))
	for range maxConns + 1 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
}

func TestProbe(t *testing.T) {
	live := serveOn(t, NewHandler(NewState(), nil, nil))
	stalled := NewState()
	stalled.Update(func(s *Status) { s.Heartbeat, s.LastTick = time.Second, t0 })
	dead := serveOn(t, NewHandler(stalled, nil, &fakeClock{now: t0.Add(10 * time.Second)}))
	_, livePort, _ := net.SplitHostPort(live)

	for _, tc := range []struct {
		name string
		addr string
		want string // "" = nil error
	}{
		{"a live tinit passes", live, ""},
		{"an empty host means loopback", ":" + livePort, ""},
		{"0.0.0.0 means loopback", "0.0.0.0:" + livePort, ""},
		{"a stalled loop fails with the status and the reason", dead, "status 503: heartbeat 10s old, limit 3s: event loop stalled"},
		{"a closed port fails as unreachable", closedPort(t), "unreachable: connect: connection refused"},
		{"an address without a port is bad", "localhost", `probe "localhost": bad address`},
		{"a port out of range is bad", "127.0.0.1:70000", `probe "127.0.0.1:70000": bad address`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Probe(tc.addr, 2*time.Second)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Probe(%q): %v", tc.addr, err)
			case tc.want != "" && err == nil:
				t.Errorf("Probe(%q) passed, want an error saying %q", tc.addr, tc.want)
			case err != nil && (!strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
				t.Errorf("Probe(%q): %q, want one line saying %q", tc.addr, err, tc.want)
			}
		})
	}
}

func TestProbeGivesUpAfterTheTimeout(t *testing.T) {
	// A listener that never accepts: the connection sits in the backlog
	// and no answer ever comes.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	err = Probe(l.Addr().String(), 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("Probe of a silent listener: %v, want no answer within 200ms", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Probe took %v with a 200ms timeout", d)
	}
}

// exchange sends raw to the server at addr and returns everything it
// answers until it closes the connection.
func exchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c := send(t, addr, raw)
	defer c.Close()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer to %.60q...: %v (got %q)", raw, err, got)
	}
	return string(got)
}

// statusLines returns the status lines in an exchange, in order.
func statusLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "HTTP/") {
			out = append(out, strings.TrimSuffix(line, "\r"))
		}
	}
	return out
}

func TestServerSpeaksHTTP1(t *testing.T) {
	addr := serveOn(t, NewHandler(NewState(), nil, nil))
	const closing = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	for _, tc := range []struct {
		name string
		raw  string
		want []string // status lines, in order; the server then closes
	}{
		{"one request, then close", closing, []string{"HTTP/1.1 200 OK"}},
		{"kept alive: pipelined requests are answered in order",
			"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n" + closing,
			[]string{"HTTP/1.1 503 Service Unavailable", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"}},
		{"HTTP/1.0 gets one answer", "GET /healthz HTTP/1.0\r\n\r\n" + closing, []string{"HTTP/1.1 200 OK"}},
		{"bare LF line ends are accepted", "GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n", []string{"HTTP/1.1 200 OK"}},
		{"a query is not part of the path", "GET /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []string{"HTTP/1.1 200 OK"}},
		{"an absolute-form target is served by its path", "GET http://x:1/healthz HTTP/1.1\r\nHost: x:1\r\nConnection: close\r\n\r\n", []string{"HTTP/1.1 200 OK"}},
		{"a request with a body is answered, then closed", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + closing, []string{"HTTP/1.1 405 Method Not Allowed"}},
		{"a chunked request is answered, then closed", "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + closing, []string{"HTTP/1.1 200 OK"}},
		{"a malformed request line is a 400 and a close", "GET\r\n\r\n" + closing, []string{"HTTP/1.1 400 Bad Request"}},
		{"a malformed header is a 400 and a close", "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n" + closing, []string{"HTTP/1.1 400 Bad Request"}},
		{"HTTP/2 is a 505", "GET /healthz HTTP/2.0\r\n\r\n" + closing, []string{"HTTP/1.1 505 HTTP Version Not Supported"}},
		{"a header over 8 KiB is a 431", "GET /healthz HTTP/1.1\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n", []string{"HTTP/1.1 431 Request Header Fields Too Large"}},
		{"many headers over 8 KiB together are a 431", "GET /healthz HTTP/1.1\r\n" + strings.Repeat("X: "+strings.Repeat("a", 1000)+"\r\n", 9) + "\r\n", []string{"HTTP/1.1 431 Request Header Fields Too Large"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, addr, tc.raw)
			if lines := statusLines(got); strings.Join(lines, "|") != strings.Join(tc.want, "|") {
				t.Errorf("status lines %q, want %q\nfull answer:\n%s", lines, tc.want, got)
			}
		})
	}
}

func TestServerAnswersNetHTTPClientsOverKeptAliveConnections(t *testing.T) {
	addr := serveOn(t, NewHandler(NewState(), nil, nil))
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	var local []string
	for _, path := range []string{"/healthz", "/metrics", "/healthz"} {
		var conn string
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conn = i.Conn.LocalAddr().String() }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+addr+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("GET %s: status %d, body %q, %v", path, resp.StatusCode, body, err)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", path, cc)
		}
		local = append(local, conn)
	}
	if local[0] != local[1] || local[1] != local[2] {
		t.Errorf("three requests used connections %v, want one kept alive", local)
	}
}

func TestServerClosesSlowAndIdleConnections(t *testing.T) {
	lim := limits{header: 200 * time.Millisecond, idle: 400 * time.Millisecond, write: time.Second, headerBytes: 8 << 10}
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(l, NewHandler(NewState(), nil, nil), lim)
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		send   func(c net.Conn)
		within time.Duration
	}{
		// The kernel holds it for deferAcceptFor, rounded up to its SYN-ACK
		// retransmissions (1 s, then 2 s more), before Accept sees it.
		{"a client that sends nothing", func(net.Conn) {}, 3*time.Second + lim.header},
		{"a header trickled byte by byte", func(c net.Conn) {
			for _, b := range []byte("GET /healthz HTTP/1.1\r\nX: y") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}, lim.header},
		{"an idle kept-alive connection", func(c net.Conn) {
			io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		}, lim.idle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			go tc.send(c)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c) // until the server closes
			if d := time.Since(start); d < tc.within/2 || d > tc.within+time.Second {
				t.Errorf("closed after %v, want about %v", d, tc.within)
			}
		})
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD http://x/readyz?x HTTP/1.0\r\nConnection: close\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET  HTTP/1.1\r\n\r\n",
		"\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req, err := readRequest(bufio.NewReaderSize(strings.NewReader(s), 64), 256)
		if err != nil {
			return
		}
		// What tinit accepts, net/http's parser accepts, and reads alike.
		ref, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s)))
		if err != nil {
			t.Fatalf("%q: accepted as %s %q; net/http refuses it: %v", s, req.method, req.path, err)
		}
		if req.method != ref.Method || req.path != ref.URL.Path {
			t.Errorf("%q: read as %s %q, net/http reads %s %q", s, req.method, req.path, ref.Method, ref.URL.Path)
		}
	})
}

func TestTheBudgetFitsTheDescriptorLimit(t *testing.T) {
	for _, tt := range []struct{ free, want int }{
		{1000, maxConns}, {maxConns, maxConns}, {48, 48}, {MinConns, MinConns}, {1, MinConns},
	} {
		if got := budgetFor(tt.free); got != tt.want {
			t.Errorf("budgetFor(%d free) = %d, want %d", tt.free, got, tt.want)
		}
	}
	if free, ok := freeForConns(nil); ok && connBudget(nil) != budgetFor(free) {
		t.Errorf("connBudget = %d with %d free", connBudget(nil), free)
	}
}
