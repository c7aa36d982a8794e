package supervise

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/notify"
)

func withNotify(n Notify) func(*Config) {
	return func(c *Config) { n.On = true; c.Notify = n }
}

// status publishes and returns what the health endpoint would read.
func (h *harness) status() healthz.Status {
	h.t.Helper()
	if h.m.cfg.Status == nil {
		h.m.cfg.Status = healthz.NewState()
	}
	h.m.publish()
	return h.m.cfg.Status.Snapshot()
}

// say hands the machine a datagram from pid.
func (h *harness) say(pid int, msg notify.Message) {
	msg.Pid = pid
	h.m.onNotify(msg)
}

func TestReadinessFollowsTheChildsWord(t *testing.T) {
	type step struct {
		pid   int
		msg   notify.Message
		ready bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"not ready until READY=1", []step{
			{100, notify.Message{HasStatus: true, Status: "starting"}, false},
			{100, notify.Message{Ready: true}, true},
		}},
		{"RELOADING=1 until the next READY=1", []step{
			{100, notify.Message{Ready: true}, true},
			{100, notify.Message{Reloading: true, Unknown: 1}, false},
			{100, notify.Message{Ready: true}, true},
		}},
		{"STOPPING=1 for good", []step{
			{100, notify.Message{Ready: true}, true},
			{100, notify.Message{Stopping: true}, false},
			{100, notify.Message{Ready: true}, false},
		}},
		{"a grandchild speaks for the tree", []step{{201, notify.Message{Ready: true}, true}}},
		{"a process outside the tree does not", []step{{300, notify.Message{Ready: true}, false}}},
		{"nor one in another pid namespace (pid 0)", []step{{0, notify.Message{Ready: true}, false}}},
		{"nor a malformed datagram", []step{{100, notify.Message{Bad: "malformed"}, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 1, withNotify(Notify{}))
			h.ops.parent = map[int]int{201: 200, 200: 100, 300: 1}
			for i, s := range tt.steps {
				h.say(s.pid, s.msg)
				if got := h.status().ChildReady; got != s.ready {
					t.Fatalf("after step %d (%+v from %d): ready %v, want %v", i, s.msg, s.pid, got, s.ready)
				}
			}
		})
	}
}

func TestNotifyAccessAndCounts(t *testing.T) {
	h := newHarness(t, 1, withNotify(Notify{MainOnly: true}))
	h.ops.parent = map[int]int{201: 200, 200: 100}
	h.say(201, notify.Message{Ready: true}) // a grandchild: not with --notify-access main
	h.say(100, notify.Message{MainPID: 200, HasStatus: true, Status: "up", Unknown: 2})
	h.say(200, notify.Message{Ready: true}) // MAINPID may speak now
	h.say(100, notify.Message{Bad: "oversized"})
	h.say(100, notify.Message{Bad: "malformed"})
	s := h.status()
	if !s.ChildReady || s.AppStatus != "up" {
		t.Fatalf("ready %v, status %q: MAINPID's READY=1 was not taken", s.ChildReady, s.AppStatus)
	}
	want := [healthz.RejectKinds]uint64{healthz.RejectAccess: 1, healthz.RejectMalformed: 1, healthz.RejectOversized: 1}
	if s.Rejected != want {
		t.Errorf("rejected %v, want %v", s.Rejected, want)
	}
	c := s.NotifyCounts
	if c[healthz.NotifyReady] != 1 || c[healthz.NotifyMainPID] != 1 || c[healthz.NotifyStatus] != 1 || c[healthz.NotifyUnknown] != 2 {
		t.Errorf("counts %v", c)
	}
	// A MAINPID outside the tree changes nothing.
	h.say(100, notify.Message{MainPID: 999})
	if h.m.word.mainPID != 200 {
		t.Errorf("MAINPID 999 outside the tree was taken: %d", h.m.word.mainPID)
	}
}

func TestAReadyChildMustSayItAgainAfterARestart(t *testing.T) {
	h := newHarness(t, 1, withNotify(Notify{}), restartOnFailure)
	h.say(100, notify.Message{Ready: true, HasStatus: true, Status: "serving"})
	h.ops.exit(100, 1)
	h.m.onChild()
	h.advance() // the backoff
	h.want(running, "kill -100 TERM; start prev=100 dir=/srv")
	if s := h.status(); s.ChildReady || s.AppStatus != "" {
		t.Fatalf("the new child is ready %v with status %q before it said anything", s.ChildReady, s.AppStatus)
	}
}

func TestNotifyTimeout(t *testing.T) {
	tests := []struct {
		name   string
		policy func(*Config)
		code   int // the child's exit after SIGTERM: 0, a clean exit
		then   phase
		calls  string
	}{
		// Its group had SIGTERM when it failed: not again.
		{"on-failure restarts a clean exit", restartOnFailure, 0, backingOff, ""},
		{"never ends with 1 for a clean exit: it failed", func(*Config) {}, 0, ended, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 1, withNotify(Notify{Timeout: 5 * time.Second}), tt.policy)
			if !h.m.deadline.Equal(h.clock.now.Add(5 * time.Second)) {
				t.Fatalf("deadline %v: want the start + 5s", h.m.deadline)
			}
			h.advance()
			h.want(failing, "kill -100 TERM")
			h.ops.exit(100, tt.code)
			h.m.onChild()
			h.want(tt.then, tt.calls)
			if tt.then == ended && h.m.result().Code != 1 {
				t.Errorf("exit code %d, want 1", h.m.result().Code)
			}
		})
	}
	t.Run("READY=1 in time disarms it", func(t *testing.T) {
		h := newHarness(t, 1, withNotify(Notify{Timeout: 5 * time.Second}))
		h.say(100, notify.Message{Ready: true})
		if !h.m.deadline.IsZero() {
			t.Fatalf("deadline %v after READY=1", h.m.deadline)
		}
	})
}

func TestWatchdog(t *testing.T) {
	const dog = 3 * time.Second
	t.Run("armed by READY=1, moved by WATCHDOG=1", func(t *testing.T) {
		h := newHarness(t, 1, withNotify(Notify{Watchdog: dog}))
		if !h.m.deadline.IsZero() {
			t.Fatal("armed before READY=1")
		}
		h.say(100, notify.Message{Ready: true})
		h.clock.now = h.clock.now.Add(2 * time.Second)
		h.say(100, notify.Message{Watchdog: true})
		if want := h.clock.now.Add(dog); !h.m.deadline.Equal(want) {
			t.Fatalf("deadline %v, want %v", h.m.deadline, want)
		}
	})
	tests := []struct {
		name    string
		policy  func(*Config)
		trigger bool
		then    phase
		calls   string
		code    int
	}{
		{"silence: SIGABRT, and never exits 134", func(*Config) {}, false, ended, "", 134},
		{"silence: on-failure restarts after SIGABRT", restartOnFailure, false, backingOff, "kill -100 TERM", 0},
		{"WATCHDOG=trigger at once", func(*Config) {}, true, ended, "", 134},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 1, withNotify(Notify{Watchdog: dog}), tt.policy)
			h.say(100, notify.Message{Ready: true})
			if tt.trigger {
				h.say(100, notify.Message{WatchdogTrigger: true})
			} else {
				h.advance()
			}
			h.want(failing, "kill 100 ABRT")
			if s := h.status(); s.Hung == "" || s.ChildReady {
				t.Fatalf("hung %q, ready %v: liveness and readiness must fail", s.Hung, s.ChildReady)
			}
			h.ops.exit(100, -6) // killed by SIGABRT
			h.m.onChild()
			h.want(tt.then, tt.calls)
			if tt.then == ended {
				if got := h.m.result().Code; got != tt.code {
					t.Errorf("exit code %d, want %d", got, tt.code)
				}
			}
			if s := h.status(); s.Hung != "" {
				t.Errorf("still hung after the child exited: %q", s.Hung)
			}
		})
	}
}

func TestDeadlinesWaitWhileTheChildIsStoppedFromTheTerminal(t *testing.T) {
	const dog = 3 * time.Second
	h := newHarness(t, 1, withNotify(Notify{Watchdog: dog}))
	h.say(100, notify.Message{Ready: true})
	due := h.m.deadline
	h.m.onSignal(unix.SIGTSTP) // Ctrl-Z: tinit stops the child's group
	h.want(running, "kill -100 STOP")
	if !h.m.deadline.IsZero() {
		t.Fatalf("deadline %v while the child is stopped", h.m.deadline)
	}
	h.clock.now = h.clock.now.Add(10 * time.Second)
	h.m.onSignal(unix.SIGCONT) // fg
	if want := due.Add(10 * time.Second); !h.m.deadline.Equal(want) {
		t.Fatalf("deadline %v after 10s stopped, want %v", h.m.deadline, want)
	}
}

func TestAStaleMainPIDMaySpeakNoMore(t *testing.T) {
	h := newHarness(t, 1, withNotify(Notify{MainOnly: true}))
	h.ops.parent = map[int]int{200: 100}
	h.say(100, notify.Message{MainPID: 200})
	delete(h.ops.parent, 200) // it exited; its pid may be reused outside
	h.say(200, notify.Message{Ready: true})
	if s := h.status(); s.ChildReady || s.Rejected[healthz.RejectAccess] != 1 {
		t.Fatalf("ready %v, rejected %v: a MAINPID that left the tree still spoke", s.ChildReady, s.Rejected)
	}
}

func TestAFailedChildSaysWhyItIsNotReady(t *testing.T) {
	h := newHarness(t, 1, withNotify(Notify{Timeout: time.Second}))
	h.advance()
	h.say(100, notify.Message{Ready: true}) // too late: counted, not taken
	s := h.status()
	if s.ChildReady || s.NotifyCounts[healthz.NotifyReady] != 1 || !strings.Contains(s.NotReadyWhy, "failed: not ready 1s after its start") {
		t.Fatalf("ready %v, count %d, why %q", s.ChildReady, s.NotifyCounts[healthz.NotifyReady], s.NotReadyWhy)
	}
}

func TestAWatchdogPingWhileStoppedCountsFromTheContinue(t *testing.T) {
	const dog = 3 * time.Second
	h := newHarness(t, 1, withNotify(Notify{Watchdog: dog}))
	h.ops.parent = map[int]int{200: 100} // a helper that is not stopped
	h.say(100, notify.Message{Ready: true})
	h.m.onSignal(unix.SIGTSTP)
	h.clock.now = h.clock.now.Add(5 * time.Second)
	h.say(200, notify.Message{Watchdog: true})
	h.clock.now = h.clock.now.Add(5 * time.Second)
	h.m.onSignal(unix.SIGCONT)
	if want := h.clock.now.Add(dog); !h.m.deadline.Equal(want) {
		t.Fatalf("watchdog due %v after the continue, want %v: the ping was extended by the part of the pause before it", h.m.deadline.Sub(h.clock.now), dog)
	}
}
