package main_test

// End-to-end tests of --wait-for (issue 22): tinit as PID 1 holds its
// child back until every target has held once, gives up with 124 after
// --wait-timeout, ends the wait at once on a stop signal and drops the
// other signals, and with --wait-on-restart waits again before a restart.
// The targets are served by the test process itself on 127.0.0.1: the PID
// namespace tinit runs in shares the test's network namespace.

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitSettle is how long a test lets tinit try a target that does not
// hold before it looks: two tries at the 500 ms period, and a margin.
const waitSettle = 1500 * time.Millisecond

// stampScript is a child that writes the wall clock, in nanoseconds, to
// the file $1 as its first act, and exits 0.
const stampScript = `date +%s%N > "$1"`

// readStamp reads the time the stamp child wrote; ok is false while no
// child has run.
func readStamp(path string) (time.Time, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// closedPort returns a loopback port nothing listens on: a connection to
// it is refused.
func closedPort(t *testing.T) int {
	t.Helper()
	return freePort(t)
}

// statusServer is an HTTP server on 127.0.0.1 whose /ready answers the
// status held in code; a 3xx redirects to /ok, which answers 200, so that
// a client that followed redirects would see success.
func statusServer(t *testing.T, code int) (srv *httptest.Server, set func(int)) {
	t.Helper()
	var status atomic.Int32
	status.Store(int32(code))
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		c := int(status.Load())
		if c >= 300 && c < 400 {
			http.Redirect(w, r, "/ok", c)
			return
		}
		w.WriteHeader(c)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, func(c int) { status.Store(int32(c)) }
}

// shortDir is a directory named without the test's name: a t.TempDir
// path named after a long test can pass the 108 bytes a unix socket's
// sun_path holds, and a comma in a test's name would split it in a
// TINIT_* list variable.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// deadSocket leaves a socket file at path that nobody accepts on: a
// connect is refused, as after a server's crash.
func deadSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
}

// listen opens a listener on network and address and closes it when the
// test ends.
func listen(t *testing.T, network, addr string) {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { l.Close() })
}

// failingLine returns the line of stderr that names target together with
// reason, or "".
func failingLine(stderr, target, reason string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, target) && strings.Contains(line, reason) {
			return line
		}
	}
	return ""
}

func TestWaitForHoldsTheChildBackUntilTheTargetHolds(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the --wait-for value(s), not holding yet, and
		// hold, which makes them hold. dir is tinit's starting directory.
		setup func(t *testing.T, dir string) (targets []string, hold func())
	}{
		{"a TCP port that opens after a while", func(t *testing.T, dir string) ([]string, func()) {
			port := closedPort(t)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			return []string{"tcp://" + addr}, func() { listen(t, "tcp", addr) }
		}},
		{"an HTTP path that answers 503, then 200", func(t *testing.T, dir string) ([]string, func()) {
			srv, set := statusServer(t, http.StatusServiceUnavailable)
			return []string{srv.URL + "/ready"}, func() { set(http.StatusOK) }
		}},
		{"an HTTP path that answers 301 to a 200, then 200: a redirect does not count", func(t *testing.T, dir string) ([]string, func()) {
			srv, set := statusServer(t, http.StatusMovedPermanently)
			return []string{srv.URL + "/ready"}, func() { set(http.StatusOK) }
		}},
		{"a file that appears, relative to the directory tinit started in", func(t *testing.T, dir string) ([]string, func()) {
			return []string{"file:ready.flag"}, func() {
				if err := os.WriteFile(filepath.Join(dir, "ready.flag"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"a unix socket that refuses, then accepts", func(t *testing.T, dir string) ([]string, func()) {
			sock := filepath.Join(shortDir(t), "s.sock")
			deadSocket(t, sock)
			return []string{"unix:" + sock}, func() {
				os.Remove(sock)
				listen(t, "unix", sock)
			}
		}},
		{"two targets: the one that holds first waits for the other", func(t *testing.T, dir string) ([]string, func()) {
			held := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
			listen(t, "tcp", held)
			late := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
			return []string{"tcp://" + held, "tcp://" + late}, func() { listen(t, "tcp", late) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stamp := filepath.Join(t.TempDir(), "started")
			targets, hold := tt.setup(t, dir)
			var args []string
			for _, target := range targets {
				args = append(args, "--wait-for", target)
			}
			args = append(args, "--", "/bin/sh", "-c", stampScript, "sh", stamp)
			r := startTinitIn(t, dir, nil, args...)
			time.Sleep(waitSettle)
			if !r.running() {
				t.Fatalf("tinit exited %d before the target held; stderr:\n%s", exitCodeOf(t, r.err), r.stderr)
			}
			if _, ran := readStamp(stamp); ran {
				t.Fatalf("the child started before %v held; stderr:\n%s", targets, r.stderr)
			}
			heldAt := time.Now()
			hold()
			if code := r.exitCode(15 * time.Second); code != 0 {
				t.Fatalf("exit %d, want the child's 0; stderr:\n%s", code, r.stderr)
			}
			started, ran := readStamp(stamp)
			if !ran {
				t.Fatalf("the child never ran; stderr:\n%s", r.stderr)
			}
			if started.Before(heldAt) {
				t.Fatalf("the child started %v before %v held", heldAt.Sub(started), targets)
			}
		})
	}
}

func TestWaitTimeoutExits124NamingEachFailingTarget(t *testing.T) {
	type failing struct{ target, reason string }
	tests := []struct {
		name string
		// setup returns the variables and flags for tinit, and the targets
		// that must be named with their last error.
		setup func(t *testing.T, dir string) (env, flags []string, want []failing)
	}{
		{"a closed port: connection refused", func(t *testing.T, dir string) ([]string, []string, []failing) {
			target := fmt.Sprintf("tcp://127.0.0.1:%d", closedPort(t))
			return nil, []string{"--wait-for", target}, []failing{{target, "connection refused"}}
		}},
		{"an HTTP path that answers 503", func(t *testing.T, dir string) ([]string, []string, []failing) {
			srv, _ := statusServer(t, http.StatusServiceUnavailable)
			target := srv.URL + "/ready"
			return nil, []string{"--wait-for", target}, []failing{{target, "503"}}
		}},
		{"an HTTP path that answers 301: a redirect is not followed", func(t *testing.T, dir string) ([]string, []string, []failing) {
			srv, _ := statusServer(t, http.StatusMovedPermanently)
			target := srv.URL + "/ready"
			return nil, []string{"--wait-for", target}, []failing{{target, "301"}}
		}},
		{"a unix socket nobody accepts on: connection refused", func(t *testing.T, dir string) ([]string, []string, []failing) {
			sock := filepath.Join(shortDir(t), "s.sock")
			deadSocket(t, sock)
			target := "unix:" + sock
			return nil, []string{"--wait-for", target}, []failing{{target, "connection refused"}}
		}},
		{"a missing file: no such file or directory", func(t *testing.T, dir string) ([]string, []string, []failing) {
			return nil, []string{"--wait-for", "file:never.flag"}, []failing{{"file:never.flag", "no such file or directory"}}
		}},
		{"two failing targets and one that holds: a line for each that failed", func(t *testing.T, dir string) ([]string, []string, []failing) {
			if err := os.WriteFile(filepath.Join(dir, "here.flag"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			port := fmt.Sprintf("tcp://127.0.0.1:%d", closedPort(t))
			return nil, []string{"--wait-for", port, "--wait-for", "file:here.flag", "--wait-for", "file:never.flag"},
				[]failing{{port, "connection refused"}, {"file:never.flag", "no such file or directory"}}
		}},
		{"TINIT_WAIT_FOR is split at commas, TINIT_WAIT_TIMEOUT is read", func(t *testing.T, dir string) ([]string, []string, []failing) {
			port := fmt.Sprintf("tcp://127.0.0.1:%d", closedPort(t))
			return []string{"TINIT_WAIT_FOR=" + port + ",file:never.flag", "TINIT_WAIT_TIMEOUT=1s"}, nil,
				[]failing{{port, "connection refused"}, {"file:never.flag", "no such file or directory"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(t.TempDir(), "ran")
			env, flags, want := tt.setup(t, dir)
			if env == nil {
				flags = append(flags, "--wait-timeout", "1s")
			}
			start := time.Now()
			r := startTinitIn(t, dir, env, append(flags, "--", "/bin/sh", "-c", "touch "+marker)...)
			code := r.exitCode(15 * time.Second)
			took := time.Since(start)
			if code != 124 {
				t.Fatalf("exit %d, want 124; stderr:\n%s", code, r.stderr)
			}
			// A lower bound only: tinit may not give up before the timeout.
			if took < time.Second {
				t.Errorf("tinit gave up after %v, before the 1s --wait-timeout", took.Round(time.Millisecond))
			}
			for _, f := range want {
				if failingLine(r.stderr.String(), f.target, f.reason) == "" {
					t.Errorf("no line of stderr names %s with %q:\n%s", f.target, f.reason, r.stderr)
				}
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the child ran although the wait timed out")
			}
		})
	}
}

func TestStopSignalEndsTheWaitAtOnce(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		want int
	}{
		{syscall.SIGTERM, 143},
		{syscall.SIGINT, 130},
		{syscall.SIGQUIT, 131},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s ends tinit with %d and no child ever starts", unix.SignalName(tt.sig), tt.want), func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			target := fmt.Sprintf("tcp://127.0.0.1:%d", closedPort(t))
			port := freePort(t)
			// No --wait-timeout: the wait would last for ever.
			r := startTinit(t, nil, "--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--wait-for", target,
				"--", "/bin/sh", "-c", "touch "+marker)
			// /readyz naming the target says tinit is in the wait.
			if body := waitCode(t, port, "/readyz", 503, 10*time.Second); !strings.Contains(body, target) {
				t.Fatalf("/readyz while waiting says %q, want it to name %s", body, target)
			}
			start := time.Now()
			r.signal(tt.sig)
			code := r.exitCode(10 * time.Second)
			if took := time.Since(start); code != tt.want || took > 3*time.Second {
				t.Fatalf("exit %d %v after %s, want %d at once; stderr:\n%s", code, took.Round(time.Millisecond), unix.SignalName(tt.sig), tt.want, r.stderr)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("a child ran")
			}
		})
	}
}

func TestWhileWaiting(t *testing.T) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	target := "tcp://" + addr
	rec := filepath.Join(t.TempDir(), "rec")
	a, env := recordArgs(rec, "HUP", "USR1", "TERM!")
	start := time.Now()
	r := startTinit(t, []string{env}, append([]string{"--health-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--wait-for", target, "--"}, a...)...)
	up := fmt.Sprintf("tinit_wait_target_up{target=%q}", target)

	t.Run("/readyz is 503 naming the target, /healthz 200, the target's gauge 0", func(t *testing.T) {
		if body := waitCode(t, port, "/readyz", 503, 10*time.Second); !strings.Contains(body, target) {
			t.Errorf("/readyz while waiting says %q, want it to name %s", body, target)
		}
		if code, body := get(port, "/healthz"); code != 200 {
			t.Errorf("/healthz while waiting: %d %q, want 200", code, body)
		}
		got := scrapeSeries(t, port)
		if v, ok := got[up]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v) while waiting, want 0", up, v, ok)
		}
		if _, ok := got["tinit_wait_seconds"]; !ok {
			t.Errorf("no tinit_wait_seconds while waiting; series: %v", got)
		}
	})
	t.Run("SIGHUP and SIGUSR1 are dropped: tinit keeps waiting", func(t *testing.T) {
		r.signal(syscall.SIGHUP)
		time.Sleep(100 * time.Millisecond)
		r.signal(syscall.SIGUSR1)
		time.Sleep(waitSettle)
		if !r.running() {
			t.Fatalf("tinit exited %d on a signal that is not a stop signal; stderr:\n%s", exitCodeOf(t, r.err), r.stderr)
		}
		if code, body := get(port, "/readyz"); code != 503 {
			t.Fatalf("/readyz %d %q: tinit no longer waits", code, body)
		}
	})
	t.Run("once the port opens the child starts and gets none of the dropped signals", func(t *testing.T) {
		listen(t, "tcp", addr)
		if got := r.line(10 * time.Second); got != "ready" {
			t.Fatalf("the child said %q", got)
		}
		waitCode(t, port, "/readyz", 200, 10*time.Second)
		time.Sleep(300 * time.Millisecond)
		if got := lines(rec); len(got) != 0 {
			t.Fatalf("the child recorded %q: a signal sent during the wait reached it", got)
		}
	})
	t.Run("the metrics say the target held, how long the wait was, and what was dropped", func(t *testing.T) {
		waited := time.Since(start).Seconds()
		got := scrapeSeries(t, port)
		if got[up] != 1 {
			t.Errorf("%s = %v after it held, want 1", up, got[up])
		}
		// Bounds only: the wait lasted at least the settle time and at
		// most the test so far.
		if v := got["tinit_wait_seconds"]; v < waitSettle.Seconds()/2 || v > waited+1 {
			t.Errorf("tinit_wait_seconds = %v, want between %v and %v", v, waitSettle.Seconds()/2, waited)
		}
		for _, sig := range []string{"SIGHUP", "SIGUSR1"} {
			s := fmt.Sprintf("tinit_signals_dropped_total{signal=%q}", sig)
			if got[s] != 1 {
				t.Errorf("%s = %v, want 1", s, got[s])
			}
		}
	})
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want the child's 0; stderr:\n%s", code, r.stderr)
	}
}

func TestHTTPSIsRefusedAtStart(t *testing.T) {
	const url = "https://127.0.0.1:8443/ready"
	tests := []struct {
		name, via string
		env, args []string
	}{
		{"--wait-for", "--wait-for", nil, []string{"--wait-for", url}},
		{"TINIT_WAIT_FOR", "TINIT_WAIT_FOR", []string{"TINIT_WAIT_FOR=tcp://127.0.0.1:1," + url}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name+" with an https URL is exit 2, one line naming it", func(t *testing.T) {
			wantUsageError(t, tt.env, tt.args, tt.via, url, "TLS")
		})
	}
}

func TestWaitOnRestart(t *testing.T) {
	// Run 1 takes the ready file away and crashes; run 2 exits 0.
	const script = `echo run >> runs; n=$(wc -l < runs); [ $n -eq 1 ] && { rm ready.flag; exit 1; }; exit 0`
	tests := []struct {
		name  string
		env   []string
		flags []string
		waits bool
	}{
		{"--wait-on-restart: the restart waits for the file again", nil, []string{"--wait-on-restart"}, true},
		{"TINIT_WAIT_ON_RESTART=true: the same", []string{"TINIT_WAIT_ON_RESTART=true"}, nil, true},
		{"without it the restart does not wait", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ready := filepath.Join(dir, "ready.flag")
			if err := os.WriteFile(ready, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			args := append(append([]string{"--restart", "on-failure", "--backoff", "10ms", "--wait-for", "file:ready.flag"},
				tt.flags...), "--", "/bin/sh", "-c", script)
			r := startTinitIn(t, dir, tt.env, args...)
			runs := func() int { return len(lines(filepath.Join(dir, "runs"))) }
			if !tt.waits {
				if code := r.exitCode(15 * time.Second); code != 0 || runs() != 2 {
					t.Fatalf("exit %d after %d runs, want 0 after 2; stderr:\n%s", code, runs(), r.stderr)
				}
				return
			}
			if !waitFor(10*time.Second, func() bool { return runs() >= 1 }) {
				t.Fatalf("run 1 never started; stderr:\n%s", r.stderr)
			}
			time.Sleep(waitSettle)
			if n := runs(); n != 1 || !r.running() {
				t.Fatalf("%d runs, tinit running %v, with the file gone: want 1 run and tinit waiting; stderr:\n%s", n, r.running(), r.stderr)
			}
			if err := os.WriteFile(ready, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if code := r.exitCode(15 * time.Second); code != 0 || runs() != 2 {
				t.Fatalf("exit %d after %d runs, want 0 after 2; stderr:\n%s", code, runs(), r.stderr)
			}
		})
	}
}
