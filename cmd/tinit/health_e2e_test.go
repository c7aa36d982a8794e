package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get fetches a health path; code -1 means no answer.
func get(port int, path string) (int, string) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitCode polls path until it answers want, or fails after timeout.
func waitCode(t *testing.T, port int, path string, want int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var code int
	var body string
	for time.Now().Before(deadline) {
		if code, body = get(port, path); code == want {
			return body
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s answered %d %q, want %d within %v", path, code, body, want, timeout)
	return ""
}

func TestHealthThroughStartBackoffDrainAndExit(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	// Run 1 waits for CRASH, then exits 3; run 2 stops cleanly on TERM.
	script := fmt.Sprintf(`n=$(cat %[1]s/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s/n
if [ $n -eq 1 ]; then while [ ! -e %[1]s/crash ]; do sleep 0.02; done; exit 3; fi
trap 'echo got TERM > %[1]s/term; exit 0' TERM; while :; do sleep 0.02; done`, dir)
	r := startTinit(t, nil, "--health-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--restart", "on-failure", "--backoff", "1500ms", "--drain", "700ms", "--", "/bin/sh", "-c", script)

	t.Run("running: live and ready", func(t *testing.T) {
		waitCode(t, port, "/readyz", 200, 10*time.Second)
		waitCode(t, port, "/healthz", 200, time.Second)
	})
	t.Run("backoff: live, not ready", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "crash"), nil, 0o644)
		body := waitCode(t, port, "/readyz", 503, 2*time.Second)
		if !strings.Contains(body, "backoff") {
			t.Errorf("readyz during backoff says %q", body)
		}
		if code, body := get(port, "/healthz"); code != 200 {
			t.Errorf("healthz during backoff: %d %q", code, body)
		}
	})
	t.Run("restarted: ready again", func(t *testing.T) {
		waitCode(t, port, "/readyz", 200, 5*time.Second)
	})
	t.Run("drain: not ready at once, the child hears TERM only after --drain", func(t *testing.T) {
		start := time.Now()
		r.signal(syscall.SIGTERM)
		waitCode(t, port, "/readyz", 503, 300*time.Millisecond)
		if _, err := os.Stat(filepath.Join(dir, "term")); err == nil {
			t.Fatal("the child got SIGTERM before --drain was over")
		}
		if code := r.exitCode(10 * time.Second); code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		if took := time.Since(start); took < 700*time.Millisecond {
			t.Fatalf("exited %v after SIGTERM, before --drain 700ms", took)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "term")); string(b) != "got TERM\n" {
			t.Fatalf("the child never got the drained SIGTERM: %q", b)
		}
	})
	t.Run("exited: nothing answers", func(t *testing.T) {
		if code, _ := get(port, "/healthz"); code != -1 {
			t.Fatalf("healthz answered %d after tinit exited", code)
		}
	})
}

func TestReadinessFollowsACheckTCPPort(t *testing.T) {
	app, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	appAddr := app.Addr().String()
	port := freePort(t)
	r := startTinit(t, nil, "--health-addr", fmt.Sprintf(":%d", port), "--check-tcp", appAddr,
		"--check-interval", "100ms", "--", "/bin/sleep", "1000")
	waitCode(t, port, "/readyz", 200, 10*time.Second)
	app.Close()
	if body := waitCode(t, port, "/readyz", 503, 3*time.Second); !strings.Contains(body, appAddr) {
		t.Errorf("readyz with the port closed says %q, want it to name %s", body, appAddr)
	}
	waitCode(t, port, "/healthz", 200, time.Second) // --check-fail-after is off
	app, err = net.Listen("tcp", appAddr)
	if err != nil {
		t.Fatalf("reopen %s: %v", appAddr, err)
	}
	defer app.Close()
	waitCode(t, port, "/readyz", 200, 3*time.Second)
	r.signal(syscall.SIGTERM)
	r.exitCode(10 * time.Second)
}

// metric reads one sample from a /metrics body.
func metric(t *testing.T, body, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in metrics:\n%s", series, body)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestMetricsMoveWithRealEvents(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	// Run 1 crashes; run 2 makes 5 orphans, traps USR1 and says ready.
	script := fmt.Sprintf(`n=$(cat %[1]s/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s/n
[ $n -eq 1 ] && exit 7
for i in 1 2 3 4 5; do (sleep 0 &); done
trap 'echo usr1 >> %[1]s/usr1' USR1; touch %[1]s/ready; while :; do sleep 0.02; done`, dir)
	r := startTinit(t, nil, "--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--restart", "on-failure",
		"--backoff", "10ms", "--", "/bin/sh", "-c", script)
	waitFile(t, filepath.Join(dir, "ready"))
	for i := 0; i < 3; i++ {
		r.signal(syscall.SIGUSR1)
		time.Sleep(150 * time.Millisecond) // apart, so they do not coalesce
	}
	_, body := get(port, "/metrics")
	for series, want := range map[string]float64{
		"tinit_child_up":                                  1,
		"tinit_child_restarts_total":                      1,
		"tinit_child_last_exit_code":                      7,
		`tinit_signals_forwarded_total{signal="SIGUSR1"}`: 3,
	} {
		if got := metric(t, body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := metric(t, body, "tinit_zombies_reaped_total"); got < 5 {
		t.Errorf("tinit_zombies_reaped_total = %v, want at least 5", got)
	}
	if age := metric(t, body, "tinit_heartbeat_age_seconds"); age < 0 || age > 3 {
		t.Errorf("tinit_heartbeat_age_seconds = %v with the default 1s heartbeat", age)
	}
	r.signal(syscall.SIGTERM)
	r.exitCode(10 * time.Second)
}

func TestHeartbeatUsesSetitimer(t *testing.T) {
	requireNamespace(t)
	if _, err := exec.LookPath("strace"); err != nil {
		unavailable(t, "strace is needed to see the setitimer call (apt-get install strace)")
	}
	trace := filepath.Join(t.TempDir(), "trace")
	run := func(heartbeat string) string {
		t.Helper()
		argv := append(append([]string{"strace", "-f", "-e", "trace=setitimer", "-o", trace}, asPID1...),
			tinitBin, "--heartbeat", heartbeat, "--", "/bin/sleep", "0.5")
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		b, _ := os.ReadFile(trace)
		return string(b)
	}
	t.Run("--heartbeat 100ms arms ITIMER_REAL and ticks arrive", func(t *testing.T) {
		tr := run("100ms")
		if !strings.Contains(tr, "setitimer(ITIMER_REAL, {it_interval={tv_sec=0, tv_usec=100000}, it_value={tv_sec=0, tv_usec=100000}}") {
			t.Fatalf("no setitimer(ITIMER_REAL, 100ms) in the trace:\n%s", tr)
		}
		if n := strings.Count(tr, "SIGALRM"); n < 3 {
			t.Fatalf("%d SIGALRM in 0.5s at 100ms", n)
		}
	})
	t.Run("--heartbeat 0 arms nothing", func(t *testing.T) {
		if tr := run("0"); strings.Contains(tr, "setitimer(") {
			t.Fatalf("a timer was armed with --heartbeat 0:\n%s", tr)
		}
	})
}

func TestSIGALRMIsForwardedWithTheHeartbeatOff(t *testing.T) {
	alrm := filepath.Join(t.TempDir(), "alrm")
	r := startTinit(t, nil, "--heartbeat", "0", "--", "/bin/sh", "-c", `trap "echo alrm > `+alrm+`" ALRM; echo ready; while :; do sleep 0.02; done`)
	r.line(10 * time.Second)
	r.signal(syscall.SIGALRM)
	waitFile(t, alrm)
	r.signal(syscall.SIGTERM)
	r.exitCode(10 * time.Second)
}

func TestTheChildInheritsNoSocket(t *testing.T) {
	port := freePort(t)
	r := startTinit(t, nil, "--health-addr", fmt.Sprintf(":%d", port), "--", "/bin/sh", "-c", "sleep 0.3; ls -l /proc/$$/fd")
	out, _ := io.ReadAll(r.stdout)
	r.exitCode(10 * time.Second)
	if strings.Contains(string(out), "socket:") || !strings.Contains(string(out), "0 ->") {
		t.Fatalf("the child's fds:\n%s", out)
	}
}

// stopTime measures SIGTERM to exit of a tinit serving health, with idle
// connections held open to its port.
func stopTime(t *testing.T, idle int) time.Duration {
	t.Helper()
	port := freePort(t)
	r := startTinit(t, nil, "--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--", "/bin/sh", "-c",
		`trap "exit 0" TERM; echo ready; while :; do sleep 0.01; done`)
	r.line(10 * time.Second)
	waitCode(t, port, "/healthz", 200, 5*time.Second)
	for i := 0; i < idle; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	return time.Since(start)
}

func TestIdleConnectionsDoNotDelayExit(t *testing.T) {
	var without, with []time.Duration
	for i := 0; i < 3; i++ {
		without = append(without, stopTime(t, 0))
		with = append(with, stopTime(t, 100))
	}
	median := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	if a, b := median(without), median(with); b > a+100*time.Millisecond {
		t.Fatalf("SIGTERM to exit: %v with 100 idle connections, %v without", b, a)
	}
}

func TestHealthAddrProblemsStopBeforeTheChild(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	marker := filepath.Join(t.TempDir(), "ran")
	for _, addr := range []string{busy.Addr().String(), "127.0.0.1:0", "nonsense", "256.1.1.1:80"} {
		t.Run(addr, func(t *testing.T) {
			r := startTinit(t, nil, "--health-addr", addr, "--", "/bin/sh", "-c", "touch "+marker)
			if code := r.exitCode(10 * time.Second); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
			if !strings.Contains(r.stderr.String(), addr) {
				t.Errorf("stderr %q does not name %q", r.stderr, addr)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the child ran")
			}
		})
	}
}

func TestHealthcheckMode(t *testing.T) {
	port := freePort(t)
	check := func(env ...string) int {
		cmd := exec.Command(tinitBin, "--healthcheck")
		cmd.Env = append(os.Environ(), env...)
		return exitCodeOf(t, cmd.Run())
	}
	addr := fmt.Sprintf("TINIT_HEALTH_ADDR=:%d", port)
	if code := check(addr); code != 1 {
		t.Fatalf("nothing listening: exit %d, want 1", code)
	}
	r := startTinit(t, nil, "--health-addr", fmt.Sprintf(":%d", port), "--", "/bin/sleep", "1000")
	waitCode(t, port, "/healthz", 200, 10*time.Second)
	if code := check(addr); code != 0 {
		t.Fatalf("healthy tinit: exit %d, want 0", code)
	}
	for _, bad := range []string{"TINIT_HEALTH_ADDR=nonsense", "TINIT_HEALTH_ADDR="} {
		if code := check(bad); code != 1 {
			t.Errorf("%s: exit %d, want 1 (never 2: Docker reserves it)", bad, code)
		}
	}
	r.signal(syscall.SIGTERM)
	r.exitCode(10 * time.Second)
}

// An app that takes longer to open its port than --check-fail-after stays
// alive through --check-start-period: only failures after it count.
func TestTheStartPeriodKeepsASlowAppAlive(t *testing.T) {
	closed := freePort(t) // nothing listens there
	run := func(t *testing.T, startPeriod string) (port int, r *run) {
		port = freePort(t)
		r = startTinit(t, nil, "--health-addr", fmt.Sprintf("127.0.0.1:%d", port),
			"--check-tcp", fmt.Sprintf("127.0.0.1:%d", closed), "--check-interval", "100ms",
			"--check-fail-after", "1s", "--check-start-period", startPeriod, "--", "/bin/sleep", "1000")
		waitCode(t, port, "/readyz", 503, 10*time.Second)
		t.Cleanup(func() { r.signal(syscall.SIGTERM); r.exitCode(10 * time.Second) })
		return port, r
	}
	t.Run("without a start period liveness fails after --check-fail-after", func(t *testing.T) {
		port, _ := run(t, "0")
		waitCode(t, port, "/healthz", 503, 5*time.Second)
	})
	t.Run("with --check-start-period 3s it holds for the start period, then fails", func(t *testing.T) {
		port, _ := run(t, "3s")
		start := time.Now()
		// Well past --check-fail-after, inside the start period.
		time.Sleep(1500 * time.Millisecond)
		if code, body := get(port, "/healthz"); code != 200 {
			t.Fatalf("/healthz %d %q 1.5s after start, within the 3s start period; want 200", code, body)
		}
		if code, _ := get(port, "/readyz"); code != 503 {
			t.Fatalf("/readyz %d during the start period with the check failing; want 503", code)
		}
		waitCode(t, port, "/healthz", 503, 10*time.Second)
		if took := time.Since(start); took < 2*time.Second {
			t.Fatalf("/healthz failed %v after start: want the 3s start period plus the 1s --check-fail-after", took)
		}
	})
}
