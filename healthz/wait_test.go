package healthz

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitLimit bounds every wait for something a Wait should do: generous,
// since a loaded CI machine (or -race) may be slow, and a hang is what it
// catches.
const waitLimit = 10 * time.Second

func TestParseWaitTarget(t *testing.T) {
	long := "/" + strings.Repeat("s", 120)
	for _, tc := range []struct {
		name     string
		in, dir  string
		wantKind waitKind
		wantAddr string
		wantErr  string // the whole message; "" = valid
	}{
		{"a tcp address", "tcp://127.0.0.1:5432", "/", waitTCP, "127.0.0.1:5432", ""},
		{"a tcp address with an IPv6 host", "tcp://[::1]:5432", "/", waitTCP, "[::1]:5432", ""},
		{"a tcp address with a name, the scheme in capitals", "TCP://db:5432", "/", waitTCP, "db:5432", ""},
		{"an http URL with a port and a path", "http://127.0.0.1:8080/ready", "/", waitHTTP, "http://127.0.0.1:8080/ready", ""},
		{"a tcp address with an empty host, the local system", "tcp://:5432", "/", waitTCP, ":5432", ""},
		{"an http URL without a port", "http://db/healthz?full=1", "/", waitHTTP, "http://db/healthz?full=1", ""},
		{"an http URL without a path", "http://db:8080", "/", waitHTTP, "http://db:8080", ""},
		{"an absolute unix socket", "unix:/run/x.sock", "/srv", waitUnix, "/run/x.sock", ""},
		{"a relative unix socket resolves against the start directory", "unix:run/x.sock", "/srv", waitUnix, "/srv/run/x.sock", ""},
		{"an abstract unix socket stays as it is", "unix:@x", "/srv", waitUnix, "@x", ""},
		{"unix:/// is the absolute path", "unix:///run/x.sock", "/srv", waitUnix, "/run/x.sock", ""},
		{"an absolute file", "file:/run/ready", "/srv", waitFile, "/run/ready", ""},
		{"a relative file resolves against the start directory", "file:ready", "/srv", waitFile, "/srv/ready", ""},
		{"a relative file may climb out of it", "file:../ready", "/srv", waitFile, "/ready", ""},
		{"file:/// is the absolute path", "file:///run/ready", "/srv", waitFile, "/run/ready", ""},
		{"no start directory leaves a relative path relative", "file:ready", "", waitFile, "ready", ""},

		{"https is refused", "https://x:443/", "/", 0, "", `"https://x:443/": https is not supported (tinit carries no TLS): use tcp://HOST:PORT for a TLS-only dependency`},
		{"an unknown scheme", "ftp://x", "/", 0, "", `"ftp://x": want tcp://HOST:PORT, http://HOST[:PORT]/PATH, unix:PATH or file:PATH`},
		{"no scheme at all", "db", "/", 0, "", `"db": want tcp://HOST:PORT, http://HOST[:PORT]/PATH, unix:PATH or file:PATH`},
		{"HOST:PORT without tcp://", "localhost:5432", "/", 0, "", `"localhost:5432": want tcp://HOST:PORT, http://HOST[:PORT]/PATH, unix:PATH or file:PATH`},
		{"the empty string", "", "/", 0, "", `"": want tcp://HOST:PORT, http://HOST[:PORT]/PATH, unix:PATH or file:PATH`},
		{"tcp without the slashes", "tcp:db:5432", "/", 0, "", `"tcp:db:5432": want tcp://HOST:PORT`},
		{"tcp without a port", "tcp://db", "/", 0, "", `"tcp://db": no port: want tcp://HOST:PORT`},
		{"tcp port 0", "tcp://db:0", "/", 0, "", `"tcp://db:0": port "0" is not a number from 1 to 65535`},
		{"tcp port 65536", "tcp://db:65536", "/", 0, "", `"tcp://db:65536": port "65536" is not a number from 1 to 65535`},
		{"a named tcp port", "tcp://db:postgres", "/", 0, "", `"tcp://db:postgres": port "postgres" is not a number from 1 to 65535`},
		{"a path after a tcp port", "tcp://db:5432/x", "/", 0, "", `"tcp://db:5432/x": port "5432/x" is not a number from 1 to 65535`},
		{"http without a host", "http:///ready", "/", 0, "", `"http:///ready": no host: want http://HOST[:PORT]/PATH`},
		{"http port 99999", "http://db:99999/", "/", 0, "", `"http://db:99999/": port "99999" is not a number from 1 to 65535`},
		{"an http port that is not a number", "http://db:abc/", "/", 0, "", `"http://db:abc/": invalid port ":abc" after host: want http://HOST[:PORT]/PATH`},
		{"unix without a path", "unix:", "/", 0, "", `"unix:": empty path: want unix:PATH`},
		{"file without a path", "file:", "/", 0, "", `"file:": empty path: want file:PATH`},
		{"file:// with a host", "file://run/ready", "/", 0, "", `"file://run/ready": want file:PATH or file:///ABSOLUTE/PATH (no host)`},
		{"a path with a NUL byte", "file:a\x00b", "/", 0, "", `"file:a\x00b": the path has a NUL byte`},
		{"a socket path too long for an address", "unix:" + long, "/", 0, "", `"unix:` + long + `": socket path "` + long + `" is 121 bytes, over the 107 a unix socket address holds`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWaitTarget(tc.in, tc.dir)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error %v,\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v, want none", err)
			}
			if got.kind != tc.wantKind || got.addr != tc.wantAddr || got.String() != tc.in {
				t.Errorf("got kind %d addr %q string %q, want kind %d addr %q string %q", got.kind, got.addr, got.String(), tc.wantKind, tc.wantAddr, tc.in)
			}
		})
	}
}

// newTestWait parses targets against dir and returns a Wait that tries
// every 20 ms (the pace is not what these tests are about) and is stopped
// when the test ends.
func newTestWait(t *testing.T, dir string, targets ...string) *Wait {
	t.Helper()
	var ts []WaitTarget
	for _, s := range targets {
		wt, err := ParseWaitTarget(s, dir)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, wt)
	}
	w := NewWait(ts, nil)
	w.every = 20 * time.Millisecond
	t.Cleanup(w.Stop)
	return w
}

// eventually polls cond until it holds, failing the test after waitLimit
// with what, and the wait's failing targets when w is not nil.
func eventually(t *testing.T, w *Wait, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			failing := []string(nil)
			if w != nil {
				failing = w.Failing()
			}
			t.Fatalf("after %v: %s did not happen; failing: %q", waitLimit, what, failing)
		}
	}
}

// failingSays waits until target's line in w.Failing says why.
func failingSays(t *testing.T, w *Wait, target, why string) {
	t.Helper()
	eventually(t, w, target+" failing with "+why, func() bool {
		return slices.Contains(w.Failing(), target+": "+why)
	})
}

// wantDone waits for done to close.
func wantDone(t *testing.T, w *Wait, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatalf("the wait did not end within %v; failing: %q", waitLimit, w.Failing())
	}
	if f := w.Failing(); len(f) != 0 {
		t.Errorf("every target held but Failing says %q", f)
	}
	if r := w.Result(); r.End.IsZero() || r.End.Before(r.Start) {
		t.Errorf("a finished round has start %v, end %v", r.Start, r.End)
	}
}

// wantNotDone checks that done is still open.
func wantNotDone(t *testing.T, done <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-done:
		t.Fatalf("the wait ended, but %s", why)
	default:
	}
}

func TestWaitForATCPPortThatOpensLater(t *testing.T) {
	addr := closedPort(t)
	target := "tcp://" + addr
	w := newTestWait(t, "/", target)
	done := w.Start()
	failingSays(t, w, target, "connection refused")
	wantNotDone(t, done, "nothing listens")

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	defer l.Close()
	wantDone(t, w, done)
	if r := w.Result(); len(r.Targets) != 1 || !r.Targets[0].Held || r.Targets[0].Err != "" {
		t.Errorf("result %+v, want the one target held", r.Targets)
	}
}

func TestWaitForHTTPWantsA2xx(t *testing.T) {
	var ready atomic.Bool
	var followed atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/moved":
			// Where a redirect-follower would find a 200.
			http.Redirect(w, r, elsewhere.URL+"/", http.StatusMovedPermanently)
		case ready.Load():
			w.WriteHeader(200)
		default:
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()

	t.Run("503 waits, then 200 holds", func(t *testing.T) {
		target := srv.URL + "/ready"
		w := newTestWait(t, "/", target)
		done := w.Start()
		failingSays(t, w, target, "status 503")
		wantNotDone(t, done, "the server answers 503")
		ready.Store(true)
		wantDone(t, w, done)
	})
	t.Run("a 301 does not hold and is not followed", func(t *testing.T) {
		target := srv.URL + "/moved"
		w := newTestWait(t, "/", target)
		done := w.Start()
		failingSays(t, w, target, "status 301")
		wantNotDone(t, done, "a redirect is not a 2xx")
		if n := followed.Load(); n != 0 {
			t.Errorf("the redirect was followed %d times", n)
		}
	})
}

// unixDir is a short directory for sockets: a t.TempDir path with a long
// test name can pass the 107 bytes a socket address holds.
func unixDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestWaitForAUnixSocketWantsAListener(t *testing.T) {
	dir := unixDir(t)
	const target = "unix:app.sock" // relative: resolved against dir
	path := filepath.Join(dir, "app.sock")
	w := newTestWait(t, dir, target)
	done := w.Start()
	failingSays(t, w, target, "no such file or directory")

	// A socket file left by a server that has gone: nobody accepts.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the socket file should stay: %v", err)
	}
	failingSays(t, w, target, "connection refused")
	wantNotDone(t, done, "nobody accepts on the socket")

	os.Remove(path)
	l, err = net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	wantDone(t, w, done)
}

func TestWaitForAFileThatAppears(t *testing.T) {
	dir := t.TempDir()
	const target = "file:ready"
	w := newTestWait(t, dir, target)
	done := w.Start()
	failingSays(t, w, target, "no such file or directory")
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantDone(t, w, done)
}

func TestFailingNamesEachTargetNotHeldInOrder(t *testing.T) {
	dir := t.TempDir()
	hung := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hung }))
	defer srv.Close()
	defer close(hung)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	refused := "tcp://" + closedPort(t)
	open := "tcp://" + l.Addr().String()
	w := newTestWait(t, dir, refused, "file:missing", open, srv.URL+"/slow", refused)
	w.attempt = 100 * time.Millisecond

	if got, want := w.Failing(), []string{
		refused + ": not tried yet",
		"file:missing: not tried yet",
		open + ": not tried yet",
		srv.URL + "/slow: not tried yet",
	}; !slices.Equal(got, want) {
		t.Errorf("before Start, Failing is\n  %q\nwant (a target given twice once)\n  %q", got, want)
	}
	w.Start()
	want := []string{
		refused + ": connection refused",
		"file:missing: no such file or directory",
		srv.URL + "/slow: timed out after 100ms",
	}
	eventually(t, w, "every target's outcome", func() bool { return slices.Equal(w.Failing(), want) })
}

// waitGoroutines counts the goroutines of Wait: target loops and the stats
// of file: attempts.
func waitGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "healthz.(*Wait).try") || strings.Contains(g, "healthz.(*Wait).attemptOnce") {
			count++
		}
	}
	return count
}

func TestStopEndsTheRoundsGoroutines(t *testing.T) {
	hung := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hung }))
	defer srv.Close()
	defer close(hung)
	before := waitGoroutines()
	slow := srv.URL + "/"
	w := newTestWait(t, t.TempDir(), "tcp://"+closedPort(t), "file:missing", slow)
	w.attempt = time.Hour // the http attempt is in progress when Stop comes
	done := w.Start()
	eventually(t, w, "three goroutines trying", func() bool { return waitGoroutines() >= before+3 })
	eventually(t, w, "a first attempt", func() bool { return !slices.Contains(w.Failing(), "file:missing: not tried yet") })

	stopped := make(chan struct{})
	go func() { w.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(waitLimit):
		t.Fatalf("Stop did not return within %v with an attempt in progress", waitLimit)
	}
	if n := waitGoroutines() - before; n != 0 {
		t.Errorf("%d of the wait's goroutines still run after Stop", n)
	}
	wantNotDone(t, done, "the round was stopped, not finished")
	r := w.Result()
	if r.End.IsZero() {
		t.Error("a stopped round has no end")
	}
	if f := w.Failing(); len(f) != 3 || !strings.HasPrefix(f[2], slow+": no answer after ") {
		t.Errorf("Failing after Stop is %q, want the three targets, the one cut short in its first attempt with no answer after some time", f)
	}
	w.Stop() // again: nothing to do
}

func TestStartAgainBeginsFromScratch(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w := newTestWait(t, dir, "file:ready")
	wantDone(t, w, w.Start())
	first := w.Result()

	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}
	done := w.Start()
	r := w.Result()
	if r.Targets[0].Held || !r.End.IsZero() || r.Start.Before(first.End) {
		t.Errorf("a new round starts with %+v, start %v end %v; want the target not held, no end, a start after the last round's end %v", r.Targets, r.Start, r.End, first.End)
	}
	failingSays(t, w, "file:ready", "no such file or directory")
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantDone(t, w, done)
}

func TestNoTargetsIsNoWait(t *testing.T) {
	w := NewWait(nil, nil)
	select {
	case <-w.Start():
	default:
		t.Fatal("Start with no targets returned a channel that is not closed")
	}
	w.Stop()
	if f, r := w.Failing(), w.Result(); len(f) != 0 || len(r.Targets) != 0 {
		t.Errorf("no targets, yet Failing %q and result %+v", f, r)
	}
}

func TestShareStatPutsTheWaitBehindTheChecksGate(t *testing.T) {
	dir := t.TempDir()
	checks := NewChecks(CheckConfig{File: []string{dir}}, nil)
	w := newTestWait(t, dir, "file:.")
	w.attempt = 50 * time.Millisecond
	checks.ShareStat(w)
	checks.stat <- struct{}{} // a check's stat, hung on a dead mount
	done := w.Start()
	failingSays(t, w, "file:.", "timed out after 50ms")
	wantNotDone(t, done, "the gate is held")
	<-checks.stat
	wantDone(t, w, done)

	var none *Checks
	none.ShareStat(w) // no checks: the wait keeps its gate
}
