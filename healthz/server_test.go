package healthz

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// serveOn serves h on a new loopback listener and returns its address.
func serveOn(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Serve(l, h)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
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

func (c *countingConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

func TestServeCapsOpenConnectionsAndRecovers(t *testing.T) {
	inner, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: inner}
	srv := Serve(cl, NewHandler(NewState(), nil, nil))
	defer srv.Close()
	addr := inner.Addr().String()

	// 100 clients that connect and send nothing, as a slowloris would.
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
	for cl.open.Load() < maxConns && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Give the server time to take more than its share if it would.
	time.Sleep(200 * time.Millisecond)
	if open, peak := cl.open.Load(), cl.peak.Load(); open != maxConns || peak > maxConns {
		t.Errorf("with 100 idle clients the server holds %d connections (peak %d), want exactly %d", open, peak, maxConns)
	}

	for _, c := range idle {
		c.Close()
	}
	idle = nil
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz after the idle clients left: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz after the idle clients left: status %d", resp.StatusCode)
	}
	t.Logf("served after %v; peak %d connections", time.Since(start), cl.peak.Load())
	if p := cl.peak.Load(); p > maxConns {
		t.Errorf("peak of %d open connections, want at most %d", p, maxConns)
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
