package main_test

// End-to-end tests of the supervision rules of issue 11 ("Supervision v2"):
// each test names the item of the issue it covers.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// recordArgs is the record helper: it appends each signal named in specs
// to file, and exits 0 on one that ends in "!".
func recordArgs(file string, specs ...string) (argv []string, env string) {
	return helper("record", append([]string{file}, specs...)...)
}

// lines reads a file of one record per line; a missing file is none.
func lines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(string(b))
}

// waitFor polls cond until it holds or the time is up, and says which.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRecorded waits until path holds a line equal to want.
func waitRecorded(t *testing.T, path, want string, timeout time.Duration) {
	t.Helper()
	if !waitFor(timeout, func() bool { return slices.Contains(lines(path), want) }) {
		t.Fatalf("no %s recorded within %v; recorded %q", want, timeout, lines(path))
	}
}

// running reports whether tinit has not exited yet.
func (r *run) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// startDirect runs "tinit ARGS" as a plain child of the test: not PID 1,
// so a subreaper. Its pid is r.cmd.Process.Pid. It leads a process group
// of its own, as a job-control shell starts a job: its parent, the test,
// is in another group of the same session, so the group is not orphaned
// and tinit may stop itself (it never does in an orphaned group, which
// nothing would continue).
func startDirect(t *testing.T, env []string, args ...string) *run {
	t.Helper()
	requireNamespace(t) // root, as the tests as PID 1
	var stdout io.Reader
	var stderr bytes.Buffer
	r := startWrapped(t, env, append([]string{tinitBin}, args...), func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout = out
		cmd.Stderr = &stderr
	})
	r.stdout = bufio.NewReader(stdout)
	r.stderr = &stderr
	return r
}

// killGroupAtEnd SIGKILLs a process group when the test ends: a tinit that
// is not PID 1 takes nothing with it when it is killed.
func killGroupAtEnd(t *testing.T, pgid int) {
	t.Cleanup(func() { unix.Kill(-pgid, syscall.SIGKILL) })
}

// children lists the children of pid, from every thread's list.
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, p := range tasks {
		b, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(b)) {
			c, _ := strconv.Atoi(f)
			out = append(out, c)
		}
	}
	sort.Ints(out)
	return out
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	st := procState(pid)
	return st != "" && st != "Z"
}

// stopped: the process is in state T (stopped by a signal).
func stopped(pid int) bool { return procState(pid) == "T" }

// nsPid is the pid that pid has in its own (innermost) PID namespace.
func nsPid(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == "NSpid" {
			f := strings.Fields(v)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

// Item 1: no "second stop signal kills" escalation.
func TestEveryStopSignalIsDelivered(t *testing.T) {
	t.Run("a child that traps TERM and QUIT sent 50 ms apart sees both in order and tinit exits 0", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec")
		a, env := recordArgs(rec, "TERM", "QUIT!")
		r := startTinit(t, []string{env}, append([]string{"--"}, a...)...)
		r.line(10 * time.Second)
		r.signal(syscall.SIGTERM)
		time.Sleep(50 * time.Millisecond)
		r.signal(syscall.SIGQUIT)
		code := r.exitCode(10 * time.Second)
		if got := lines(rec); code != 0 || strings.Join(got, " ") != "TERM QUIT" {
			t.Fatalf("exit %d, the child recorded %q; want 0 and TERM then QUIT; stderr: %s", code, got, r.stderr)
		}
	})
	t.Run("a child sent TERM and INT back to back sees both and tinit exits 0", func(t *testing.T) {
		// Back to back, the kernel may hand them to the child in either
		// order: only that both arrive is asserted.
		rec := filepath.Join(t.TempDir(), "rec")
		r := startTinit(t, nil, "--", "/bin/sh", "-c",
			`trap "echo TERM >> `+rec+`" TERM; trap "echo INT >> `+rec+`" INT; echo ready
while [ "$(wc -l 2>/dev/null < `+rec+` || echo 0)" -lt 2 ]; do sleep 0.02; done; exit 0`)
		r.line(10 * time.Second)
		r.signal(syscall.SIGTERM)
		r.signal(syscall.SIGINT)
		code := r.exitCode(10 * time.Second)
		got := lines(rec)
		sort.Strings(got)
		if code != 0 || strings.Join(got, " ") != "INT TERM" {
			t.Fatalf("exit %d, the child recorded %q; want 0 and both INT and TERM; stderr: %s", code, got, r.stderr)
		}
	})
}

// Item 2: a stop signal rewritten to 0 is dropped before anything else.
func TestStopSignalRewrittenToZeroStopsNothing(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	a, env := recordArgs(rec, "TERM", "USR1!")
	r := startTinit(t, []string{env}, append([]string{"--rewrite", "TERM:0", "--grace", "500ms", "--"}, a...)...)
	r.line(10 * time.Second)
	r.signal(syscall.SIGTERM)
	time.Sleep(1500 * time.Millisecond)
	if !r.running() {
		t.Fatalf("tinit exited %d 1.5s after a TERM rewritten to 0 (--grace 500ms); stderr: %s", exitCodeOf(t, r.err), r.stderr)
	}
	if got := lines(rec); len(got) != 0 {
		t.Fatalf("the child recorded %q: a TERM rewritten to 0 reached it", got)
	}
	r.signal(syscall.SIGUSR1)
	if code := r.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after the child ended on USR1, want 0; stderr: %s", code, r.stderr)
	}
}

// nginxConf is an nginx master with two workers, everything but the
// config itself inside dir; each worker answers GET / with prefix and its
// own pid (as seen in its PID namespace), and notices on stderr say which
// signals the master got.
func nginxConf(dir string, port int, prefix string) string {
	return fmt.Sprintf(`daemon off;
master_process on;
worker_processes 2;
user root;
pid %[1]s/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen 127.0.0.1:%[2]d;
		location / { return 200 "%[3]s$pid\n"; }
	}
}
`, dir, port, prefix)
}

// nginxAnswer is the body of a 200 answer to GET / on port, trimmed, or
// "" when there is none.
func nginxAnswer(port int) string {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// nginxGeneration is the nginx master among parent's children and its
// two workers, once it has both.
func nginxGeneration(parent int) (master int, workers []int) {
	for _, k := range children(parent) {
		if w := children(k); len(w) == 2 && alive(k) {
			return k, w
		}
	}
	return 0, nil
}

// Item 3: a crash restart starts a clean generation.
func TestCrashRestartStartsACleanGeneration(t *testing.T) {
	requireNamespace(t)
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		unavailable(t, "nginx is needed for the pre-fork server test (apt-get install nginx-light)")
	}
	dir := t.TempDir()
	port := freePort(t)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(nginxConf(dir, port, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startTinit(t, nil, "--restart", "on-failure", "--grace", "3s", "--",
		nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	// answer is the namespace pid of the worker that served a GET /, or 0.
	answer := func() int {
		n, _ := strconv.Atoi(nginxAnswer(port))
		return n
	}
	var master int
	var workers []int
	if !waitFor(10*time.Second, func() bool {
		master, workers = nginxGeneration(r.tinitPid())
		return master != 0 && answer() != 0
	}) {
		t.Fatalf("nginx did not serve with a master and 2 workers within 10s; stderr: %s", r.stderr)
	}
	if err := unix.Kill(master, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var newMaster int
	var newWorkers []int
	var served int
	ok := waitFor(15*time.Second, func() bool {
		for _, w := range workers {
			if alive(w) {
				return false
			}
		}
		newMaster, newWorkers = nginxGeneration(r.tinitPid())
		if newMaster == 0 || newMaster == master {
			return false
		}
		served = answer()
		for _, w := range newWorkers {
			if served != 0 && nsPid(w) == served {
				return true
			}
		}
		return false
	})
	if !ok {
		var left []int
		for _, w := range workers {
			if alive(w) {
				left = append(left, w)
			}
		}
		t.Fatalf("15s after kill -9 of master %d: old workers alive %v (of %v), new master %d with workers %v, GET served by pid %d (namespace pids); stderr:\n%s",
			master, left, workers, newMaster, newWorkers, served, r.stderr)
	}
	if strings.Contains(r.stderr.String(), "Address already in use") {
		t.Fatalf("a master failed to bind next to the old generation:\n%s", r.stderr)
	}
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(15 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0; stderr:\n%s", code, r.stderr)
	}
}

// Item 4: every child, restarts included, gets the terminal.
func TestRestartedChildGetsTheTerminal(t *testing.T) {
	a, env := helper("state-exit", "1")
	out, code := onPty(t, true, []string{env}, append([]string{"--restart", "always", "--max-restarts", "2", "--backoff", "10ms", "--"}, a...)...)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the last child's); output:\n%s", code, out)
	}
	var runs []string
	bad := false
	for _, block := range strings.Split(out, "pid=")[1:] {
		st := parseState(t, "pid="+block)
		runs = append(runs, fmt.Sprintf("pgrp=%s tpgid=%s", st["pgrp"], st["tpgid"]))
		bad = bad || st["pgrp"] != st["tpgid"]
	}
	if len(runs) != 3 || bad {
		t.Fatalf("runs: %q; want 3, each with pgrp = tpgid (the terminal's foreground group)", runs)
	}
}

// Item 5: a child in tinit's own group still gets forwarded signals.
func TestChildInTinitsGroupGetsForwardedSignals(t *testing.T) {
	requireNamespace(t)
	a, env := helper("join-group-1")
	// setsid: tinit, PID 1, leads its own session and group 1.
	argv := append(append(asPID1[:len(asPID1):len(asPID1)], "setsid", tinitBin, "--grace", "1s", "--"), a...)
	r := startWrapped(t, []string{env}, argv, nil)
	if got := r.line(10 * time.Second); got != "ready" {
		t.Fatalf("child said %q; stderr: %s", got, r.stderr)
	}
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("exit %d, want 0: the child in group 1 did not get the SIGTERM; stderr: %s", code, r.stderr)
	}
}

// ptyShell is an interactive bash, session leader on a pty, with job
// control: the test types into the master and reads what it shows.
type ptyShell struct {
	t      *testing.T
	r      *run
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	pos    int // how far expect has read
}

func startShell(t *testing.T) *ptyShell {
	t.Helper()
	requireNamespace(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		unavailable(t, "bash is needed for the job-control tests")
	}
	master, slavePath := openPty(t)
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &ptyShell{t: t, master: master}
	s.r = startWrapped(t, []string{"PS1=jc$ ", "TERM=dumb"}, []string{bash, "--norc", "--noprofile", "--noediting", "-i"}, func(cmd *exec.Cmd) {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	})
	slave.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	s.expect("jc$ ", 10*time.Second)
	return s
}

func (s *ptyShell) send(text string) {
	s.t.Helper()
	if _, err := s.master.Write([]byte(text)); err != nil {
		s.t.Fatalf("write to the pty: %v", err)
	}
}

// expect waits for text in what the terminal showed after the last match.
func (s *ptyShell) expect(text string, timeout time.Duration) {
	s.t.Helper()
	found := waitFor(timeout, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if i := strings.Index(s.out.String()[s.pos:], text); i >= 0 {
			s.pos += i + len(text)
			return true
		}
		return false
	})
	if !found {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.t.Fatalf("the terminal did not show %q within %v; it showed:\n%s", text, timeout, s.out.String())
	}
}

// fgAndFinish types fg for a stopped job of tinit and its child, which
// both must run again, then a line the child reads and echoes as
// "got:LINE" before it exits 0, and checks the shell saw that 0.
func (s *ptyShell) fgAndFinish(t *testing.T, tinit, child int) {
	t.Helper()
	s.send("fg\n")
	if !waitFor(5*time.Second, func() bool { return !stopped(tinit) && !stopped(child) }) {
		t.Fatalf("after fg: tinit in state %q, its child in %q; want both running", procState(tinit), procState(child))
	}
	s.send("hello\n")
	s.expect("got:hello", 5*time.Second)
	s.expect("jc$ ", 5*time.Second)
	s.send("echo rc=$?\n")
	s.expect("rc=0", 5*time.Second)
	s.send("exit\n")
	s.r.exitCode(5 * time.Second)
}

// Item 6: job control, and the terminal stop signals.
func TestJobControl(t *testing.T) {
	t.Run("Ctrl-Z stops the child and tinit, and fg gives the child the terminal back", func(t *testing.T) {
		s := startShell(t)
		// RE$((1))ADY shows as typed in the echo, as RE1ADY only when run.
		s.send(tinitBin + ` -- /bin/sh -c 'echo RE$((1))ADY; read l; echo got:$l; exit 0'` + "\n")
		s.expect("RE1ADY", 10*time.Second)
		tinit := childOf(t, s.r.cmd.Process.Pid)
		child := childOf(t, tinit)
		killGroupAtEnd(t, child)
		t.Cleanup(func() { unix.Kill(tinit, syscall.SIGKILL) })
		s.send("\x1a")
		s.expect("Stopped", 5*time.Second)
		if !stopped(tinit) || !stopped(child) {
			t.Fatalf("after Ctrl-Z: tinit in state %q, its child in %q; want both T", procState(tinit), procState(child))
		}
		s.expect("jc$ ", 5*time.Second)
		s.fgAndFinish(t, tinit, child)
	})
	t.Run("a background job whose child reads the terminal stops, and fg gives the child the terminal", func(t *testing.T) {
		s := startShell(t)
		s.send(tinitBin + ` -- /bin/sh -c 'echo RE$((1))ADY; read l; echo got:$l; exit 0' &` + "\n")
		s.expect("RE1ADY", 10*time.Second)
		tinit := childOf(t, s.r.cmd.Process.Pid)
		child := childOf(t, tinit)
		killGroupAtEnd(t, child)
		t.Cleanup(func() { unix.Kill(tinit, syscall.SIGKILL) })
		// The read from the background stops the child (SIGTTIN), and
		// tinit with it: the shell sees its job stop.
		if !waitFor(5*time.Second, func() bool { return stopped(tinit) && stopped(child) }) {
			t.Fatalf("after the background read: tinit in state %q, its child in %q; want both T", procState(tinit), procState(child))
		}
		// The shell must have seen the job stop before fg, or fg finds a
		// job it still takes for running and sends no SIGCONT (once in a
		// cold-cache CI run). It says so before its next prompt.
		s.send("\n")
		s.expect("Stopped", 5*time.Second)
		s.expect("jc$ ", 5*time.Second)
		s.fgAndFinish(t, tinit, child)
	})
	t.Run("in an orphaned process group Ctrl-Z stops the child but never tinit, which nothing would continue", func(t *testing.T) {
		// tinit leads its own session on the terminal, as under ssh -t or
		// script: no shell's job control is there to continue it.
		requireNamespace(t)
		master, slavePath := openPty(t)
		slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := startWrapped(t, nil, []string{tinitBin, "--", "/bin/sh", "-c", `echo RE$((1))ADY; read l; echo got:$l; exit 0`}, func(cmd *exec.Cmd) {
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		})
		slave.Close()
		var mu sync.Mutex
		var out bytes.Buffer
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := master.Read(buf)
				mu.Lock()
				out.Write(buf[:n])
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		shown := func(text string) bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(out.String(), text) }
		if !waitFor(10*time.Second, func() bool { return shown("RE1ADY") }) {
			t.Fatal("the child never said it was ready")
		}
		tinit := r.cmd.Process.Pid
		child := childOf(t, tinit)
		killGroupAtEnd(t, child)
		master.Write([]byte("\x1a"))
		if !waitFor(5*time.Second, func() bool { return stopped(child) }) {
			t.Fatalf("after Ctrl-Z: the child in state %q, want T", procState(child))
		}
		time.Sleep(200 * time.Millisecond)
		if stopped(tinit) {
			t.Fatal("tinit stopped itself in an orphaned process group")
		}
		unix.Kill(-child, syscall.SIGCONT)
		master.Write([]byte("hello\n"))
		if !waitFor(5*time.Second, func() bool { return shown("got:hello") }) {
			t.Fatal("the child did not read the line after SIGCONT")
		}
		if code := r.exitCode(10 * time.Second); code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
	})
	t.Run("not PID 1, SIGTSTP stops the child's group with SIGSTOP and stops tinit; SIGCONT resumes both", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec")
		a, env := recordArgs(rec, "TSTP", "CONT", "TERM!")
		r := startDirect(t, []string{env}, append([]string{"--"}, a...)...)
		r.line(10 * time.Second)
		tinit := r.cmd.Process.Pid
		child := childOf(t, tinit)
		killGroupAtEnd(t, child)
		unix.Kill(tinit, syscall.SIGTSTP)
		if !waitFor(5*time.Second, func() bool { return stopped(tinit) && stopped(child) }) {
			t.Fatalf("after SIGTSTP: tinit in state %q, its child in %q; want both T", procState(tinit), procState(child))
		}
		unix.Kill(tinit, syscall.SIGCONT)
		if !waitFor(5*time.Second, func() bool { return !stopped(tinit) && !stopped(child) }) {
			t.Fatalf("after SIGCONT: tinit in state %q, its child in %q; want both running", procState(tinit), procState(child))
		}
		waitRecorded(t, rec, "CONT", 5*time.Second)
		if got := lines(rec); slices.Contains(got, "TSTP") {
			t.Fatalf("the child recorded %q: it got SIGTSTP, not SIGSTOP", got)
		}
		unix.Kill(tinit, syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 0 {
			t.Fatalf("exit %d after SIGTERM, want 0; stderr: %s", code, r.stderr)
		}
	})
	t.Run("not PID 1, with --rewrite TSTP:USR1 the child gets USR1 and tinit still stops", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec")
		a, env := recordArgs(rec, "TSTP", "USR1", "TERM!")
		r := startDirect(t, []string{env}, append([]string{"--rewrite", "TSTP:USR1", "--"}, a...)...)
		r.line(10 * time.Second)
		tinit := r.cmd.Process.Pid
		child := childOf(t, tinit)
		killGroupAtEnd(t, child)
		unix.Kill(tinit, syscall.SIGTSTP)
		waitRecorded(t, rec, "USR1", 5*time.Second)
		if !waitFor(5*time.Second, func() bool { return stopped(tinit) }) {
			t.Fatalf("after SIGTSTP: tinit in state %q, want T", procState(tinit))
		}
		if stopped(child) {
			t.Fatal("the child was stopped: the rewrite should replace the SIGSTOP")
		}
		unix.Kill(tinit, syscall.SIGCONT)
		if !waitFor(5*time.Second, func() bool { return !stopped(tinit) }) {
			t.Fatalf("after SIGCONT: tinit in state %q", procState(tinit))
		}
		unix.Kill(tinit, syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 0 {
			t.Fatalf("exit %d after SIGTERM, want 0; stderr: %s", code, r.stderr)
		}
		if got := lines(rec); slices.Contains(got, "TSTP") {
			t.Fatalf("the child recorded %q: it got the SIGTSTP itself", got)
		}
	})
	t.Run("as PID 1, SIGTSTP stops the child's group but not tinit, and SIGCONT resumes it", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec")
		a, env := recordArgs(rec, "TSTP", "CONT", "TERM!")
		r := startTinit(t, []string{env}, append([]string{"--"}, a...)...)
		r.line(10 * time.Second)
		tinit := r.tinitPid()
		child := childOf(t, tinit)
		r.signal(syscall.SIGTSTP)
		if !waitFor(5*time.Second, func() bool { return stopped(child) }) {
			t.Fatalf("after SIGTSTP: the child in state %q, want T; it recorded %q", procState(child), lines(rec))
		}
		if stopped(tinit) {
			t.Fatal("tinit, PID 1, is stopped")
		}
		r.signal(syscall.SIGCONT)
		if !waitFor(5*time.Second, func() bool { return !stopped(child) }) {
			t.Fatalf("after SIGCONT: the child in state %q", procState(child))
		}
		waitRecorded(t, rec, "CONT", 5*time.Second)
		r.signal(syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 0 {
			t.Fatalf("exit %d after SIGTERM, want 0; stderr: %s", code, r.stderr)
		}
	})
}

// startTinitIn runs tinit as PID 1 with dir as its starting directory.
func startTinitIn(t *testing.T, dir string, env []string, args ...string) *run {
	t.Helper()
	requireNamespace(t)
	var stdout io.Reader
	var stderr bytes.Buffer
	argv := append(append(asPID1[:len(asPID1):len(asPID1)], tinitBin), args...)
	r := startWrapped(t, env, argv, func(cmd *exec.Cmd) {
		cmd.Dir = dir
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout = out
		cmd.Stderr = &stderr
	})
	r.stdout = bufio.NewReader(stdout)
	r.stderr = &stderr
	return r
}

// Item 7: tinit's own cwd is /, its children's the caller's.
func TestWorkingDirectory(t *testing.T) {
	t.Run("tinit moves to / and starts every child, restarts included, in the caller's directory", func(t *testing.T) {
		dir, err := filepath.EvalSymlinks(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		// A relative PROGRAM: run 1 prints its cwd and crashes, run 2
		// prints it and stays.
		app := "#!/bin/sh\necho cwd=$(pwd -P)\necho x >> runs\n[ $(wc -l < runs) -lt 2 ] && exit 1\necho ready\nexec sleep 1000\n"
		if err := os.WriteFile(filepath.Join(dir, "app"), []byte(app), 0o755); err != nil {
			t.Fatal(err)
		}
		r := startTinitIn(t, dir, nil, "--restart", "on-failure", "--backoff", "10ms", "--", "./app")
		for run := 1; run <= 2; run++ {
			if got := r.line(10 * time.Second); got != "cwd="+dir {
				t.Fatalf("run %d: child said %q, want cwd=%s", run, got, dir)
			}
		}
		if got := r.line(10 * time.Second); got != "ready" {
			t.Fatalf("run 2 said %q", got)
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", r.tinitPid()))
		if err != nil || cwd != "/" {
			t.Fatalf("tinit's own cwd is %q (%v), want /", cwd, err)
		}
		r.signal(syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 143 {
			t.Fatalf("exit %d, want 143; stderr: %s", code, r.stderr)
		}
	})
	t.Run("a relative --check-file is found in the caller's directory", func(t *testing.T) {
		dir := t.TempDir()
		port := freePort(t)
		r := startTinitIn(t, dir, nil, "--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--check-file", "ready.flag",
			"--check-interval", "100ms", "--", "/bin/sleep", "1000")
		// Today's tinit refuses a relative --check-file (exit 2): say so
		// rather than wait for a port that never opens.
		var code int
		if !waitFor(10*time.Second, func() bool { code, _ = get(port, "/readyz"); return code == 503 || !r.running() }) || code != 503 {
			if !r.running() {
				t.Fatalf("tinit exited %d with a relative --check-file; stderr: %s", exitCodeOf(t, r.err), r.stderr)
			}
			t.Fatalf("/readyz answered %d before the file exists, want 503", code)
		}
		if err := os.WriteFile(filepath.Join(dir, "ready.flag"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		waitCode(t, port, "/readyz", 200, 5*time.Second)
		r.signal(syscall.SIGTERM)
		r.exitCode(10 * time.Second)
	})
}

// Item 8: a PROGRAM that cannot be started still drains what tinit
// inherited.
func TestProgramThatCannotRunStillDrains(t *testing.T) {
	noexec := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(noexec, []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		program string
		want    int
	}{
		{"a missing PROGRAM: the inherited process gets SIGTERM, then tinit exits 127", "/nonexistent", 127},
		{"a PROGRAM that is not executable: the inherited process gets SIGTERM, then tinit exits 126", noexec, 126},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireNamespace(t)
			dir := t.TempDir()
			rec, ready := filepath.Join(dir, "rec"), filepath.Join(dir, "ready")
			// The catcher takes its time after the SIGTERM: "bye" shows
			// that tinit waited for it rather than ending the namespace.
			catcher := fmt.Sprintf(`sh -c 'trap "echo term >> %[1]s; sleep 0.3; echo bye >> %[1]s; exit 0" TERM; touch %[2]s; while :; do sleep 0.05; done'`, rec, ready)
			script := fmt.Sprintf(`%s & while [ ! -e %s ]; do sleep 0.01; done; exec %s --grace 2s -- %s`, catcher, ready, tinitBin, tt.program)
			r := startWrapped(t, nil, append(asPID1[:len(asPID1):len(asPID1)], "/bin/sh", "-c", script), nil)
			code := r.exitCode(10 * time.Second)
			if got := lines(rec); code != tt.want || strings.Join(got, " ") != "term bye" {
				t.Fatalf("exit %d, the inherited process recorded %q; want %d and term, bye; stderr: %s", code, got, tt.want, r.stderr)
			}
		})
	}
}

// Item 9: no process gets the stop signal twice.
func TestNoProcessGetsTheStopSignalTwice(t *testing.T) {
	for _, tt := range []struct {
		name   string
		prefix string // how the main child starts the other process
	}{
		{"a grandchild in the main child's group gets the forwarded TERM and no second one in the drain", ""},
		{"a process that left the group gets exactly one SIGTERM, in the drain", "setsid "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			g, ready := filepath.Join(dir, "terms"), filepath.Join(dir, "ready")
			// The other process is the count-term helper: it records each
			// TERM as it comes, and exits 0.5s after the first.
			script := fmt.Sprintf(`trap "exit 0" TERM; %s%s %s %s &
while [ ! -e %[4]s ]; do sleep 0.01; done; echo ready; while :; do sleep 0.02; done`, tt.prefix, selfBin, g, ready)
			r := startTinit(t, []string{helperEnv + "=count-term"}, "--", "/bin/sh", "-c", script)
			r.line(10 * time.Second)
			r.signal(syscall.SIGTERM)
			code := r.exitCode(10 * time.Second)
			if got := lines(g); code != 0 || len(got) != 1 {
				t.Fatalf("exit %d, the other process got %d SIGTERMs; want 0 and exactly 1; stderr: %s", code, len(got), r.stderr)
			}
		})
	}
}

// Item 10: signal 33 is the Go runtime's; inherited ignores stay cleared.
func TestSignal33(t *testing.T) {
	t.Run("kill -33 leaves a tinit that is not PID 1 running, and it still forwards a later TERM", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec")
		a, env := recordArgs(rec, "TERM!")
		r := startDirect(t, []string{env}, append([]string{"--"}, a...)...)
		r.line(10 * time.Second)
		tinit := r.cmd.Process.Pid
		killGroupAtEnd(t, childOf(t, tinit))
		unix.Kill(tinit, 33)
		time.Sleep(500 * time.Millisecond)
		// Not r.done: Wait also waits for the pipes the child still holds.
		if !alive(tinit) {
			<-r.done
			t.Fatalf("tinit ended after kill -33: %v; stderr: %s", r.err, r.stderr)
		}
		unix.Kill(tinit, syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 0 {
			t.Fatalf("exit %d after SIGTERM, want 0 (the child's); stderr: %s", code, r.stderr)
		}
		waitRecorded(t, rec, "TERM", time.Second)
	})
	t.Run("a parent that ignores signals 32 and 33 passes neither ignore to the child", func(t *testing.T) {
		st := wrappedState(t, "ignore-32-33-exec")
		for _, n := range []syscall.Signal{32, 33} {
			if sigBit(st["SigIgn"], n) {
				t.Errorf("SigIgn %s: the child inherited the ignore of signal %d", st["SigIgn"], n)
			}
		}
	})
}

// Item 11: signals that must reach the child.
func TestSignalsThatReachTheChild(t *testing.T) {
	t.Run("SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS sent with kill are forwarded, SIGPIPE is not", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec")
		a, env := recordArgs(rec, "SEGV", "BUS", "FPE", "ILL", "TRAP", "SYS", "PIPE", "USR1")
		r := startTinit(t, []string{env}, append([]string{"--"}, a...)...)
		r.line(10 * time.Second)
		for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
			syscall.SIGTRAP, syscall.SIGSYS, syscall.SIGPIPE, syscall.SIGUSR1} {
			r.signal(sig)
			time.Sleep(30 * time.Millisecond)
		}
		// USR1 went last: once it is in, every signal forwarded before it
		// is too.
		waitRecorded(t, rec, "USR1", 5*time.Second)
		time.Sleep(100 * time.Millisecond)
		got := lines(rec)
		sort.Strings(got)
		if want := "BUS FPE ILL SEGV SYS TRAP USR1"; strings.Join(got, " ") != want {
			t.Fatalf("the child recorded %q, want %s", got, want)
		}
		r.signal(syscall.SIGTERM)
		r.exitCode(10 * time.Second)
	})
	alarm := func(t *testing.T, flags []string, want bool) {
		t.Helper()
		rec := filepath.Join(t.TempDir(), "rec")
		a, env := recordArgs(rec, "ALRM", "USR1", "TERM!")
		r := startTinit(t, []string{env}, append(append(flags, "--"), a...)...)
		r.line(10 * time.Second)
		r.signal(syscall.SIGALRM)
		time.Sleep(100 * time.Millisecond)
		r.signal(syscall.SIGUSR1)
		waitRecorded(t, rec, "USR1", 5*time.Second)
		time.Sleep(100 * time.Millisecond)
		if got := slices.Contains(lines(rec), "ALRM"); got != want {
			t.Errorf("tinit %v: SIGALRM forwarded %v, want %v; the child recorded %q", flags, got, want, lines(rec))
		}
		r.signal(syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 0 {
			t.Fatalf("exit %d, want 0; stderr: %s", code, r.stderr)
		}
	}
	t.Run("without --health-addr the heartbeat is off and SIGALRM is forwarded", func(t *testing.T) {
		alarm(t, nil, true)
	})
	t.Run("with --health-addr the heartbeat is on and SIGALRM is not forwarded", func(t *testing.T) {
		alarm(t, []string{"--health-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t))}, false)
	})
	t.Run("with --health-addr and --heartbeat 0 SIGALRM is forwarded", func(t *testing.T) {
		alarm(t, []string{"--health-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--heartbeat", "0"}, true)
	})
}
