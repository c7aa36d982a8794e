package main_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// notifyRun starts tinit --notify with a health endpoint over the notify
// helper running steps, and returns the run and the endpoint's port.
func notifyRun(t *testing.T, flags []string, steps ...string) (*run, int) {
	t.Helper()
	port := freePort(t)
	a, env := helper("notify", steps...)
	args := append([]string{"--notify", "--health-addr", fmt.Sprintf("127.0.0.1:%d", port)}, flags...)
	return startTinit(t, []string{env}, append(append(args, "--"), a...)...), port
}

// readyz is /readyz's status code.
func readyz(port int) int { code, _ := get(port, "/readyz"); return code }

// stop ends tinit with SIGTERM and wants want.
func (r *run) stop(want int) {
	r.t.Helper()
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(20 * time.Second); code != want {
		r.t.Fatalf("exit %d after SIGTERM, want %d; stderr:\n%s", code, want, r.stderr)
	}
}

func TestNotifyReadyAfterASecond(t *testing.T) {
	r, port := notifyRun(t, nil, "env", "print:started", "sleep:1s", "dial:READY=1\nSTATUS=serving", "print:sent", "wait")
	env := r.line(10 * time.Second)
	if !regexp.MustCompile(`^NOTIFY_SOCKET=@tinit-notify-[0-9a-f]{16} WATCHDOG_USEC=$`).MatchString(env) {
		t.Fatalf("the child's environment: %q", env)
	}
	r.line(10 * time.Second)
	waitCode(t, port, "/healthz", 200, 5*time.Second)
	if code, body := get(port, "/readyz"); code != 503 || !strings.Contains(body, "READY=1") {
		t.Fatalf("/readyz before READY=1: %d %q", code, body)
	}
	r.line(10 * time.Second)
	body := waitCode(t, port, "/readyz", 200, 5*time.Second)
	if !strings.Contains(body, "status: serving") {
		t.Errorf("/readyz body %q lacks the app's STATUS", body)
	}
	m := scrapeSeries(t, port)
	if m["tinit_child_ready"] != 1 || m[`tinit_notify_messages_total{type="READY"}`] != 1 || m[`tinit_notify_messages_total{type="STATUS"}`] != 1 {
		t.Errorf("metrics: %v", m)
	}
	r.stop(143)
}

func TestNotifyFromOutsideTheTreeChangesNothing(t *testing.T) {
	r, port := notifyRun(t, nil, "env", "orphan:sleep:300ms,send:READY=1,wait", "print:spawned", "wait")
	line := r.line(10 * time.Second)
	addr := strings.TrimPrefix(strings.Fields(line)[0], "NOTIFY_SOCKET=")
	r.line(10 * time.Second)
	// A process in another pid namespace (this test, on the abstract
	// socket the pod's containers share) reaches the socket with pid 0.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Sendmsg(fd, []byte("READY=1"), nil, &unix.SockaddrUnix{Name: addr}, 0); err != nil {
		t.Fatalf("send to %s: %v", addr, err)
	}
	if !waitFor(5*time.Second, func() bool {
		return scrapeSeries(t, port)[`tinit_notify_rejected_total{reason="access"}`] >= 2
	}) {
		t.Fatalf("two outsiders' READY=1 not counted: %v", scrapeSeries(t, port))
	}
	if code := readyz(port); code != 503 {
		t.Fatalf("/readyz %d after READY=1 from outsiders, want 503", code)
	}
	r.stop(143)
}

func TestNotifyReloadingAndStopping(t *testing.T) {
	// The child takes each step when the test says so: a loaded machine
	// cannot make the test read one state too late.
	dir := t.TempDir()
	step := func(n int) string { return filepath.Join(dir, strconv.Itoa(n)) }
	r, port := notifyRun(t, nil,
		"send:READY=1", "print:ready", "await:"+step(1),
		"send:RELOADING=1\nMONOTONIC_USEC=1", "print:reloading", "await:"+step(2),
		"send:READY=1", "print:ready", "await:"+step(3),
		"send:STOPPING=1", "print:stopping", "wait")
	for i, want := range []struct {
		line string
		code int
	}{{"ready", 200}, {"reloading", 503}, {"ready", 200}, {"stopping", 503}} {
		if got := r.line(10 * time.Second); got != want.line {
			t.Fatalf("child said %q, want %q", got, want.line)
		}
		waitCode(t, port, "/readyz", want.code, 5*time.Second)
		if err := os.WriteFile(step(i+1), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n := scrapeSeries(t, port)[`tinit_notify_messages_total{type="unknown"}`]; n != 1 {
		t.Errorf("MONOTONIC_USEC counted %v times as unknown, want 1", n)
	}
	r.stop(143)
}

func TestNotifyWatchdogRestartsAHungChild(t *testing.T) {
	// Every child gets ready and goes silent: SIGABRT after 300ms, 134
	// by its default action, a failure: on-failure starts the next one.
	r, port := notifyRun(t, []string{"--notify-watchdog", "300ms", "--restart", "on-failure", "--backoff", "10ms", "--grace", "2s"},
		"env", "send:READY=1", "exec:sleep 100")
	for i := 0; i < 2; i++ {
		if env := r.line(10 * time.Second); !strings.HasSuffix(env, "WATCHDOG_USEC=300000") {
			t.Fatalf("start %d: the child's environment: %q; stderr:\n%s", i+1, env, r.stderr)
		}
	}
	for _, want := range []string{"no WATCHDOG=1 for 300ms", "signal=SIGABRT", "was killed by SIGABRT"} {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if m := scrapeSeries(t, port); m["tinit_child_restarts_total"] < 1 {
		t.Errorf("restarts %v", m["tinit_child_restarts_total"])
	}
	// A child dies every 300ms here: the SIGTERM may find one that
	// SIGABRT has just ended (134), or the one running (143).
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(20 * time.Second); code != 143 && code != 134 {
		t.Fatalf("exit %d after SIGTERM, want 143 (or 134); stderr:\n%s", code, r.stderr)
	}
}

func TestNotifyWatchdogWithNeverExitsWithTheChildsCode(t *testing.T) {
	r, _ := notifyRun(t, []string{"--notify-watchdog", "200ms"}, "send:READY=1", "send:WATCHDOG=1", "exec:sleep 100")
	if code := r.exitCode(10 * time.Second); code != 134 {
		t.Fatalf("exit %d, want 134 (SIGABRT); stderr:\n%s", code, r.stderr)
	}
}

func TestNotifyTimeoutRestartsAChildThatNeverGetsReady(t *testing.T) {
	r, _ := notifyRun(t, []string{"--notify-timeout", "1s", "--restart", "on-failure", "--max-restarts", "1", "--backoff", "10ms"},
		"print:up", "wait")
	for i := 0; i < 2; i++ {
		if got := r.line(10 * time.Second); got != "up" {
			t.Fatalf("start %d: child said %q", i+1, got)
		}
	}
	// SIGTERM's default action: 143, a failure whatever the status.
	if code := r.exitCode(10 * time.Second); code != 143 {
		t.Fatalf("exit %d, want 143 after the second timeout; stderr:\n%s", code, r.stderr)
	}
	if n := strings.Count(r.stderr.String(), "--notify-timeout"); n < 2 {
		t.Errorf("%d timeouts logged, want 2:\n%s", n, r.stderr)
	}
}

func TestNotifyGarbageChangesNothingAndLeaksNoFD(t *testing.T) {
	r, port := notifyRun(t, nil, "send:READY=1", "print:ready", "sleep:500ms",
		"big", "send:no equals sign", "send:lower=case", "fds:3", "print:sent", "wait")
	r.line(10 * time.Second)
	waitCode(t, port, "/readyz", 200, 5*time.Second)
	before := fdCount(r.tinitPid())
	r.line(10 * time.Second)
	if !waitFor(5*time.Second, func() bool {
		m := scrapeSeries(t, port)
		return m[`tinit_notify_rejected_total{reason="oversized"}`] == 1 && m[`tinit_notify_rejected_total{reason="malformed"}`] == 2
	}) {
		t.Fatalf("rejections: %v", scrapeSeries(t, port))
	}
	if body := waitCode(t, port, "/readyz", 200, time.Second); !strings.Contains(body, "status: with fds") {
		t.Errorf("/readyz %q: the message that carried fds still counts", body)
	}
	if after := fdCount(r.tinitPid()); after != before {
		t.Errorf("tinit had %d fds before the garbage and the passed fds, %d after", before, after)
	}
	r.stop(143)
}

// TestNotifyFromRealServers: Debian's PostgreSQL and redis-server tell
// tinit themselves when they accept connections.
func TestNotifyFromRealServers(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		requireNamespace(t)
		redis, err := exec.LookPath("redis-server")
		if err != nil {
			unavailable(t, "redis-server is needed (apt-get install redis-server)")
		}
		port, hport := freePort(t), freePort(t)
		r := startTinit(t, nil, "--notify", "--health-addr", fmt.Sprintf("127.0.0.1:%d", hport), "--", redis,
			"--supervised", "systemd", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		body := waitCode(t, hport, "/readyz", 200, 20*time.Second)
		if !strings.Contains(body, "status: Ready to accept connections") {
			t.Errorf("/readyz body %q: want redis's STATUS", body)
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err != nil {
			t.Errorf("ready, but redis does not accept connections: %v", err)
		} else {
			c.Close()
		}
		r.stop(0)
	})
	t.Run("postgresql", func(t *testing.T) {
		requireNamespace(t)
		pg := newPostgres(t)
		hport := freePort(t)
		r := startTinit(t, nil, append([]string{"--notify", "--health-addr", fmt.Sprintf("127.0.0.1:%d", hport), "--"}, pg.argv...)...)
		waitCode(t, hport, "/readyz", 200, 30*time.Second)
		if !pg.ready() {
			t.Error("ready, but pg_isready fails")
		}
		if n := scrapeSeries(t, hport)[`tinit_notify_messages_total{type="READY"}`]; n != 1 {
			t.Errorf("READY=1 came %v times, want 1", n)
		}
		r.stop(0)
	})
}

func TestNotifySocketProblemsStopBeforeTheChild(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	r := startTinit(t, nil, "--notify", "--notify-socket", "/nonexistent/dir/notify", "--", "/bin/sh", "-c", "touch "+marker)
	if code := r.exitCode(10 * time.Second); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if msg := strings.TrimSpace(r.stderr.String()); !strings.HasPrefix(msg, "tinit: --notify-socket: ") || strings.Contains(msg, "\n") {
		t.Errorf("stderr %q: want one line naming --notify-socket", msg)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the child ran")
	}
}

// TestNotifyFDFloodLeavesTinitItsDescriptors: any process that reaches the
// socket may pass descriptors with its datagrams, before any access check
// (here the test itself, from outside tinit's pid namespace). Under
// RLIMIT_NOFILE 256, a flood of datagrams carrying 253 each must not take
// the descriptors tinit needs to restart its child, nor fill its table.
func TestNotifyFDFloodLeavesTinitItsDescriptors(t *testing.T) {
	requireNamespace(t)
	port := freePort(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	// The shell lowers the limit and execs tinit as PID 1. The child exits
	// every 50ms: each restart needs a pipe for a failed exec's error.
	argv := append(asPID1[:len(asPID1):len(asPID1)], "/bin/sh", "-c", `ulimit -n 256 && exec "$0" "$@"`, tinitBin,
		"--notify", "--notify-socket", sock, "--health-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--restart", "always", "--backoff", "10ms", "--backoff-max", "10ms", "--", "/bin/sh", "-c", "sleep 0.05")
	r := startWrapped(t, nil, argv, nil)
	waitCode(t, port, "/healthz", 200, 10*time.Second)
	pid := r.tinitPid()
	before := fdCount(pid)

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	fds := make([]int, 253) // SCM_MAX_FD: as many as one datagram carries
	for i := range fds {
		fds[i] = p[0]
	}
	oob := unix.UnixRights(fds...)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	type result struct {
		n   int   // datagrams sent
		err error // why sending stopped early
	}
	sent := make(chan result, 1)
	go func() {
		n, end := 0, time.Now().Add(2*time.Second)
		for time.Now().Before(end) {
			// Not blocking: a tinit that stopped reading must not hang the test.
			err := unix.Sendmsg(fd, []byte("FDSTORE=1"), oob, &unix.SockaddrUnix{Name: sock}, unix.MSG_DONTWAIT)
			switch {
			case err == nil:
				n++
			case errors.Is(err, unix.EAGAIN):
				time.Sleep(100 * time.Microsecond)
			default:
				sent <- result{n, err}
				return
			}
		}
		sent <- result{n, nil}
	}()
	// Every count, not fdCount's least of three: the flood's descriptors
	// live only between tinit's recvmsg and its close.
	peak := before
	var res result
	for flooding := true; flooding; {
		select {
		case res = <-sent:
			flooding = false
		default:
			if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
				peak = max(peak, len(ents))
			}
		}
	}
	n := res.n
	if res.err != nil {
		// The socket is gone: tinit has exited, or is exiting.
		t.Fatalf("after %d datagrams of 253 fds (tinit's fds: %d before, at most %d during): send: %v; tinit exit %d; stderr:\n%s",
			n, before, peak, res.err, r.exitCode(10*time.Second), r.stderr)
	}
	t.Logf("%d datagrams of 253 fds; tinit's fds: %d before, at most %d during", n, before, peak)
	restarts := scrapeSeries(t, port)["tinit_child_restarts_total"]
	if !waitFor(5*time.Second, func() bool { return scrapeSeries(t, port)["tinit_child_restarts_total"] >= restarts+2 }) {
		t.Fatalf("no restart after the flood; stderr:\n%s", r.stderr)
	}
	if peak > before+32 {
		t.Errorf("tinit's fd count rose from %d to %d during the flood", before, peak)
	}
	if !waitFor(5*time.Second, func() bool {
		return scrapeSeries(t, port)[`tinit_notify_rejected_total{reason="fds"}`] == float64(n)
	}) {
		t.Errorf("rejections: %v, want %d for fds", scrapeSeries(t, port), n)
	}
	r.stop(143)
}

// TestNotifyGrandchildWithoutTinitsOwnProc: without a /proc of its own pid
// namespace tinit cannot walk the main child's tree, and the tree is its
// whole namespace: a grandchild's READY=1 counts, as the README's Python
// sender (a child of the shell that runs it) needs.
func TestNotifyGrandchildWithoutTinitsOwnProc(t *testing.T) {
	requireNamespace(t)
	tests := []struct{ name, umount string }{
		// unshare --mount-proc mounted the namespace's /proc over the
		// host's: unmounting it once shows the host's.
		{"the parent namespace's /proc", "umount -l /proc"},
		{"no /proc", "umount -l /proc && umount -l /proc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			a, env := helper("notify", "spawn:send:READY=1,print:sent,wait", "wait")
			argv := append(asPID1[:len(asPID1):len(asPID1)], "/bin/sh", "-c", tt.umount+` && exec "$0" "$@"`, tinitBin,
				"--notify", "--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--")
			r := startWrapped(t, []string{env}, append(argv, a...), nil)
			if got := r.line(10 * time.Second); got != "sent" {
				t.Fatalf("the grandchild said %q; stderr:\n%s", got, r.stderr)
			}
			waitCode(t, port, "/readyz", 200, 5*time.Second)
			if m := scrapeSeries(t, port); m[`tinit_notify_rejected_total{reason="access"}`] != 0 {
				t.Errorf("metrics: %v", m)
			}
			if msg := r.stderr.String(); !strings.Contains(msg, "level=warning") || !strings.Contains(msg, "pid namespace") {
				t.Errorf("stderr does not warn how access is judged:\n%s", msg)
			}
			r.stop(143)
		})
	}
}
