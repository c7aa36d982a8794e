package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runs counts the main children tinit started, from its info log.
func runs(stderr string) int { return strings.Count(stderr, "level=info msg=\"started ") }

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		name       string
		flags      []string
		script     string
		wantRuns   int
		wantCode   int
		wantStderr string
	}{
		{"on-failure restarts exit 5 three times, then exits 5",
			[]string{"--restart", "on-failure", "--max-restarts", "3", "--backoff", "10ms"}, "exit 5", 4, 5, "--max-restarts 3 reached"},
		{"on-failure runs exit 0 once", []string{"--restart", "on-failure", "--max-restarts", "3", "--backoff", "10ms"}, "exit 0", 1, 0, ""},
		{"always restarts exit 0 twice with --max-restarts 2", []string{"--restart", "always", "--max-restarts", "2", "--backoff", "10ms"}, "exit 0", 3, 0, ""},
		{"never is the default", nil, "exit 5", 1, 5, ""},
		{"SIGINT is never restarted, even under always", []string{"--restart", "always", "--backoff", "10ms"}, "kill -INT $$", 1, 130, ""},
		{"a death by a forwarded signal is not a failure", []string{"--restart", "on-failure", "--backoff", "10ms"}, "kill -USR1 $PPID; sleep 5", 1, 138, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"--log-level", "info"}, tt.flags...), "--", "/bin/sh", "-c", tt.script)
			r := startTinit(t, nil, args...)
			code := r.exitCode(20 * time.Second)
			if n := runs(r.stderr.String()); code != tt.wantCode || n != tt.wantRuns {
				t.Fatalf("exit %d after %d runs, want %d after %d; stderr:\n%s", code, n, tt.wantCode, tt.wantRuns, r.stderr)
			}
			if !strings.Contains(r.stderr.String(), tt.wantStderr) {
				t.Fatalf("stderr does not say %q:\n%s", tt.wantStderr, r.stderr)
			}
		})
	}
	t.Run("a missing PROGRAM under always exits 127 at once", func(t *testing.T) {
		start := time.Now()
		r := startTinit(t, nil, "--restart", "always", "--", "tinit-no-such-program")
		if code := r.exitCode(10 * time.Second); code != 127 || time.Since(start) > 2*time.Second {
			t.Fatalf("exit %d after %v, want 127 at once", code, time.Since(start))
		}
	})
}

func TestRestartsAreLoggedAtWarn(t *testing.T) {
	r := startTinit(t, nil, "--restart", "on-failure", "--max-restarts", "2", "--backoff", "10ms", "--", "/bin/sh", "-c", "exit 3")
	r.exitCode(10 * time.Second)
	// Each field on its own: the line's prefix and the fields' order are
	// the formatter's business.
	var restarts []string
	for _, line := range strings.Split(r.stderr.String(), "\n") {
		if !strings.Contains(line, "level=warning") || !strings.Contains(line, `msg="main child exited 3: restarting`) {
			continue
		}
		m := regexp.MustCompile(` restarts=(\d+)`).FindStringSubmatch(line)
		if !strings.Contains(line, " code=3") || !regexp.MustCompile(` delay=\S`).MatchString(line) || m == nil {
			t.Fatalf("warn line without code=3, a delay and restarts=N: %s", line)
		}
		restarts = append(restarts, m[1])
	}
	if strings.Join(restarts, ",") != "1,2" {
		t.Fatalf("warn lines counted restarts %q, want 1 then 2; stderr:\n%s", restarts, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "level=error") {
		t.Fatalf("giving up is not logged at error level:\n%s", r.stderr)
	}
}

// stamps reads the "start NS" and "end NS" lines the backoff script writes.
func stamps(t *testing.T, path, kind string) []time.Time {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == kind {
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			out = append(out, time.Unix(0, ns))
		}
	}
	return out
}

func TestBackoffDoublesAndResets(t *testing.T) {
	log := filepath.Join(t.TempDir(), "stamps")
	// Runs 1-3 crash at once, run 4 runs past --backoff-reset and crashes,
	// run 5 crashes at once, run 6 exits 0.
	script := fmt.Sprintf(`echo start $(date +%%s%%N) >> %[1]s
n=$(grep -c start %[1]s)
[ $n -eq 4 ] && sleep 0.7
echo end $(date +%%s%%N) >> %[1]s
[ $n -ge 6 ] && exit 0
exit 1`, log)
	r := startTinit(t, nil, "--restart", "on-failure", "--backoff", "200ms", "--backoff-max", "10s", "--backoff-reset", "500ms", "--", "/bin/sh", "-c", script)
	if code := r.exitCode(20 * time.Second); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, r.stderr)
	}
	starts, ends := stamps(t, log, "start"), stamps(t, log, "end")
	if len(starts) != 6 || len(ends) != 6 {
		t.Fatalf("%d starts, %d ends, want 6 each", len(starts), len(ends))
	}
	want := []time.Duration{200, 400, 800, 200, 400} // after run 4 the delay starts over
	for i, w := range want {
		w *= time.Millisecond
		gap := starts[i+1].Sub(ends[i])
		// Generous above: a loaded machine is late, never early.
		if gap < w*9/10 || gap > w+400*time.Millisecond {
			t.Errorf("gap before run %d is %v, want about %v", i+2, gap.Round(time.Millisecond), w)
		}
	}
}

func TestSIGTERMDuringBackoff(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	r := startTinit(t, nil, "--restart", "always", "--backoff", "5s", "--", "/bin/sh", "-c", "touch "+marker+"; exit 1")
	waitFile(t, marker)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(5 * time.Second); code != 143 || time.Since(start) > time.Second {
		t.Fatalf("exit %d after %v, want 143 within 1s", code, time.Since(start).Round(time.Millisecond))
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

// ignoresTERM is a child whose whole group ignores SIGTERM, and which says
// when it is ready.
const ignoresTERM = `trap "" TERM; sleep 1000 & echo ready; sleep 1000`

func TestGraceThenSIGKILL(t *testing.T) {
	t.Run("a child that ignores SIGTERM is killed after --grace: 137", func(t *testing.T) {
		r := startTinit(t, nil, "--grace", "500ms", "--", "/bin/sh", "-c", ignoresTERM)
		r.line(10 * time.Second)
		start := time.Now()
		r.signal(syscall.SIGTERM)
		code := r.exitCode(10 * time.Second)
		if took := time.Since(start); code != 137 || took < 500*time.Millisecond || took > 1500*time.Millisecond {
			t.Fatalf("exit %d after %v, want 137 in 0.5-1.5s", code, took.Round(time.Millisecond))
		}
	})
	t.Run("a second SIGTERM reaches the child too, and SIGKILL comes only at the --grace deadline", func(t *testing.T) {
		// The child traps TERM and carries on: it must see both, and
		// only the deadline of the first may kill it.
		rec := filepath.Join(t.TempDir(), "rec")
		a, env := recordArgs(rec, "TERM")
		r := startTinit(t, []string{env}, append([]string{"--grace", "1s", "--"}, a...)...)
		r.line(10 * time.Second)
		start := time.Now()
		r.signal(syscall.SIGTERM)
		time.Sleep(100 * time.Millisecond)
		r.signal(syscall.SIGTERM)
		code := r.exitCode(10 * time.Second)
		took := time.Since(start)
		if got := lines(rec); code != 137 || took < time.Second || len(got) != 2 {
			t.Fatalf("exit %d after %v, the child recorded %q; want 137 after the 1s grace period and two TERMs; stderr: %s",
				code, took.Round(time.Millisecond), got, r.stderr)
		}
	})
	t.Run("the SIGKILL deadline is --drain plus --grace", func(t *testing.T) {
		r := startTinit(t, nil, "--drain", "500ms", "--grace", "500ms", "--", "/bin/sh", "-c", ignoresTERM)
		r.line(10 * time.Second)
		start := time.Now()
		r.signal(syscall.SIGTERM)
		code := r.exitCode(10 * time.Second)
		if took := time.Since(start); code != 137 || took < time.Second || took > 2*time.Second {
			t.Fatalf("exit %d after %v, want 137 in 1-2s", code, took.Round(time.Millisecond))
		}
	})
	t.Run("a stop signal is judged before --rewrite", func(t *testing.T) {
		// TERM reaches the child as USR1, which it ignores: the grace
		// period still runs, because tinit received a TERM.
		r := startTinit(t, nil, "--rewrite", "TERM:USR1", "--grace", "500ms", "--", "/bin/sh", "-c",
			`trap "" USR1; echo ready; while :; do sleep 0.02; done`)
		r.line(10 * time.Second)
		r.signal(syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 137 {
			t.Fatalf("exit %d, want 137", code)
		}
	})
	t.Run("--stop-signals USR2 makes USR2 a stop signal", func(t *testing.T) {
		r := startTinit(t, nil, "--stop-signals", "USR2", "--grace", "500ms", "--", "/bin/sh", "-c",
			`trap "" USR2; echo ready; while :; do sleep 0.02; done`)
		r.line(10 * time.Second)
		start := time.Now()
		r.signal(syscall.SIGUSR2)
		if code := r.exitCode(10 * time.Second); code != 137 || time.Since(start) > 2*time.Second {
			t.Fatalf("exit %d after %v, want 137 after the grace period", code, time.Since(start))
		}
	})
	t.Run("a child that left its process group is killed too", func(t *testing.T) {
		a, env := helper("leave-group")
		r := startTinit(t, []string{env}, append([]string{"--grace", "300ms", "--"}, a...)...)
		r.line(10 * time.Second)
		start := time.Now()
		r.signal(syscall.SIGTERM)
		// Without the kill of its pid, tinit would give up after KillWait.
		if code := r.exitCode(10 * time.Second); code != 137 || time.Since(start) > 1500*time.Millisecond {
			t.Fatalf("exit %d after %v, want 137 soon after the grace period", code, time.Since(start).Round(time.Millisecond))
		}
	})
	t.Run("a HUP reload starts no timer", func(t *testing.T) {
		hup := filepath.Join(t.TempDir(), "hup")
		r := startTinit(t, nil, "--grace", "300ms", "--", "/bin/sh", "-c",
			`trap "echo reloaded >> `+hup+`" HUP; echo ready; while :; do sleep 0.05; done`)
		r.line(10 * time.Second)
		r.signal(syscall.SIGHUP)
		time.Sleep(time.Second)
		select {
		case <-r.done:
			t.Fatalf("tinit exited %v after a HUP: %s", r.err, r.stderr)
		default:
		}
		if b, _ := os.ReadFile(hup); string(b) != "reloaded\n" {
			t.Fatalf("the child's HUP trap wrote %q", b)
		}
		r.signal(syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 143 {
			t.Fatalf("exit %d, want 143", code)
		}
	})
}

func TestDrainAfterTheMainChildExits(t *testing.T) {
	t.Run("a daemon that traps TERM finishes its work, tinit exits 0", func(t *testing.T) {
		bye := filepath.Join(t.TempDir(), "bye")
		start := time.Now()
		r := startTinit(t, nil, "--", "/bin/sh", "-c",
			`(trap "echo bye > `+bye+`; exit 0" TERM; while :; do sleep 0.05; done) & sleep 0.2; exit 0`)
		if code := r.exitCode(10 * time.Second); code != 0 {
			t.Fatalf("exit %d; stderr %s", code, r.stderr)
		}
		if b, _ := os.ReadFile(bye); string(b) != "bye\n" {
			t.Fatalf("the daemon wrote %q, want bye", b)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("took %v: tinit waited for the grace period instead of the daemon", took)
		}
	})
	t.Run("with nothing left over tinit exits at once", func(t *testing.T) {
		r := startTinit(t, []string{"TINIT_GRACE=30s"}, "--", "/bin/true")
		start := time.Now()
		if code := r.exitCode(10 * time.Second); code != 0 || time.Since(start) > time.Second {
			t.Fatalf("exit %d after %v", code, time.Since(start))
		}
	})
}

// nested runs script under an outer tinit (PID 1) with $T the tinit binary,
// so the inner tinit is a subreaper and what it leaves behind is visible.
func nested(t *testing.T, script string) map[string]string {
	t.Helper()
	r := startTinit(t, []string{"T=" + tinitBin}, "--", "/bin/sh", "-c", script)
	out := r.line(30 * time.Second)
	r.exitCode(10 * time.Second)
	st := map[string]string{}
	for _, f := range strings.Fields(out) {
		if k, v, ok := strings.Cut(f, "="); ok {
			st[k] = v
		}
	}
	return st
}

// countSleeps counts the sleep processes in the namespace.
const countSleeps = `n=0; for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = sleep ] && n=$((n+1)); done`

func TestNothingIsLeftBehind(t *testing.T) {
	t.Run("SIGKILL reaches the group and an orphan that left it", func(t *testing.T) {
		st := nested(t, `$T --grace 500ms -- sh -c 'trap "" TERM; setsid sleep 1000 & sleep 1000 & sleep 1000' &
pid=$!; sleep 0.3; s=$(date +%s%N); kill -TERM $pid; wait $pid; code=$?
ms=$(( ($(date +%s%N) - s) / 1000000 )); `+countSleeps+`; echo code=$code ms=$ms left=$n`)
		ms, _ := strconv.Atoi(st["ms"])
		if st["code"] != "137" || st["left"] != "0" || ms < 500 || ms > 1500 {
			t.Fatalf("inner tinit: %v; want code=137 in 500-1500 ms and left=0", st)
		}
	})
	t.Run("leftovers of a main child that exited get SIGTERM, then SIGKILL", func(t *testing.T) {
		st := nested(t, `s=$(date +%s%N); $T --grace 500ms -- sh -c 'setsid sh -c "trap \"\" TERM; sleep 1000" & sleep 1000 & sleep 0.1; exit 4'; code=$?
ms=$(( ($(date +%s%N) - s) / 1000000 )); `+countSleeps+`; echo code=$code ms=$ms left=$n`)
		ms, _ := strconv.Atoi(st["ms"])
		if st["code"] != "4" || st["left"] != "0" || ms > 2000 {
			t.Fatalf("inner tinit: %v; want code=4, left=0, within the grace period", st)
		}
	})
}

func TestTerminationLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	r := startTinit(t, nil, "--restart", "on-failure", "--max-restarts", "1", "--backoff", "1ms", "--termination-log", path, "--", "/bin/sh", "-c", "exit 9")
	if code := r.exitCode(10 * time.Second); code != 9 {
		t.Fatalf("exit %d", code)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if line := string(b); strings.Count(line, "\n") != 1 || !strings.Contains(line, "exit 9") || !strings.Contains(line, "restarts: 1") {
		t.Fatalf("termination log %q: want one line with the code and restarts", line)
	}
}

// procStatus reads a field of /proc/PID/status, in kB for memory fields.
func procStatus(pid int, field string) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			n, err := strconv.Atoi(strings.Fields(v)[0])
			return n, err == nil
		}
	}
	return 0, false
}

// fdCount is the smallest of a few quick counts of pid's fds: each restart
// opens and closes the pipe through which ForkExec reports exec errors,
// which a single read may catch; a leaked fd shows in every read.
func fdCount(pid int) int {
	least := -1
	for i := 0; i < 3; i++ {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err == nil && (least < 0 || len(fds) < least) {
			least = len(fds)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return least
}

func TestThousandCrashesLeakNothing(t *testing.T) {
	// GOGC=10: a collection every few hundred kB of garbage. At the
	// default, a thousand restarts' log lines make one or two collections
	// in the whole run, and the saw-tooth between them (3 MB, measured)
	// is larger than the growth this test looks for, so where in the
	// run the collection fell decided the verdict.
	r := startTinit(t, []string{"GOGC=10"}, "--restart", "always", "--backoff", "1ms", "--backoff-max", "1ms", "--max-restarts", "1000", "--", "/bin/false")
	pid := r.tinitPid()
	type sample struct{ fds, rss, threads int }
	var samples []sample
	for {
		select {
		case <-r.done:
		case <-time.After(50 * time.Millisecond):
			rss, ok1 := procStatus(pid, "VmRSS")
			threads, ok2 := procStatus(pid, "Threads")
			fds := fdCount(pid)
			// A process on its way out shows no fds and no memory: not a
			// sample of a running tinit.
			if ok1 && ok2 && fds > 0 && procState(pid) != "Z" {
				samples = append(samples, sample{fds, rss, threads})
			}
			continue
		}
		break
	}
	if code := r.exitCode(60 * time.Second); code != 1 {
		t.Fatalf("exit %d, want 1 (/bin/false)", code)
	}
	if n := strings.Count(r.stderr.String(), ": restarting (--restart always)"); n != 1000 {
		t.Fatalf("%d restarts logged, want 1000", n)
	}
	if len(samples) < 4 {
		t.Fatalf("only %d samples: the run was too short to measure", len(samples))
	}
	// fds: the persistent set, plus at most the pipe pair of a fork in
	// flight. A leak would add one per restart: hundreds by the end.
	least := samples[0].fds
	for _, s := range samples {
		least = min(least, s.fds)
	}
	for _, s := range samples {
		if s.fds > least+2 {
			t.Fatalf("tinit's fd count grew from %d to %d", least, s.fds)
		}
	}
	// RSS: the runtime warms up in the first quarter and then saw-tooths
	// with each collection; compare the peaks of the second and last
	// quarters, so growth means a trend.
	q := len(samples) / 4
	peak := func(ss []sample) int {
		m := 0
		for _, s := range ss {
			m = max(m, s.rss)
		}
		return m
	}
	early, late := peak(samples[q:2*q]), peak(samples[3*q:])
	if late-early >= 1024 {
		t.Fatalf("tinit's RSS grew %d kB over the restarts (peak %d kB, then %d kB)", late-early, early, late)
	}
	// Goroutines are counted across restarts by init/supervise's
	// TestRestartsLeaveNoGoroutineBehind: the restart line no longer
	// carries the count.
	base := samples[q]
	t.Logf("%d samples; fds %d, RSS %d kB, threads %d", len(samples), base.fds, base.rss, base.threads)
}
