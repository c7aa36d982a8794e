package main_test

// End-to-end tests of the faults of issue 19: each test names the item of
// the issue it covers, and says what a user saw before the fix.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Item 1: a --notify failure gives the child's group the stop signal once.
// Before the fix the group had SIGTERM from the failure, then a second one
// from the drain (--restart never) or from the restart (on-failure).
func TestNotifyFailureStopsTheGroupOnce(t *testing.T) {
	for _, tt := range []struct {
		name     string
		flags    []string
		children int // main children started, each with its worker
	}{
		{"with --restart never, the worker in the group of a child not ready by --notify-timeout gets one SIGTERM and none from the drain",
			[]string{"--restart", "never"}, 1},
		{"with --restart on-failure, the worker in the group of a child not ready by --notify-timeout gets one SIGTERM and none from the restart",
			[]string{"--restart", "on-failure", "--max-restarts", "1", "--backoff", "10ms"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// Each main child starts a count-term worker in its group (it
			// records every SIGTERM and exits 0.5 s after the first), with
			// files named by the child's pid, and never sends READY=1. Its
			// shell exits 0 on the SIGTERM: a failure all the same.
			script := fmt.Sprintf(`trap "exit 0" TERM; %[1]s %[2]s/terms.$$ %[2]s/ready.$$ &
while [ ! -e %[2]s/ready.$$ ]; do sleep 0.01; done; echo ready; while :; do sleep 0.02; done`, selfBin, dir)
			// --grace well past the worker's 0.5 s: no SIGKILL in the way.
			args := append([]string{"--notify", "--notify-timeout", "1s", "--grace", "5s"}, tt.flags...)
			r := startTinit(t, []string{helperEnv + "=count-term"}, append(args, "--", "/bin/sh", "-c", script)...)
			code := r.exitCode(30 * time.Second)
			terms, _ := filepath.Glob(filepath.Join(dir, "terms.*"))
			ready, _ := filepath.Glob(filepath.Join(dir, "ready.*"))
			got := map[string]int{}
			bad := code != 1 || len(terms) != tt.children
			for _, f := range terms {
				n := len(lines(f))
				got[strings.TrimPrefix(filepath.Base(f), "terms.")] = n
				bad = bad || n != 1
			}
			if bad {
				t.Fatalf("exit %d; SIGTERMs per worker, by its main child's pid: %v (%d workers ready); want exit 1 and %d workers with exactly 1 SIGTERM each; stderr:\n%s",
					code, got, len(ready), tt.children, r.stderr)
			}
		})
	}
}

// eagain is how a fork that failed with EAGAIN reads in tinit's log.
const eagain = "resource temporarily unavailable"

// setPids sets a control file (pids.max) of the cgroup whose
// cgroup.procs is procs.
func setPids(t *testing.T, procs, name, value string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(filepath.Dir(procs), name), []byte(value), 0o644); err != nil {
		t.Fatalf("set %s to %s: %v", name, value, err)
	}
}

// pidsCurrent is how many tasks (threads included) the cgroup whose
// cgroup.procs is procs holds.
func pidsCurrent(t *testing.T, procs string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(readFile(filepath.Join(filepath.Dir(procs), "pids.current"))))
	if err != nil {
		t.Fatalf("read pids.current: %v", err)
	}
	return n
}

// inChdir reports whether a thread of pid is in chdir(2) now.
func inChdir(pid int) bool {
	calls, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, p := range calls {
		if f := strings.Fields(readFile(p)); len(f) > 0 && f[0] == strconv.Itoa(unix.SYS_CHDIR) {
			return true
		}
	}
	return false
}

// inPidsCgroup is argv run as PID 1 of a fresh namespace, with everything
// from unshare down in the cgroup whose cgroup.procs is procs: the shell
// joins it, then becomes unshare.
func inPidsCgroup(procs string, argv ...string) []string {
	return append([]string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, procs}, append(asPID1[:len(asPID1):len(asPID1)], argv...)...)
}

// Item 3: a fork that fails for want of resources (EAGAIN under a full
// pids cgroup) is a failed start, not a PROGRAM that cannot run. Before
// the fix tinit exited 126 on it, whatever --restart said.
//
// A cgroup is full when pids.current reaches pids.max; the tests lower
// pids.max to what is there rather than fill it with a process that forks:
// the same state for fork(2), and no race with tinit's own threads. Those
// are all made before the first child (threads_linux.go), and tinit needs
// no other.
func TestForkFailureIsAResourceError(t *testing.T) {
	t.Run("a restart under a full pids cgroup backs off, and the child starts again once pids are free", func(t *testing.T) {
		requireNamespace(t)
		procs := pidsCgroup(t, 1000)
		marker := filepath.Join(t.TempDir(), "ran")
		// Builtins and exec only: the child forks nothing, so it is one
		// pid for as long as it runs.
		script := fmt.Sprintf(`if [ -e %[1]s ]; then echo again; exec sleep 1000; fi; : > %[1]s; echo ready; exec sleep 1000`, marker)
		port := freePort(t)
		r := startWrapped(t, nil, inPidsCgroup(procs, tinitBin, "--restart", "always", "--backoff", "100ms", "--backoff-max", "200ms",
			"--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--", "/bin/sh", "-c", script), nil)
		if got := r.line(10 * time.Second); got != "ready" {
			t.Fatalf("the child said %q; stderr:\n%s", got, r.stderr)
		}
		child := mainChildOf(t, r.tinitPid())
		// One under what is there: once the crashed child is gone the
		// cgroup is full, and the next child's fork fails with EAGAIN.
		setPids(t, procs, "pids.max", strconv.Itoa(pidsCurrent(t, procs)-1))
		if err := unix.Kill(child, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		failedStarts := func() int {
			n := 0
			for _, line := range strings.Split(r.stderr.String(), "\n") {
				if strings.Contains(line, "level=warning") && strings.Contains(line, eagain) {
					n++
				}
			}
			return n
		}
		// Two: tinit backed off after the first and tried again.
		waitFor(10*time.Second, func() bool { return failedStarts() >= 2 || !r.running() })
		if !r.running() {
			t.Fatalf("tinit exited %d when a restart's fork failed with EAGAIN; want a warning and a retry after the backoff; stderr:\n%s",
				exitCodeOf(t, r.err), r.stderr)
		}
		if n := failedStarts(); n < 2 {
			t.Fatalf("%d failed starts logged at warn naming %q within 10s, want at least 2; stderr:\n%s", n, eagain, r.stderr)
		}
		setPids(t, procs, "pids.max", "max")
		if got := r.line(10 * time.Second); got != "again" {
			t.Fatalf("after the pids were freed the child said %q, want again; stderr:\n%s", got, r.stderr)
		}
		// The failed starts count as restarts, as the one that worked.
		if n := scrapeSeries(t, port)["tinit_child_restarts_total"]; n < 2 {
			t.Errorf("tinit_child_restarts_total %v after failed starts and one that worked, want at least 2", n)
		}
		r.signal(syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 143 {
			t.Fatalf("exit %d after SIGTERM, want 143; stderr:\n%s", code, r.stderr)
		}
	})
	t.Run("a first start under a full pids cgroup exits 1 with one line naming PROGRAM and the errno", func(t *testing.T) {
		requireNamespace(t)
		strace, err := exec.LookPath("strace")
		if err != nil {
			unavailable(t, "strace is needed to hold tinit between its threads and its first fork (apt-get install strace)")
		}
		procs := pidsCgroup(t, 1000)
		// tinit makes its threads, then forks the child at once. strace
		// holds it in between, in its chdir("/") (leaveWorkingDir), long
		// enough to fill the cgroup; --seccomp-bpf stops it at nothing
		// else. The fork that fails starts no chdir of its own.
		argv := append([]string{strace, "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=chdir", "-e", "inject=chdir:delay_enter=3s"},
			inPidsCgroup(procs, tinitBin, "--", "/bin/true")...)
		r := startWrapped(t, nil, argv, nil)
		// strace, then unshare, then tinit: each appears in its own time
		// on a loaded machine.
		tinit := 0
		waitFor(20*time.Second, func() bool {
			for _, u := range children(r.cmd.Process.Pid) {
				if k := children(u); len(k) > 0 {
					tinit = k[0]
					return true
				}
			}
			return false
		})
		if tinit == 0 {
			t.Fatalf("no tinit below strace (pid %d) after 20s; stderr:\n%s", r.cmd.Process.Pid, r.stderr)
		}
		if !waitFor(10*time.Second, func() bool { return inChdir(tinit) }) {
			t.Fatalf("tinit (pid %d) was never seen in chdir; stderr:\n%s", tinit, r.stderr)
		}
		setPids(t, procs, "pids.max", strconv.Itoa(pidsCurrent(t, procs)))
		if !inChdir(tinit) {
			t.Fatalf("tinit left its chdir before the cgroup was full: the machine took more than strace's 3s; stderr:\n%s", r.stderr)
		}
		code := r.exitCode(20 * time.Second)
		msg := strings.TrimSpace(r.stderr.String())
		if code != 1 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "/bin/true") || !strings.Contains(msg, eagain) {
			t.Fatalf("exit %d, stderr %q; want 1 and one line naming /bin/true and %q", code, msg, eagain)
		}
	})
}

// Item 4: the watchdog resumes when the child is continued without tinit
// (Ctrl-Z under docker run -it, then kill -CONT from docker exec). Before
// the fix the reaper did not ask for WCONTINUED: the deadline stayed
// paused, and the hung child ran on for good.
func TestWatchdogFiresAfterADirectCONT(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy string
		stop   func(r *run, child int) error
	}{
		{"a child stopped by its own SIGTSTP and continued by kill -CONT to it is failed by the watchdog and restarted",
			"on-failure", func(r *run, child int) error { return unix.Kill(child, syscall.SIGTSTP) }},
		{"a child stopped by tinit's SIGTSTP and continued by kill -CONT to it is failed by the watchdog: 134 with --restart never",
			"never", func(r *run, child int) error { return unix.Kill(r.tinitPid(), syscall.SIGTSTP) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Ready, then silent: the watchdog is due 1s after READY=1.
			r, _ := notifyRun(t, []string{"--notify-watchdog", "1s", "--restart", tt.policy, "--backoff", "10ms", "--grace", "2s"},
				"send:READY=1", "print:ready", "exec:sleep 100")
			if got := r.line(10 * time.Second); got != "ready" {
				t.Fatalf("the child said %q; stderr:\n%s", got, r.stderr)
			}
			child := mainChildOf(t, r.tinitPid())
			if err := tt.stop(r, child); err != nil {
				t.Fatal(err)
			}
			if !waitFor(5*time.Second, func() bool { return stopped(child) }) {
				t.Fatalf("the child is in state %q, want T (stopped)", procState(child))
			}
			// Past the watchdog's period: while the child is stopped the
			// deadline waits, as it should.
			time.Sleep(1500 * time.Millisecond)
			const fired = "no WATCHDOG=1 for 1s"
			if strings.Contains(r.stderr.String(), fired) {
				t.Fatalf("the watchdog fired while the child was stopped (or before it was: the machine took over 1s to stop it); stderr:\n%s", r.stderr)
			}
			if err := unix.Kill(child, syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			if !waitFor(10*time.Second, func() bool { return strings.Contains(r.stderr.String(), fired) }) {
				t.Fatalf("10s after kill -CONT to the child, silent since its READY=1 over 11s ago, the watchdog has not fired (child in state %q); stderr:\n%s",
					procState(child), r.stderr)
			}
			if tt.policy == "never" {
				if code := r.exitCode(10 * time.Second); code != 134 {
					t.Fatalf("exit %d, want 134 (the child's SIGABRT); stderr:\n%s", code, r.stderr)
				}
				return
			}
			if got := r.line(10 * time.Second); got != "ready" {
				t.Fatalf("after the watchdog the next child said %q, want ready; stderr:\n%s", got, r.stderr)
			}
			// The next child goes silent too: the SIGTERM may find it
			// just ended by its own watchdog (134), or running (143).
			r.signal(syscall.SIGTERM)
			if code := r.exitCode(20 * time.Second); code != 143 && code != 134 {
				t.Fatalf("exit %d after SIGTERM, want 143 (or 134); stderr:\n%s", code, r.stderr)
			}
		})
	}
}

// stamp is a signal the record-stamped helper got, and when.
type stamp struct {
	sig string
	at  time.Time
}

func (s stamp) String() string { return s.sig + "@" + s.at.Format("15:04:05.000") }

// readStamps reads the record-stamped helper's file.
func readStamps(t *testing.T, path string) []stamp {
	t.Helper()
	var out []stamp
	for _, line := range strings.Split(strings.TrimSpace(readFile(path)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("%s: line %q", path, line)
		}
		out = append(out, stamp{f[0], time.Unix(0, ns)})
	}
	return out
}

// Item 5: with --drain every signal after the stop signal is held until
// the window ends, job control included. Before the fix a SIGCONT sent
// 0.4 s into a 1 s window reached the child at once, ahead of the TERM
// and USR1 that came before it.
func TestDrainHoldsCONTBehindTERMAndUSR1(t *testing.T) {
	const drain = time.Second
	rec := filepath.Join(t.TempDir(), "rec")
	a, env := helper("record-stamped", rec, "TERM", "USR1", "CONT!")
	r := startTinit(t, []string{env}, append([]string{"--drain", drain.String(), "--grace", "5s", "--"}, a...)...)
	if got := r.line(10 * time.Second); got != "ready" {
		t.Fatalf("the child said %q; stderr:\n%s", got, r.stderr)
	}
	// tinit gets the TERM after this: its window cannot end before
	// sent+drain, however slow the machine.
	sent := time.Now()
	r.signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	r.signal(syscall.SIGUSR1)
	time.Sleep(200 * time.Millisecond)
	r.signal(syscall.SIGCONT)
	code := r.exitCode(15 * time.Second)
	got := readStamps(t, rec)
	// Only CONT's place is asserted: signals released together are
	// pending at once in the child, and the kernel and os/signal hand
	// those over in number order (USR1, 10, before TERM, 15), whatever
	// order tinit sent them in. CONT, 18, is last either way.
	bad := code != 0 || len(got) != 3 || got[2].sig != "CONT" || !((got[0].sig == "TERM" && got[1].sig == "USR1") || (got[0].sig == "USR1" && got[1].sig == "TERM"))
	for _, s := range got {
		bad = bad || s.at.Before(sent.Add(drain))
	}
	if bad {
		t.Fatalf("exit %d; the child got %v (TERM sent at %s); want exit 0 and TERM and USR1, then CONT, none before the window's end at %s; stderr:\n%s",
			code, got, sent.Format("15:04:05.000"), sent.Add(drain).Format("15:04:05.000"), r.stderr)
	}
}
