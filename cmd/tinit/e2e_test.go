package main_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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

	"golang.org/x/sys/unix"
)

// asPID1 runs a command as PID 1 of a fresh PID namespace with its own
// /proc; --kill-child takes the namespace down if the test kills unshare.
var asPID1 = []string{"unshare", "--pid", "--fork", "--mount-proc", "--kill-child"}

var (
	tinitBin string // the binary under test, built once
	selfBin  string // this test binary, run as the child
	e2eDir   string // removed when the tests end
)

func TestMain(m *testing.M) {
	runHelper()
	dir, err := os.MkdirTemp("", "tinit-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	e2eDir = dir
	tinitBin = filepath.Join(dir, "tinit")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", tinitBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build tinit: %v\n%s", err, out)
		os.Exit(1)
	}
	selfBin, _ = os.Executable()
	code := m.Run()
	stopDockerd()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireNamespace skips when a PID namespace cannot be made here, and
// fails instead under CI, where every test must run.
func requireNamespace(t *testing.T) {
	t.Helper()
	out, err := exec.Command(asPID1[0], append(asPID1[1:], "true")...).CombinedOutput()
	if err == nil {
		return
	}
	unavailable(t, fmt.Sprintf("cannot create a PID namespace (root and util-linux's unshare are needed): %v %s", err, out))
}

// unavailable stops a test whose tool or facility this machine lacks: it
// skips, except under CI, where every test must run and so it fails.
func unavailable(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// exitCodeOf is the exit code behind a Wait or Run error; any other error
// (the command never ran) fails the test.
func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return 0
}

// run is tinit started as PID 1 of a fresh PID namespace.
type run struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *bufio.Reader
	stderr *bytes.Buffer
	done   chan struct{}
	err    error
}

// helper returns argv running this test binary as the named helper; the
// mode travels in the environment.
func helper(mode string, args ...string) (argv []string, env string) {
	return append([]string{selfBin}, args...), helperEnv + "=" + mode
}

// startTinit runs "tinit FLAGS -- ARGV" as PID 1 with extra environment.
func startTinit(t *testing.T, env []string, args ...string) *run {
	t.Helper()
	requireNamespace(t)
	return startWrapped(t, env, append(append(asPID1[:len(asPID1):len(asPID1)], tinitBin), args...), nil)
}

func startWrapped(t *testing.T, env []string, argv []string, setup func(*exec.Cmd)) *run {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	// A process that outlives the test must not hold Wait forever through
	// the output pipes.
	cmd.WaitDelay = 2 * time.Second
	r := &run{t: t, cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	if setup != nil {
		setup(cmd)
	} else {
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		r.stdout = bufio.NewReader(out)
		cmd.Stderr = r.stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// line reads one line of the child's stdout, bounded in time.
func (r *run) line(timeout time.Duration) string {
	r.t.Helper()
	got := make(chan string, 1)
	go func() {
		s, _ := r.stdout.ReadString('\n')
		got <- strings.TrimSuffix(s, "\n")
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(timeout):
		r.t.Fatalf("no output within %v; stderr: %s", timeout, r.stderr)
		return ""
	}
}

// exitCode waits for tinit, bounded in time, and returns its exit code.
func (r *run) exitCode(timeout time.Duration) int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		r.cmd.Process.Kill()
		<-r.done
		r.t.Fatalf("tinit did not exit within %v; stderr: %s", timeout, r.stderr)
	}
	return exitCodeOf(r.t, r.err)
}

// tinitPid is tinit's pid as seen from the test: unshare's only child.
func (r *run) tinitPid() int {
	r.t.Helper()
	return childOf(r.t, r.cmd.Process.Pid)
}

func (r *run) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := unix.Kill(r.tinitPid(), sig); err != nil {
		r.t.Fatalf("kill tinit: %v", err)
	}
}

func TestExitCodesAsPID1(t *testing.T) {
	argv := func(mode string, args ...string) ([]string, []string) {
		a, e := helper(mode, args...)
		return a, []string{e}
	}
	tests := []struct {
		name  string
		flags []string
		mode  string
		args  []string
		want  int
	}{
		{"exit 0 is 0", nil, "exit", []string{"0"}, 0},
		{"exit 3 is 3", nil, "exit", []string{"3"}, 3},
		{"killed by SIGTERM is 143", nil, "selfkill", []string{"15"}, 143},
		{"killed by SIGKILL is 137", nil, "selfkill", []string{"9"}, 137},
		{"-e 143 maps 143 to 0", []string{"-e", "143"}, "selfkill", []string{"15"}, 0},
		{"--remap-exit 3:4 maps 3 to 4", []string{"--remap-exit", "3:4"}, "exit", []string{"3"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, env := argv(tt.mode, tt.args...)
			r := startTinit(t, env, append(append(tt.flags, "--"), a...)...)
			if got := r.exitCode(10 * time.Second); got != tt.want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, tt.want, r.stderr)
			}
		})
	}
}

func TestProgramThatCannotRun(t *testing.T) {
	noexec := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(noexec, []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		program string
		want    int
	}{
		{"a missing PROGRAM is 127", "tinit-no-such-program", 127},
		{"a missing path is 127", "/no/such/file", 127},
		{"a file that is not executable is 126", noexec, 126},
		{"a directory is 126", "/tmp", 126},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startTinit(t, nil, "--", tt.program)
			if got := r.exitCode(10 * time.Second); got != tt.want {
				t.Fatalf("exit %d, want %d", got, tt.want)
			}
			msg := strings.TrimSpace(r.stderr.String())
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tt.program) {
				t.Fatalf("stderr %q: want one line naming %q", msg, tt.program)
			}
		})
	}
}

// wantUsageError runs tinit with env and args before a PROGRAM that
// would leave a mark, and wants a usage error: exit 2, one line for the
// one problem (beside the hint to try --help) naming each of names, and
// no child run.
func wantUsageError(t *testing.T, env, args []string, names ...string) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "ran")
	r := startTinit(t, env, append(args, "--", "/bin/sh", "-c", "touch "+marker)...)
	if code := r.exitCode(10 * time.Second); code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, r.stderr)
	}
	msg := usageProblems(r.stderr.String())
	if len(msg) != 1 {
		t.Fatalf("stderr %q: want one line for the one problem (and the hint to try --help)", r.stderr)
	}
	for _, n := range names {
		if !strings.Contains(msg[0], n) {
			t.Errorf("stderr %q does not name %q", msg[0], n)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the child ran despite the usage error")
	}
}

// usageProblems is stderr's lines less the hint to try --help, which
// follows every usage error.
func usageProblems(stderr string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.Contains(line, "tinit --help") {
			out = append(out, line)
		}
	}
	return out
}

func TestUsageErrorStartsNoChild(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"--bogus"}, "--bogus"},
		{"bad flag value", nil, []string{"--rewrite", "TERM"}, "--rewrite"},
		{"bad variable", []string{"TINIT_LOG_LEVEL=loud"}, nil, "TINIT_LOG_LEVEL"},
		{"bad tini variable", []string{"TINI_VERBOSITY=x"}, nil, "TINI_VERBOSITY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantUsageError(t, tt.env, tt.args, tt.want) })
	}
	t.Run("no PROGRAM", func(t *testing.T) {
		r := startTinit(t, nil)
		if got := r.exitCode(10 * time.Second); got != 2 {
			t.Fatalf("exit %d, want 2", got)
		}
	})
}

func TestParentDeathSignal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "got")
	a, env := helper("pdeath", tinitBin, file)
	r := startTinit(t, []string{env}, append([]string{"--"}, a...)...)
	if got := r.line(10 * time.Second); got != "terminated" {
		t.Fatalf("tinit -p TERM: its child got %q after tinit's parent died, want SIGTERM", got)
	}
}

func TestModeFlagsExitZero(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-V"}, {"-h"}, {"--help"}, {"-l"}} {
		out, err := exec.Command(tinitBin, args...).Output()
		if err != nil || !strings.Contains(string(out), "tinit") {
			t.Errorf("tinit %v: %v, output %q", args, err, out)
		}
	}
}

func TestOrphansAreReaped(t *testing.T) {
	a, env := helper("orphans", "5000")
	r := startTinit(t, []string{env}, append([]string{"--log-level", "debug", "--"}, a...)...)
	if got := r.line(60 * time.Second); got != "zombies=0" {
		t.Fatalf("a second after 5,000 orphans: %s", got)
	}
	r.signal(syscall.SIGTERM)
	if got := r.exitCode(10 * time.Second); got != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143", got)
	}
	// Lines that stderr could not take in time are dropped and counted.
	n := strings.Count(r.stderr.String(), "reaped orphan")
	for _, m := range regexp.MustCompile(`log lines dropped: stderr was not being read" dropped=(\d+)`).FindAllStringSubmatch(r.stderr.String(), -1) {
		d, _ := strconv.Atoi(m[1])
		n += d
	}
	if n < 5000 {
		t.Fatalf("tinit logged %d reaped orphans (counting dropped lines), want at least 5000", n)
	}
}

func TestSIGTERMDuringAnOrphanStorm(t *testing.T) {
	a, env := helper("storm-and-block", "10000")
	r := startTinit(t, []string{env}, append([]string{"--"}, a...)...)
	if got := r.line(30 * time.Second); got != "ready" {
		t.Fatalf("child said %q", got)
	}
	r.signal(syscall.SIGTERM)
	if got := r.exitCode(30 * time.Second); got != 143 {
		t.Fatalf("exit %d, want 143: the SIGTERM was lost in the storm", got)
	}
}

// family runs the family helper under tinit and returns the signals the
// main child and its grandchild got ("" for none) and tinit's exit code.
func family(t *testing.T, stormN int, vars, flags []string, send ...syscall.Signal) (mainSig, grandSig string, code int) {
	t.Helper()
	dir := t.TempDir()
	mf, gf := filepath.Join(dir, "main"), filepath.Join(dir, "grand")
	a, env := helper("family", mf, gf, strconv.Itoa(stormN))
	args := append(append(flags, "--"), a...)
	r := startTinit(t, append([]string{env}, vars...), args...)
	if got := r.line(30 * time.Second); got != "ready" {
		t.Fatalf("child said %q", got)
	}
	for _, s := range send {
		r.signal(s)
		time.Sleep(20 * time.Millisecond)
	}
	code = r.exitCode(30 * time.Second)
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	return read(mf), read(gf), code
}

func TestSignalForwarding(t *testing.T) {
	tests := []struct {
		name           string
		flags          []string
		send           []syscall.Signal
		mainSig, grand string
		vars           []string
	}{
		{"SIGTERM reaches the child's whole group", nil, []syscall.Signal{syscall.SIGTERM}, "terminated", "terminated", nil},
		{"--single-child spares the grandchild", []string{"--single-child"}, []syscall.Signal{syscall.SIGTERM}, "terminated", "", nil},
		// dumb-init's command lines, as they are in ENTRYPOINTs today.
		{"dumb-init's -c spares the grandchild", []string{"-c"}, []syscall.Signal{syscall.SIGTERM}, "terminated", "", nil},
		{"DUMB_INIT_SETSID=0 spares the grandchild", nil, []syscall.Signal{syscall.SIGTERM}, "terminated", "", []string{"DUMB_INIT_SETSID=0"}},
		{"--single-child twice is once", []string{"--single-child", "--single-child"}, []syscall.Signal{syscall.SIGTERM}, "terminated", "", nil},
		{"dumb-init's -r 15:3 delivers SIGQUIT for a SIGTERM", []string{"-r", "15:3"}, []syscall.Signal{syscall.SIGTERM}, "quit", "quit", nil},
		{"--rewrite TERM:USR1 sends USR1", []string{"--rewrite", "TERM:USR1"}, []syscall.Signal{syscall.SIGTERM}, "user defined signal 1", "user defined signal 1", nil},
		// One fault signal each: the first signal a helper records ends
		// the family, and tinit with it.
		{"SIGSEGV sent with kill(2) reaches the child's whole group",
			nil, []syscall.Signal{syscall.SIGSEGV}, "segmentation fault", "segmentation fault", nil},
		{"SIGBUS sent with kill(2) reaches the child's whole group",
			nil, []syscall.Signal{syscall.SIGBUS}, "bus error", "bus error", nil},
		{"SIGPIPE is not forwarded", nil, []syscall.Signal{syscall.SIGPIPE, syscall.SIGHUP}, "hangup", "hangup", nil},
		{"a signal rewritten to 0 is dropped", []string{"--rewrite", "HUP:0"}, []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT}, "quit", "quit", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, g, code := family(t, 0, tt.vars, tt.flags, tt.send...)
			if code != 43 || m != tt.mainSig || g != tt.grand {
				t.Fatalf("main child got %q, grandchild %q, exit %d; want %q, %q, 43", m, g, code, tt.mainSig, tt.grand)
			}
		})
	}
	t.Run("SIGTERM reaches a grandchild in the middle of an orphan storm", func(t *testing.T) {
		m, g, code := family(t, 10000, nil, nil, syscall.SIGTERM)
		if code != 43 || m != "terminated" || g != "terminated" {
			t.Fatalf("main child got %q, grandchild %q, exit %d", m, g, code)
		}
	})
}

func TestSIGURGIsNeverForwarded(t *testing.T) {
	// A shell, not a Go catcher: the Go runtime sends itself SIGURG.
	urg := filepath.Join(t.TempDir(), "urg")
	r := startTinit(t, nil, "--", "/bin/sh", "-c", `trap "echo urg > `+urg+`" URG; echo ready; while :; do sleep 0.05; done`)
	r.line(10 * time.Second)
	r.signal(syscall.SIGURG)
	time.Sleep(300 * time.Millisecond)
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(10 * time.Second); code != 143 {
		t.Fatalf("exit %d, want 143", code)
	}
	if _, err := os.Stat(urg); err == nil {
		t.Fatal("the child got SIGURG")
	}
}

func TestSIGTERMInABurstWhileTheLogIsStalled(t *testing.T) {
	requireNamespace(t)
	// stderr is a pipe that nobody reads until the signals are sent: a
	// blocking log driver with a stalled reader.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	a, env := helper("burst")
	argv := append(append(append([]string{}, asPID1...), tinitBin, "-w", "--"), a...)
	var stdout *bufio.Reader
	r := startWrapped(t, []string{env}, argv, func(cmd *exec.Cmd) {
		out, _ := cmd.StdoutPipe()
		stdout = bufio.NewReader(out)
		cmd.Stderr = pw
	})
	r.stdout = stdout
	pw.Close()
	if got := r.line(60 * time.Second); got != "sent" {
		t.Fatalf("child said %q", got)
	}
	time.Sleep(500 * time.Millisecond)
	go io.Copy(io.Discard, pr)
	if code := r.exitCode(20 * time.Second); code != 143 {
		t.Fatalf("exit %d, want 143: the SIGTERM was lost", code)
	}
}

func TestScriptWithoutShebangRunsWithTheShell(t *testing.T) {
	script := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(script, []byte("echo hi from script\nexit 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := startTinit(t, nil, "--", script)
	if got := r.line(10 * time.Second); got != "hi from script" {
		t.Fatalf("output %q", got)
	}
	if code := r.exitCode(10 * time.Second); code != 5 {
		t.Fatalf("exit %d, want 5", code)
	}
}

// state runs the state helper under tinit with the given wrapper and
// returns what it printed.
func parseState(t *testing.T, out string) map[string]string {
	t.Helper()
	st := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			st[k] = v
		}
	}
	if st["pid"] == "" {
		t.Fatalf("no state in output %q", out)
	}
	return st
}

func sigBit(mask string, sig syscall.Signal) bool {
	v, _ := strconv.ParseUint(mask, 16, 64)
	return v&(1<<(uint(sig)-1)) != 0
}

func TestChildStartsClean(t *testing.T) {
	a, env := helper("state")
	r := startTinit(t, []string{env}, append([]string{"--"}, a...)...)
	out, _ := io.ReadAll(r.stdout)
	if code := r.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, r.stderr)
	}
	st := parseState(t, string(out))
	t.Run("in a new process group of its own", func(t *testing.T) {
		if st["pgrp"] != st["pid"] {
			t.Fatalf("pgrp %s, pid %s", st["pgrp"], st["pid"])
		}
	})
	t.Run("with no signal ignored or blocked", func(t *testing.T) {
		if st["SigIgn"] != "0000000000000000" || st["SigBlk"] != "0000000000000000" {
			t.Fatalf("SigIgn %s SigBlk %s", st["SigIgn"], st["SigBlk"])
		}
	})
}

func TestChildGetsNoFdOfTinits(t *testing.T) {
	// ls lists the shell's fds from outside: a Go child would show its own
	// runtime's, and a glob its own directory fd.
	r := startTinit(t, nil, "--", "/bin/sh", "-c", "ls /proc/$$/fd; :")
	out, _ := io.ReadAll(r.stdout)
	if code := r.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, r.stderr)
	}
	want := append([]string{"0", "1", "2"}, inheritable(t)...)
	got := strings.Fields(string(out))
	sort.Slice(got, func(i, j int) bool { a, _ := strconv.Atoi(got[i]); b, _ := strconv.Atoi(got[j]); return a < b })
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("child's fds %q, want %q (0-2 and what the test itself passes on)", got, want)
	}
}

// inheritable lists this process's fds above 2 without close-on-exec:
// whatever ran the tests handed them down, and every child inherits them.
func inheritable(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		if fd <= 2 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	sort.Ints(fds)
	var out []string
	for _, fd := range fds {
		out = append(out, strconv.Itoa(fd))
	}
	return out
}

// wrappedState runs tinit as PID 1 through a helper that changes what
// tinit inherits (mode), and returns the state its child reports.
func wrappedState(t *testing.T, mode string) map[string]string {
	t.Helper()
	requireNamespace(t)
	argv := append(append([]string{selfBin}, asPID1...), tinitBin, "--", selfBin)
	r := startWrapped(t, []string{helperEnv + "=" + mode, "E2E_NEXT=state"}, argv, nil)
	out, _ := io.ReadAll(r.stdout)
	if code := r.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, r.stderr)
	}
	return parseState(t, string(out))
}

func TestInheritedIgnoreOfSIGHUPIsKept(t *testing.T) {
	st := wrappedState(t, "ignore-hup-exec")
	if !sigBit(st["SigIgn"], syscall.SIGHUP) {
		t.Fatalf("SigIgn %s: SIGHUP not ignored in the child", st["SigIgn"])
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTTIN, syscall.SIGTTOU} {
		if sigBit(st["SigIgn"], sig) {
			t.Fatalf("SigIgn %s: the child was handed an ignore of %v it did not have", st["SigIgn"], sig)
		}
	}
}

func TestInheritedIgnoreOfSignal32IsCleared(t *testing.T) {
	st := wrappedState(t, "ignore-32-exec")
	if st["SigIgn"] != "0000000000000000" {
		t.Fatalf("SigIgn %s: the child inherited an ignore of a C library signal", st["SigIgn"])
	}
}

func TestInheritedBlockedSignalIsCleared(t *testing.T) {
	st := wrappedState(t, "block-usr1-exec")
	if st["SigBlk"] != "0000000000000000" {
		t.Fatalf("SigBlk %s: the child inherited a blocked signal", st["SigBlk"])
	}
}

// openPty returns a new pseudo-terminal's master and the path of its slave.
func openPty(t *testing.T) (*os.File, string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	return master, fmt.Sprintf("/dev/pts/%d", n)
}

// onPty runs tinit as PID 1 with a pty as stdin, stdout and stderr, in a
// new session; ctty makes the pty that session's controlling terminal, as
// docker run -t does. It returns everything written to the terminal.
func onPty(t *testing.T, ctty bool, env []string, args ...string) (string, int) {
	t.Helper()
	return onPtyWith(t, ctty, nil, env, args...)
}

// onPtyWith is onPty with a hook to set the terminal up first.
func onPtyWith(t *testing.T, ctty bool, setup func(*os.File), env []string, args ...string) (string, int) {
	t.Helper()
	requireNamespace(t)
	master, slavePath := openPty(t)
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(slave)
	}
	argv := append(append(asPID1[:len(asPID1):len(asPID1)], tinitBin), args...)
	r := startWrapped(t, env, argv, func(cmd *exec.Cmd) {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: ctty, Ctty: 0}
	})
	slave.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, master) // ends with EIO once every slave fd is closed
		close(copied)
	}()
	code := r.exitCode(10 * time.Second)
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	return out.String(), code
}

func TestTerminalForegroundGroup(t *testing.T) {
	a, env := helper("state")
	t.Run("the child's new group becomes the terminal's foreground group", func(t *testing.T) {
		out, code := onPty(t, true, []string{env}, append([]string{"--"}, a...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		st := parseState(t, out)
		if st["pgrp"] != st["pid"] || st["tpgid"] != st["pgrp"] {
			t.Fatalf("pid %s pgrp %s tpgid %s: want pid = pgrp = tpgid", st["pid"], st["pgrp"], st["tpgid"])
		}
		if sigBit(st["SigIgn"], syscall.SIGTTIN) || sigBit(st["SigIgn"], syscall.SIGTTOU) {
			t.Fatalf("SigIgn %s: the child inherited an ignored SIGTTIN or SIGTTOU", st["SigIgn"])
		}
	})
	t.Run("a terminal that is not tinit's own is left alone", func(t *testing.T) {
		out, code := onPty(t, false, []string{env}, append([]string{"--"}, a...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		st := parseState(t, out)
		if st["pgrp"] != st["pid"] || st["tpgid"] != "-1" {
			t.Fatalf("pid %s pgrp %s tpgid %s: want a new group and no controlling terminal", st["pid"], st["pgrp"], st["tpgid"])
		}
		if strings.Contains(out, "could not take the terminal") {
			t.Fatalf("tinit made a terminal call on a terminal that is not its own: %s", out)
		}
	})
	t.Run("under stty tostop tinit still logs once the child has the terminal", func(t *testing.T) {
		// tinit writes its info lines from the background: with tostop the
		// kernel answers with SIGTTOU, which must not stop or hang it.
		out, code := onPtyWith(t, true, func(slave *os.File) {
			tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			tio.Lflag |= unix.TOSTOP
			if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
				t.Fatal(err)
			}
		}, nil, "-v", "--", "/bin/sleep", "0.2")
		if code != 0 || !strings.Contains(out, "main child exited 0") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	t.Run("a tinit started as a background job leaves the terminal to the shell", func(t *testing.T) {
		requireNamespace(t) // root, as the other terminal tests
		master, slavePath := openPty(t)
		slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := startWrapped(t, []string{helperEnv + "=bg-run", "E2E_NEXT=state"}, []string{selfBin, tinitBin, "--", selfBin}, func(cmd *exec.Cmd) {
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		})
		slave.Close()
		var buf bytes.Buffer
		copied := make(chan struct{})
		go func() { io.Copy(&buf, master); close(copied) }()
		r.exitCode(10 * time.Second)
		select {
		case <-copied:
		case <-time.After(2 * time.Second):
		}
		st := parseState(t, buf.String())
		if st["tpgid"] != st["leader_pgrp"] {
			t.Fatalf("terminal's foreground group %s, want the session leader's %s (child pgrp %s)", st["tpgid"], st["leader_pgrp"], st["pgrp"])
		}
	})
}

// childOf returns the first child of pid, waiting for it to appear.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	return childWhere(t, pid, "child", func(int) bool { return true })
}

// mainChildOf returns the child of tinit pid that leads its own process
// group: tinit's main child, not an orphan re-parented to it (a subreaper
// lists those among its children too, in no useful order).
func mainChildOf(t *testing.T, pid int) int {
	t.Helper()
	return childWhere(t, pid, "child leading its own group", func(c int) bool {
		pg, err := unix.Getpgid(c)
		return err == nil && pg == c
	})
}

// childWhere returns the first child of pid that match takes, waiting
// for one to appear; what names it in the failure.
func childWhere(t *testing.T, pid int, what string, match func(int) bool) int {
	t.Helper()
	// children is kept per thread, and a Go program forks from any of
	// its threads: look at them all.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		for _, p := range tasks {
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if c, _ := strconv.Atoi(f); match(c) {
					return c
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("process %d has no %s", pid, what)
	return 0
}

func procState(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i > 0 && len(s) > i+2 {
		return s[i+2 : i+3]
	}
	return ""
}

func TestNotPID1(t *testing.T) {
	// The outer tinit is the namespace's PID 1; the inner one is not.
	a, env := helper("orphans", "200")
	r := startTinit(t, []string{env}, append([]string{"--", tinitBin, "-w", "--"}, a...)...)
	if got := r.line(30 * time.Second); got != "zombies=0" {
		t.Fatalf("after 200 orphans: %s", got)
	}
	inner := childOf(t, r.tinitPid())
	t.Run("SIGTTIN and SIGTTOU stop its child's group and then itself, and SIGCONT resumes both", func(t *testing.T) {
		// Not childOf: the inner tinit is a subreaper, and an orphan
		// still exiting can be listed first (once, in a loaded CI run).
		child := mainChildOf(t, inner)
		defer func() {
			// Whatever happened, leave both running for the next subtest.
			unix.Kill(-child, syscall.SIGCONT)
			unix.Kill(inner, syscall.SIGCONT)
		}()
		for _, sig := range []syscall.Signal{syscall.SIGTTIN, syscall.SIGTTOU} {
			unix.Kill(inner, sig)
			if !waitFor(5*time.Second, func() bool { return stopped(inner) && stopped(child) }) {
				t.Fatalf("after %s: inner tinit in state %q, its child in %q; want both T", unix.SignalName(sig), procState(inner), procState(child))
			}
			unix.Kill(inner, syscall.SIGCONT)
			if !waitFor(5*time.Second, func() bool { return !stopped(inner) && !stopped(child) }) {
				t.Fatalf("after %s and SIGCONT: inner tinit in state %q, its child in %q; want both running", unix.SignalName(sig), procState(inner), procState(child))
			}
		}
	})
	t.Run("SIGTERM goes through both to the child", func(t *testing.T) {
		unix.Kill(inner, syscall.SIGTERM)
		if got := r.exitCode(10 * time.Second); got != 143 {
			t.Fatalf("exit %d, want 143", got)
		}
	})
	// Read after exit: the log lines follow the reaps that the helper saw.
	t.Run("it registers as subreaper and reaps the orphans itself", func(t *testing.T) {
		if n := strings.Count(r.stderr.String(), "reaped orphan"); n < 200 {
			t.Fatalf("the inner tinit (-w) logged %d reaped orphans, want 200", n)
		}
	})
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string) {
		out, err := exec.Command(tinitBin, args...).CombinedOutput()
		return exitCodeOf(t, err), string(out)
	}
	t.Run("copies itself to DIR/tinit, executable, twice over", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if code, out := run("--install", dir); code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
		}
		fi, err := os.Stat(filepath.Join(dir, "tinit"))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("installed file: %v, %v", fi, err)
		}
		want, _ := os.ReadFile(tinitBin)
		got, _ := os.ReadFile(filepath.Join(dir, "tinit"))
		if !bytes.Equal(want, got) {
			t.Fatal("the installed binary differs from tinit")
		}
		out, err := exec.Command(filepath.Join(dir, "tinit"), "--version").Output()
		if err != nil || !strings.HasPrefix(string(out), "tinit ") {
			t.Fatalf("installed tinit --version: %q, %v", out, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("leftovers in %s: %v", dir, ents)
		}
	})
	t.Run("a missing directory is exit 1, named", func(t *testing.T) {
		missing := filepath.Join(dir, "nope")
		if code, out := run("--install", missing); code != 1 || !strings.Contains(out, missing) {
			t.Fatalf("exit %d: %q", code, out)
		}
	})
	t.Run("no DIR is a usage error", func(t *testing.T) {
		if code, _ := run("--install"); code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
	})
}
