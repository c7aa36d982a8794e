package supervise

import (
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/watch"
	"github.com/tinit/tinit/reaper"
	"github.com/tinit/tinit/signals"
)

// fakeTicker stands for the interval timer.
type fakeTicker struct {
	err             error
	armed, disarmed bool
}

func (f *fakeTicker) Arm(time.Duration) error { f.armed = true; return f.err }
func (f *fakeTicker) Disarm()                 { f.disarmed = true }

// loopRun is Run's loop over fake operations and real channels and
// timers, in a goroutine.
type loopRun struct {
	child, alarm chan os.Signal
	other        *signals.Pending
	ops          *fakeOps
	status       *healthz.State
	routed       chan bool
	changes      chan watch.Change
	res          chan Result
}

func startLoop(t *testing.T, tick ticker, opts ...func(*Config)) *loopRun {
	t.Helper()
	cfg := newHarness(t, 1, opts...).m.cfg
	r := &loopRun{
		child: make(chan os.Signal, 1), alarm: make(chan os.Signal, 1), other: signals.NewPending(),
		ops: newFakeOps(), status: healthz.NewState(), routed: make(chan bool, 4), res: make(chan Result, 1), changes: make(chan watch.Change, 1),
	}
	r.ops.later = make(chan reaper.Exit, 8)
	cfg.Status = r.status
	sigs := Signals{Child: r.child, Alarm: r.alarm, Other: r.other, Heartbeat: func(on bool) { r.routed <- on }, Changes: r.changes}
	go func() { r.res <- run(cfg, sigs, r.ops, wallClock{}, 1, tick) }()
	return r
}

// waitPhase waits for the published phase, bounded.
func (r *loopRun) waitPhase(t *testing.T, want string) healthz.Status {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s := r.status.Snapshot(); s.Phase == want {
			return s
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("phase %q not reached; last %q", want, r.status.Snapshot().Phase)
	return healthz.Status{}
}

func (r *loopRun) result(t *testing.T) Result {
	t.Helper()
	select {
	case res := <-r.res:
		return res
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return within 5s")
		return Result{}
	}
}

func TestRunLoopDrivesTheMachine(t *testing.T) {
	tk := &fakeTicker{}
	r := startLoop(t, tk, withDrain, func(c *Config) {
		c.Drain = 20 * time.Millisecond
		c.Heartbeat = time.Second
	})
	if on := <-r.routed; !on {
		t.Fatal("SIGALRM not routed to the heartbeat before the timer was armed")
	}
	r.waitPhase(t, "running")
	r.alarm <- unix.SIGALRM
	r.other.Add(unix.SIGTERM)
	// The drain window's deadline, on a real timer, forwards the TERM.
	st := r.waitPhase(t, "stopping")
	if st.LastTick.IsZero() || !st.Stopping || st.ChildPid != 100 {
		t.Fatalf("published %+v: want a tick, stopping, child 100", st)
	}
	r.ops.later <- reaper.Exit{Pid: 100, Status: unix.WaitStatus(unix.SIGTERM)}
	r.child <- unix.SIGCHLD
	res := r.result(t)
	if res.Code != 143 || res.Reason != "main child was killed by SIGTERM after SIGTERM" {
		t.Fatalf("result %+v, want 143 after SIGTERM", res)
	}
	if !tk.armed || !tk.disarmed {
		t.Fatalf("heartbeat armed %v, disarmed %v: want both", tk.armed, tk.disarmed)
	}
	if on := <-r.routed; on {
		t.Fatal("SIGALRM still routed to the heartbeat after the timer was disarmed")
	}
	if st := r.status.Snapshot(); st.Phase != "done" {
		t.Fatalf("final phase %q, want done", st.Phase)
	}
}

func TestRunLoopForwardsSIGALRMWhenTheTimerFails(t *testing.T) {
	r := startLoop(t, &fakeTicker{err: errors.New("setitimer: invalid argument")}, func(c *Config) { c.Heartbeat = time.Second })
	if on, off := <-r.routed, <-r.routed; !on || off {
		t.Fatalf("routing %v then %v, want on then off", on, off)
	}
	r.waitPhase(t, "running")
	r.other.Add(unix.SIGALRM)
	r.other.Add(unix.SIGINT)
	r.waitPhase(t, "stopping")
	r.ops.later <- reaper.Exit{Pid: 100, Status: 0}
	r.child <- unix.SIGCHLD
	if res := r.result(t); res.Code != 0 {
		t.Fatalf("exit %d, want 0", res.Code)
	}
}

func TestRunLoopStopsWithoutAHeartbeat(t *testing.T) {
	r := startLoop(t, &fakeTicker{}, func(c *Config) { c.Grace = 10 * time.Millisecond })
	r.waitPhase(t, "running")
	r.other.Add(unix.SIGTERM)
	// The grace period's deadline sends SIGKILL; the exit follows.
	r.waitPhase(t, "killing")
	r.ops.later <- reaper.Exit{Pid: 100, Status: unix.WaitStatus(unix.SIGKILL)}
	r.child <- unix.SIGCHLD
	if res := r.result(t); res.Code != 137 {
		t.Fatalf("exit %d, want 137", res.Code)
	}
	select {
	case on := <-r.routed:
		t.Fatalf("SIGALRM routed (%v) with the heartbeat off", on)
	default:
	}
}

func TestRunLoopWaitsThenReloads(t *testing.T) {
	var w *fakeWaiter
	r := startLoop(t, &fakeTicker{}, func(c *Config) {
		w = &fakeWaiter{ops: newFakeOps()}
		c.Wait.Targets = w
	})
	r.waitPhase(t, "waiting")
	close(w.held) // published after Start: the loop's write is seen
	r.waitPhase(t, "running")
	r.changes <- watch.Change{What: []string{"/etc/app: written"}}
	deadline := time.Now().Add(5 * time.Second)
	for r.status.Snapshot().Reloads[healthz.ReloadSignal][healthz.ReloadCauseFile] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the change was not acted on within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	r.other.Add(unix.SIGTERM)
	r.waitPhase(t, "stopping")
	r.ops.later <- reaper.Exit{Pid: 100, Status: unix.WaitStatus(unix.SIGTERM)}
	r.child <- unix.SIGCHLD
	if res := r.result(t); res.Code != 143 {
		t.Fatalf("exit %d, want 143", res.Code)
	}
}
