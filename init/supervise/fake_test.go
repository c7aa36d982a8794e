package supervise

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/init/proc"
	"github.com/tinit/tinit/reaper"
	"github.com/tinit/tinit/signals"
)

// fakeClock is a clock that moves only when a test says so.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// fakeOps records every operation as a line ("kill -100 TERM") and
// answers from a small model of the process table: which pids and groups
// exist, and what Reap returns next.
type fakeOps struct {
	calls   []string
	nextPid int
	// alive maps a live pid to its process group.
	alive map[int]int
	// exits are what the next Reap returns.
	exits []reaper.Exit
	// others says whether children other than the main child are left.
	others bool
	// startErr fails the next Start.
	startErr error
	// fgOwned: tinit's group holds the terminal.
	fgOwned bool
	// orphaned: tinit's process group is orphaned.
	orphaned bool
	// noProc: leftovers cannot be listed.
	noProc bool
	// killErr fails kill(2) on these targets with this error.
	killErr map[int]error
	// later feeds Reap from another goroutine (Run's tests).
	later chan reaper.Exit
	// parent maps a pid below the main child to its parent, for InTree.
	parent map[int]int
}

func newFakeOps() *fakeOps {
	return &fakeOps{nextPid: 100, alive: map[int]int{}, killErr: map[int]error{}}
}

func (f *fakeOps) record(format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fakeOps) Start(spec proc.Spec) (proc.Child, error) {
	f.record("start prev=%d dir=%s", spec.PrevGroup, spec.Dir)
	if err := f.startErr; err != nil {
		f.startErr = nil
		return proc.Child{}, err
	}
	pid := f.nextPid
	f.nextPid += 100
	f.alive[pid] = pid
	return proc.Child{Pid: pid, Foreground: true}, nil
}

func (f *fakeOps) Kill(pid int, sig unix.Signal) error {
	name := "0"
	if sig != 0 {
		name = strings.TrimPrefix(signals.Name(sig), "SIG")
		f.record("kill %d %s", pid, name)
	}
	if err, ok := f.killErr[pid]; ok {
		return err
	}
	if pid < 0 {
		for _, g := range f.alive {
			if g == -pid {
				return nil
			}
		}
		return fmt.Errorf("kill(%d): %w", pid, proc.ErrNoProcess)
	}
	if _, ok := f.alive[pid]; !ok {
		return fmt.Errorf("kill(%d): %w", pid, proc.ErrNoProcess)
	}
	return nil
}

func (f *fakeOps) Getpgid(pid int) (int, error) {
	g, ok := f.alive[pid]
	if !ok {
		return 0, fmt.Errorf("getpgid(%d): %w", pid, unix.ESRCH)
	}
	return g, nil
}

func (f *fakeOps) Reap(buf []reaper.Exit) ([]reaper.Exit, bool, error) {
	for more := true; more && f.later != nil; {
		select {
		case e := <-f.later:
			f.exits = append(f.exits, e)
		default:
			more = false
		}
	}
	n := min(cap(buf)-len(buf), len(f.exits))
	buf = append(buf, f.exits[:n]...)
	for _, e := range f.exits[:n] {
		if !e.Status.Stopped() && !e.Status.Continued() {
			delete(f.alive, e.Pid)
		}
	}
	f.exits = f.exits[n:]
	return buf, len(f.exits) > 0 || len(f.alive) > 0 || f.others, nil
}

func (f *fakeOps) SignalLeftovers(sig unix.Signal, skip []int) (int, error) {
	list := "0"
	if len(skip) > 0 {
		slices.Sort(skip)
		list = strings.Trim(fmt.Sprint(skip), "[]")
	}
	f.record("leftovers %s skip=%s", strings.TrimPrefix(signals.Name(sig), "SIG"), list)
	if f.noProc {
		return 0, fmt.Errorf("open /proc: %w", unix.ENOENT)
	}
	return 1, nil
}

func (f *fakeOps) Leftovers() []int { return []int{999} }

func (f *fakeOps) CanStop() bool { return !f.orphaned }

func (f *fakeOps) InTree(pid, root int) bool {
	for i := 0; i < 100 && pid > 0; i++ {
		if pid == root {
			return true
		}
		pid = f.parent[pid]
	}
	return false
}

func (f *fakeOps) Foreground(pgid int) (bool, error) {
	if !f.fgOwned {
		return false, nil
	}
	f.record("foreground %d", pgid)
	return true, nil
}

// exit queues the exit of pid with code, or its death by sig when code
// is negative (-sig).
func (f *fakeOps) exit(pid, code int) {
	ws := unix.WaitStatus(code << 8)
	if code < 0 {
		ws = unix.WaitStatus(-code)
	}
	f.exits = append(f.exits, reaper.Exit{Pid: pid, Status: ws})
}

// stop queues a stop of pid by sig, as WUNTRACED reports it.
func (f *fakeOps) stop(pid int, sig unix.Signal) {
	f.exits = append(f.exits, reaper.Exit{Pid: pid, Status: unix.WaitStatus(0x7f | int(sig)<<8)})
}

// cont queues a continue of pid, as WCONTINUED reports it.
func (f *fakeOps) cont(pid int) {
	f.exits = append(f.exits, reaper.Exit{Pid: pid, Status: unix.WaitStatus(0xffff)})
}

// take returns the calls recorded since the last take.
func (f *fakeOps) take() string {
	s := strings.Join(f.calls, "; ")
	f.calls = nil
	return s
}

// harness is a machine wired to fakes.
type harness struct {
	t     *testing.T
	m     *machine
	ops   *fakeOps
	clock *fakeClock
}

const (
	testGrace = 8 * time.Second
	testDrain = 2 * time.Second
)

// newHarness builds a machine with tinit's defaults (group forwarding,
// TERM, INT and QUIT stop signals, an 8 s grace) changed by opts, and
// starts its first child (pid 100). self is tinit's pid (1 as PID 1).
func newHarness(t *testing.T, self int, opts ...func(*Config)) *harness {
	t.Helper()
	h := unstartedHarness(t, self, opts...)
	if h.m.start() {
		t.Fatal("start: done at once")
	}
	h.ops.take()
	return h
}

// unstartedHarness is newHarness before its first start, for tests that
// make that start fail.
func unstartedHarness(t *testing.T, self int, opts ...func(*Config)) *harness {
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(logrus.TraceLevel) // every log line's code runs too
	cfg := Config{
		Argv:        []string{"app"},
		Dir:         "/srv",
		Group:       true,
		StopSignals: map[unix.Signal]bool{unix.SIGTERM: true, unix.SIGINT: true, unix.SIGQUIT: true},
		Grace:       testGrace,
		Restart:     Restart{Backoff: 100 * time.Millisecond, BackoffMax: time.Second, BackoffReset: 10 * time.Second},
		Reload:      Reload{On: true, Signal: unix.SIGHUP, RestartSignal: testRestartSignal},
		Log:         log,
	}
	for _, o := range opts {
		o(&cfg)
	}
	h := &harness{t: t, ops: newFakeOps(), clock: &fakeClock{now: time.Unix(1_000_000, 0)}}
	if w, ok := cfg.Wait.Targets.(*fakeWaiter); ok {
		w.ops = h.ops
	}
	h.m = newMachine(cfg, h.ops, h.clock, self)
	return h
}

// advance moves the clock to the phase's deadline and fires it.
func (h *harness) advance() bool {
	h.t.Helper()
	if h.m.deadline.IsZero() {
		h.t.Fatalf("advance in phase %v: no deadline", h.m.phase)
	}
	h.clock.now = h.m.deadline
	return h.m.onTimer()
}

// want checks the phase and the operations since the last check.
func (h *harness) want(p phase, calls string) {
	h.t.Helper()
	if h.m.phase != p {
		h.t.Errorf("phase %v, want %v", h.m.phase, p)
	}
	if got := h.ops.take(); got != calls {
		h.t.Errorf("operations:\n got: %s\nwant: %s", got, calls)
	}
}

func restartOnFailure(c *Config) { c.Restart.Policy = RestartOnFailure }
func withDrain(c *Config)        { c.Drain = testDrain }
func notifyTimeout(c *Config)    { c.Notify = Notify{On: true, Timeout: time.Second} }
func singleChild(c *Config)      { c.Group = false }

// fakeWaiter stands for the --wait-for targets: the test says when they
// have held (the "held" event); Start and Stop are recorded with the
// operations.
type fakeWaiter struct {
	ops  *fakeOps
	held chan struct{}
}

func (w *fakeWaiter) Start() <-chan struct{} {
	w.ops.record("wait start")
	w.held = make(chan struct{})
	return w.held
}

func (w *fakeWaiter) Stop() { w.ops.record("wait stop") }

func (w *fakeWaiter) Failing() []string {
	return []string{"tcp://127.0.0.1:5432: connection refused"}
}

// testRestartSignal is the harness's --restart-signal.
const testRestartSignal = unix.SIGPWR

func withWait(c *Config)        { c.Wait.Targets = &fakeWaiter{} }
func waitOnRestart(c *Config)   { c.Wait = Wait{Targets: &fakeWaiter{}, OnRestart: true} }
func withWaitTimeout(c *Config) { c.Wait = Wait{Targets: &fakeWaiter{}, Timeout: 12 * time.Second} }
func reloadByRestart(c *Config) { c.Reload.Restart, c.Reload.Signal = true, 0 }
