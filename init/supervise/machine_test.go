package supervise

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/proc"
	"github.com/tinit/tinit/init/watch"
	"github.com/tinit/tinit/notify"
)

// The phase setups bring a fresh harness (child pid 100, group 100) into
// each phase, and leave the operations that took recorded for no one.
var phaseSetups = []struct {
	phase phase
	opts  []func(*Config)
	setup func(h *harness)
}{
	{running, nil, func(h *harness) {}},
	{drainWindow, []func(*Config){withDrain}, func(h *harness) { h.m.onSignal(unix.SIGTERM) }},
	{stopping, nil, func(h *harness) { h.m.onSignal(unix.SIGTERM) }},
	{killing, nil, func(h *harness) { h.m.onSignal(unix.SIGTERM); h.advance() }},
	{crashStopping, []func(*Config){restartOnFailure}, func(h *harness) {
		h.ops.alive[150] = 100 // a worker left in the crashed child's group
		h.ops.exit(100, 1)
		h.m.onChild()
	}},
	{crashKilling, []func(*Config){restartOnFailure}, func(h *harness) {
		h.ops.alive[150] = 100
		h.ops.exit(100, 1)
		h.m.onChild()
		h.advance()
	}},
	{backingOff, []func(*Config){restartOnFailure}, func(h *harness) { h.ops.exit(100, 1); h.m.onChild() }},
	{failing, []func(*Config){notifyTimeout}, func(h *harness) { h.advance() }},
	{failKilling, []func(*Config){notifyTimeout}, func(h *harness) { h.advance(); h.advance() }},
	{finishing, nil, func(h *harness) { h.ops.others = true; h.ops.exit(100, 0); h.m.onChild() }},
	{finishKilling, nil, func(h *harness) { h.ops.others = true; h.ops.exit(100, 0); h.m.onChild(); h.advance() }},
	{waiting, []func(*Config){withWait}, func(h *harness) {}},
	{reloading, nil, func(h *harness) { h.m.onSignal(testRestartSignal) }},
	{reloadKilling, nil, func(h *harness) { h.m.onSignal(testRestartSignal); h.advance() }},
}

// events are what the loop hands the machine. "exit" is the main child's
// exit where there is one, else the exit of the last process tinit waits
// for in that phase.
var events = map[string]func(h *harness) bool{
	"exit": func(h *harness) bool {
		switch h.m.phase {
		case crashStopping, crashKilling:
			delete(h.ops.alive, 150)
			h.ops.exit(150, 0)
		case finishing, finishKilling, backingOff, waiting:
			h.ops.others = false
			h.ops.exit(777, 0)
		default:
			h.ops.exit(100, 0)
		}
		return h.m.onChild()
	},
	"stop":  func(h *harness) bool { return h.m.onSignal(unix.SIGQUIT) },
	"other": func(h *harness) bool { return h.m.onSignal(unix.SIGHUP) },
	"timer": func(h *harness) bool {
		if h.m.deadline.IsZero() {
			return h.m.onTimer() // a stray wake-up
		}
		return h.advance()
	},
	"tick": func(h *harness) bool { return h.m.onTick() },
	// READY=1 from the main child.
	"notify": func(h *harness) bool { h.m.onNotify(notify.Message{Pid: 100, Ready: true}); return false },
	// Ctrl-Z, and fg, at tinit (here not PID 1: it stops itself).
	"jobstop": func(h *harness) bool { return h.m.onSignal(unix.SIGTSTP) },
	"cont":    func(h *harness) bool { return h.m.onSignal(unix.SIGCONT) },
	// The main child continued by someone else (kill -CONT): WCONTINUED.
	"continued": func(h *harness) bool { h.ops.cont(100); return h.m.onChild() },
	// Every --wait-for target held.
	"held": func(h *harness) bool { return h.m.onWaitDone() },
	// A --reload-on change (the default action: SIGHUP to the group).
	"change": func(h *harness) bool {
		h.m.onChange(watch.Change{What: []string{"/etc/app: ..data swapped"}})
		return false
	},
	// --restart-signal.
	"restart": func(h *harness) bool { return h.m.onSignal(testRestartSignal) },
}

// TestTransitions drives every (phase, event) pair of the package doc's
// table and checks the next phase, what was done, and the exit code.
func TestTransitions(t *testing.T) {
	tests := []struct {
		from  phase
		event string
		to    phase
		calls string
		code  int // checked when to is ended
	}{
		{running, "exit", ended, "", 0},
		{running, "stop", stopping, "kill -100 QUIT", 0},
		{running, "other", running, "kill -100 HUP", 0},
		{running, "timer", running, "", 0},
		{running, "tick", running, "", 0},
		{running, "notify", running, "", 0},
		{running, "jobstop", running, "kill -100 STOP; kill 50 STOP", 0},
		{running, "cont", running, "kill -100 CONT", 0},
		{running, "continued", running, "", 0},

		{drainWindow, "exit", ended, "", 0},
		{drainWindow, "stop", stopping, "kill -100 TERM; kill -100 QUIT", 0},
		{drainWindow, "other", drainWindow, "", 0},
		{drainWindow, "timer", stopping, "kill -100 TERM", 0},
		{drainWindow, "tick", drainWindow, "", 0},
		{drainWindow, "notify", drainWindow, "", 0},
		{drainWindow, "jobstop", drainWindow, "", 0},
		{drainWindow, "cont", drainWindow, "", 0},
		{drainWindow, "continued", drainWindow, "", 0},

		{stopping, "exit", ended, "", 0},
		{stopping, "stop", stopping, "kill -100 QUIT", 0},
		{stopping, "other", stopping, "kill -100 HUP", 0},
		{stopping, "timer", killing, "kill -100 KILL; kill 100 KILL", 0},
		{stopping, "tick", stopping, "", 0},
		{stopping, "notify", stopping, "", 0},
		{stopping, "jobstop", stopping, "kill -100 STOP; kill 50 STOP", 0},
		{stopping, "cont", stopping, "kill -100 CONT", 0},
		{stopping, "continued", stopping, "", 0},

		{killing, "exit", ended, "", 0},
		{killing, "stop", killing, "kill -100 QUIT", 0},
		{killing, "other", killing, "kill -100 HUP", 0},
		{killing, "timer", ended, "", 137},
		{killing, "tick", killing, "", 0},
		{killing, "notify", killing, "", 0},
		{killing, "jobstop", killing, "kill -100 STOP; kill 50 STOP", 0},
		{killing, "cont", killing, "kill -100 CONT", 0},
		{killing, "continued", killing, "", 0},

		{crashStopping, "exit", backingOff, "", 0},
		{crashStopping, "stop", finishing, "leftovers TERM skip=100", 131},
		{crashStopping, "other", crashStopping, "", 0},
		{crashStopping, "timer", crashKilling, "kill -100 KILL", 0},
		{crashStopping, "tick", crashStopping, "", 0},
		{crashStopping, "notify", crashStopping, "", 0},
		{crashStopping, "jobstop", crashStopping, "kill 50 STOP", 0},
		{crashStopping, "cont", crashStopping, "", 0},
		{crashStopping, "continued", crashStopping, "", 0},

		{crashKilling, "exit", running, "start prev=100 dir=/srv", 0},
		{crashKilling, "stop", finishing, "leftovers TERM skip=100", 131},
		{crashKilling, "other", crashKilling, "", 0},
		{crashKilling, "timer", running, "start prev=100 dir=/srv", 0},
		{crashKilling, "tick", crashKilling, "", 0},
		{crashKilling, "notify", crashKilling, "", 0},
		{crashKilling, "jobstop", crashKilling, "kill 50 STOP", 0},
		{crashKilling, "cont", crashKilling, "", 0},
		{crashKilling, "continued", crashKilling, "", 0},

		{backingOff, "exit", backingOff, "", 0},
		{backingOff, "stop", ended, "", 131},
		{backingOff, "other", backingOff, "", 0},
		{backingOff, "timer", running, "start prev=100 dir=/srv", 0},
		{backingOff, "tick", backingOff, "", 0},
		{backingOff, "notify", backingOff, "", 0},
		{backingOff, "jobstop", backingOff, "kill 50 STOP", 0},
		{backingOff, "cont", backingOff, "", 0},
		{backingOff, "continued", backingOff, "", 0},

		{finishing, "exit", ended, "", 0},
		{finishing, "stop", finishing, "", 0},
		{finishing, "other", finishing, "", 0},
		{finishing, "timer", finishKilling, "leftovers KILL skip=0", 0},
		{finishing, "tick", finishing, "", 0},
		{finishing, "notify", finishing, "", 0},
		{finishing, "jobstop", finishing, "kill 50 STOP", 0},
		{finishing, "cont", finishing, "", 0},
		{finishing, "continued", finishing, "", 0},

		{finishKilling, "exit", ended, "", 0},
		{finishKilling, "stop", finishKilling, "", 0},
		{finishKilling, "other", finishKilling, "", 0},
		{finishKilling, "timer", ended, "", 0},
		{finishKilling, "tick", finishKilling, "leftovers KILL skip=0", 0},
		{finishKilling, "notify", finishKilling, "", 0},
		{finishKilling, "jobstop", finishKilling, "kill 50 STOP", 0},
		{finishKilling, "cont", finishKilling, "", 0},
		{finishKilling, "continued", finishKilling, "leftovers KILL skip=0", 0},

		{failing, "exit", ended, "", 1},
		{failing, "stop", stopping, "kill -100 QUIT", 0},
		{failing, "other", failing, "kill -100 HUP", 0},
		{failing, "timer", failKilling, "kill -100 KILL; kill 100 KILL", 0},
		{failing, "tick", failing, "", 0},
		{failing, "notify", failing, "", 0},
		{failing, "jobstop", failing, "kill -100 STOP; kill 50 STOP", 0},
		{failing, "cont", failing, "kill -100 CONT", 0},
		{failing, "continued", failing, "", 0},

		{failKilling, "exit", ended, "", 1},
		{failKilling, "stop", failKilling, "kill -100 QUIT", 0},
		{failKilling, "other", failKilling, "kill -100 HUP", 0},
		{failKilling, "timer", ended, "", 137},
		{failKilling, "tick", failKilling, "", 0},
		{failKilling, "notify", failKilling, "", 0},
		{failKilling, "jobstop", failKilling, "kill -100 STOP; kill 50 STOP", 0},
		{failKilling, "cont", failKilling, "kill -100 CONT", 0},
		{failKilling, "continued", failKilling, "", 0},

		// The events of --wait-for, --reload-on and --restart-signal in
		// the phases above: a change or a restart signal acts on a
		// running child only, and "held" means nothing outside waiting.
		{running, "held", running, "", 0},
		{running, "change", running, "kill -100 HUP", 0},
		{running, "restart", reloading, "kill -100 TERM", 0},
		{drainWindow, "held", drainWindow, "", 0},
		{drainWindow, "change", drainWindow, "", 0},
		{drainWindow, "restart", drainWindow, "", 0},
		{stopping, "held", stopping, "", 0},
		{stopping, "change", stopping, "", 0},
		{stopping, "restart", stopping, "", 0},
		{killing, "held", killing, "", 0},
		{killing, "change", killing, "", 0},
		{killing, "restart", killing, "", 0},
		{crashStopping, "held", crashStopping, "", 0},
		{crashStopping, "change", crashStopping, "", 0},
		{crashStopping, "restart", crashStopping, "", 0},
		{crashKilling, "held", crashKilling, "", 0},
		{crashKilling, "change", crashKilling, "", 0},
		{crashKilling, "restart", crashKilling, "", 0},
		{backingOff, "held", backingOff, "", 0},
		{backingOff, "change", backingOff, "", 0},
		{backingOff, "restart", backingOff, "", 0},
		{failing, "held", failing, "", 0},
		{failing, "change", failing, "", 0},
		{failing, "restart", failing, "", 0},
		{failKilling, "held", failKilling, "", 0},
		{failKilling, "change", failKilling, "", 0},
		{failKilling, "restart", failKilling, "", 0},
		{finishing, "held", finishing, "", 0},
		{finishing, "change", finishing, "", 0},
		{finishing, "restart", finishing, "", 0},
		{finishKilling, "held", finishKilling, "", 0},
		{finishKilling, "change", finishKilling, "", 0},
		{finishKilling, "restart", finishKilling, "", 0},

		{waiting, "exit", waiting, "", 0},
		{waiting, "stop", ended, "wait stop", 131},
		{waiting, "other", waiting, "", 0},
		{waiting, "timer", waiting, "", 0},
		{waiting, "tick", waiting, "", 0},
		{waiting, "notify", waiting, "", 0},
		{waiting, "jobstop", waiting, "kill 50 STOP", 0},
		{waiting, "cont", waiting, "", 0},
		{waiting, "continued", waiting, "", 0},
		{waiting, "held", running, "wait stop; start prev=0 dir=/srv", 0},
		{waiting, "change", waiting, "", 0},
		{waiting, "restart", waiting, "", 0},

		{reloading, "exit", running, "start prev=100 dir=/srv", 0},
		{reloading, "stop", stopping, "kill -100 QUIT", 0},
		{reloading, "other", reloading, "kill -100 HUP", 0},
		{reloading, "timer", reloadKilling, "kill -100 KILL; kill 100 KILL", 0},
		{reloading, "tick", reloading, "", 0},
		{reloading, "notify", reloading, "", 0},
		{reloading, "jobstop", reloading, "kill -100 STOP; kill 50 STOP", 0},
		{reloading, "cont", reloading, "kill -100 CONT", 0},
		{reloading, "continued", reloading, "", 0},
		{reloading, "held", reloading, "", 0},
		{reloading, "change", reloading, "", 0},
		{reloading, "restart", reloading, "", 0},

		{reloadKilling, "exit", running, "start prev=100 dir=/srv", 0},
		{reloadKilling, "stop", killing, "kill -100 QUIT", 0},
		{reloadKilling, "other", reloadKilling, "kill -100 HUP", 0},
		{reloadKilling, "timer", ended, "", 137},
		{reloadKilling, "tick", reloadKilling, "", 0},
		{reloadKilling, "notify", reloadKilling, "", 0},
		{reloadKilling, "jobstop", reloadKilling, "kill -100 STOP; kill 50 STOP", 0},
		{reloadKilling, "cont", reloadKilling, "kill -100 CONT", 0},
		{reloadKilling, "continued", reloadKilling, "", 0},
		{reloadKilling, "held", reloadKilling, "", 0},
		{reloadKilling, "change", reloadKilling, "", 0},
		{reloadKilling, "restart", reloadKilling, "", 0},
	}
	seen := map[phase]map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.from.String()+"/"+tt.event, func(t *testing.T) {
			h := setupPhase(t, tt.from)
			done := events[tt.event](h)
			h.want(tt.to, tt.calls)
			if done != (tt.to == ended) {
				t.Errorf("done = %v in phase %v", done, h.m.phase)
			}
			if tt.to == ended {
				if got := h.m.result().Code; got != tt.code {
					t.Errorf("exit code %d, want %d", got, tt.code)
				}
			}
		})
		if seen[tt.from] == nil {
			seen[tt.from] = map[string]bool{}
		}
		seen[tt.from][tt.event] = true
	}
	for _, ps := range phaseSetups {
		for ev := range events {
			if !seen[ps.phase][ev] {
				t.Errorf("no row for phase %v, event %s", ps.phase, ev)
			}
		}
	}
	for _, tt := range faultRows {
		t.Run("under faults/"+tt.name, func(t *testing.T) {
			h := newHarness(t, 50, tt.opts...)
			tt.setup(h)
			if h.m.phase != tt.from {
				t.Fatalf("setup reached %v, want %v", h.m.phase, tt.from)
			}
			h.ops.take()
			done := events[tt.event](h)
			h.want(tt.to, tt.calls)
			if done != (tt.to == ended) {
				t.Errorf("done = %v in phase %v", done, h.m.phase)
			}
			if tt.to == ended && h.m.result().Code != tt.code {
				t.Errorf("exit code %d, want %d", h.m.result().Code, tt.code)
			}
			if tt.check != nil {
				tt.check(t, h)
			}
		})
	}
}

// faultRows are TestTransitions' rows for what issue 19 found: a
// (phase, event) pair of the package doc's table met with a setup of its
// own, each a defect that is fixed.
var faultRows = []struct {
	name  string
	opts  []func(*Config)
	setup func(h *harness)
	from  phase
	event string
	to    phase
	calls string
	code  int
	check func(t *testing.T, h *harness)
}{{
	name: "a failed child's group had its SIGTERM: the restart sends no second one",
	opts: []func(*Config){notifyTimeout, restartOnFailure},
	setup: func(h *harness) {
		h.ops.alive[150] = 100
		h.advance()
	},
	from: failing, event: "exit", to: crashStopping, calls: "",
	check: func(t *testing.T, h *harness) {
		if want := h.m.stops[100].Add(testGrace); !h.m.deadline.Equal(want) {
			t.Errorf("SIGKILL at %v, want a grace period after the failure's SIGTERM (%v)", h.m.deadline, want)
		}
	},
}, {
	name: "a failed child's group had its SIGTERM: the final drain skips it",
	opts: []func(*Config){notifyTimeout},
	setup: func(h *harness) {
		h.ops.alive[150] = 100
		h.ops.others = true
		h.advance()
	},
	from: failing, event: "exit", to: finishing, calls: "leftovers TERM skip=100",
}, {
	name: "a restart the kernel cannot fork backs off",
	opts: []func(*Config){restartOnFailure},
	setup: func(h *harness) {
		h.ops.exit(100, 1)
		h.m.onChild()
		h.ops.startErr = &proc.StartError{Program: "app", Code: proc.CodeNoResources, Err: unix.EAGAIN}
	},
	from: backingOff, event: "timer", to: backingOff, calls: "start prev=100 dir=/srv",
	check: func(t *testing.T, h *harness) {
		if h.m.restarts != 1 || !h.m.deadline.After(h.clock.now) {
			t.Errorf("restarts %d, next start at %v: want 1, after the backoff", h.m.restarts, h.m.deadline)
		}
	},
}, {
	name: "a crash SIGTERM refused (EPERM) waits for the group rather than start beside it",
	opts: []func(*Config){func(c *Config) { c.Restart.Policy = RestartAlways }},
	setup: func(h *harness) {
		h.ops.killErr[-100] = unix.EPERM
	},
	from: running, event: "exit", to: crashStopping, calls: "kill -100 TERM",
}, {
	name: "a child continued by someone else (kill -CONT): the watchdog runs again",
	opts: []func(*Config){withNotify(Notify{Watchdog: 3 * time.Second})},
	setup: func(h *harness) {
		h.say(100, notify.Message{Ready: true})
		h.ops.stop(100, unix.SIGTSTP)
		h.m.onChild()
		h.clock.now = h.clock.now.Add(10 * time.Second)
	},
	from: running, event: "continued", to: running, calls: "",
	check: func(t *testing.T, h *harness) {
		if want := h.clock.now.Add(3 * time.Second); !h.m.deadline.Equal(want) {
			t.Errorf("watchdog due %v, want 3s after the continue (%v)", h.m.deadline, want)
		}
	},
}, {
	name: "job control is held in the drain window, in order",
	opts: []func(*Config){withDrain},
	setup: func(h *harness) {
		h.m.onSignal(unix.SIGTERM)
		h.m.onSignal(unix.SIGUSR1)
		h.m.onSignal(unix.SIGCONT)
	},
	from: drainWindow, event: "timer", to: stopping, calls: "kill -100 TERM; kill -100 USR1; kill -100 CONT",
}, {
	name: "a stop signal that comes with the crash: the exit first",
	opts: []func(*Config){restartOnFailure},
	setup: func(h *harness) {
		h.ops.exit(100, 1) // reaped only when the signal is handled
	},
	from: running, event: "stop", to: ended, calls: "kill -100 TERM", code: 128 + int(unix.SIGQUIT),
}, {
	name: "a stop signal that comes with the crash, with --backoff 0: no child starts only to be stopped",
	opts: []func(*Config){restartOnFailure, backoffZero},
	setup: func(h *harness) {
		h.ops.exit(100, 1)
	},
	from: running, event: "stop", to: ended, calls: "kill -100 TERM", code: 128 + int(unix.SIGQUIT),
}, {
	name: "a start the kernel refused waits at least minRetry, also with --backoff 0",
	opts: []func(*Config){restartOnFailure, backoffZero},
	setup: func(h *harness) {
		h.ops.alive[150] = 100
		h.ops.exit(100, 1)
		h.m.onChild()
		h.ops.startErr = &proc.StartError{Program: "app", Code: proc.CodeNoResources, Err: unix.EAGAIN}
	},
	from: crashStopping, event: "exit", to: backingOff, calls: "start prev=100 dir=/srv",
	check: func(t *testing.T, h *harness) {
		if want := h.clock.now.Add(minRetry); !h.m.deadline.Equal(want) {
			t.Errorf("next start %v from now, want minRetry (%v)", h.m.deadline.Sub(h.clock.now), minRetry)
		}
	},
}, {
	name: "a group remembered under a pid that a new child now leads is forgotten: the child gets its SIGTERM",
	opts: []func(*Config){restartOnFailure, notifyTimeout},
	setup: func(h *harness) {
		h.ops.alive[150] = 100 // a worker SIGKILL cannot reach (D state)
		h.ops.exit(100, 1)
		h.m.onChild()
		h.advance() // SIGKILL
		h.advance() // KillWait over: child 200 starts beside it
		delete(h.ops.alive, 150)
		h.ops.exit(150, 0)
		h.m.onChild()
		h.ops.nextPid = 100 // pid 100 is free again, and reused
		h.ops.exit(200, 1)
		h.m.onChild()
		h.advance() // backoff over: child 100 starts
	},
	from: running, event: "timer", to: failing, calls: "kill -100 TERM",
}}

func backoffZero(c *Config) { c.Restart.Backoff, c.Restart.BackoffMax = 0, 0 }

// setupPhase returns a harness in phase p, with its operations cleared.
func setupPhase(t *testing.T, p phase) *harness {
	t.Helper()
	for _, ps := range phaseSetups {
		if ps.phase == p {
			h := newHarness(t, 50, ps.opts...)
			ps.setup(h)
			if h.m.phase != p {
				t.Fatalf("setup for %v reached %v", p, h.m.phase)
			}
			h.ops.take()
			return h
		}
	}
	t.Fatalf("no setup for phase %v", p)
	return nil
}

func TestSignalsReachTheChildInOrderAndOnlyTheDeadlineKills(t *testing.T) {
	h := newHarness(t, 1)
	h.m.onSignal(unix.SIGTERM)
	h.clock.now = h.clock.now.Add(50 * time.Millisecond)
	h.m.onSignal(unix.SIGQUIT)
	h.m.onSignal(unix.SIGINT)
	h.want(stopping, "kill -100 TERM; kill -100 QUIT; kill -100 INT")
	if want := h.m.stopAt.Add(testGrace); !h.m.deadline.Equal(want) {
		t.Errorf("deadline %v after the first stop, want the grace period (%v)", h.m.deadline.Sub(h.m.stopAt), testGrace)
	}
	h.ops.exit(100, 0)
	if !h.m.onChild() || h.m.result().Code != 0 {
		t.Fatalf("the child exited 0 after TERM and QUIT: done=%v code %d, want 0", h.m.phase == ended, h.m.result().Code)
	}
}

func TestASignalRewrittenToZeroStopsNothing(t *testing.T) {
	h := newHarness(t, 1, func(c *Config) { c.Rewrite = map[unix.Signal]unix.Signal{unix.SIGTERM: 0} })
	h.m.onSignal(unix.SIGTERM)
	h.want(running, "")
	if !h.m.deadline.IsZero() || h.m.stopSig != 0 {
		t.Fatalf("a TERM rewritten to 0 armed a deadline (%v) or counted as a stop (%v)", h.m.deadline, h.m.stopSig)
	}
	// Nor does it end tinit while restarting.
	h = setupPhase(t, backingOff)
	h.m.cfg.Rewrite = map[unix.Signal]unix.Signal{unix.SIGQUIT: 0}
	h.m.onSignal(unix.SIGQUIT)
	h.want(backingOff, "")
}

func TestTheDrainWindowHoldsSignalsInOrder(t *testing.T) {
	h := newHarness(t, 1, withDrain)
	h.m.onSignal(unix.SIGTERM)
	h.m.onSignal(unix.SIGHUP)
	h.m.onSignal(unix.SIGTERM) // a repeat while held coalesces
	h.m.onSignal(unix.SIGUSR1)
	h.want(drainWindow, "")
	if want := h.m.stopAt.Add(testDrain); !h.m.deadline.Equal(want) {
		t.Fatalf("drain deadline %v, want %v", h.m.deadline, want)
	}
	h.advance()
	h.want(stopping, "kill -100 TERM; kill -100 HUP; kill -100 USR1")
	if want := h.m.stopAt.Add(testDrain + testGrace); !h.m.deadline.Equal(want) {
		t.Fatalf("SIGKILL deadline %v after the stop, want drain + grace", h.m.deadline.Sub(h.m.stopAt))
	}
}

func TestACrashRestartsAfterItsGroupIsGone(t *testing.T) {
	h := newHarness(t, 1, restartOnFailure)
	h.ops.alive[150] = 100
	h.ops.alive[160] = 100
	h.ops.exit(100, -int(unix.SIGKILL)) // the master, killed
	h.m.onChild()
	h.want(crashStopping, "kill -100 TERM")
	h.clock.now = h.clock.now.Add(time.Second) // past the 100ms backoff
	delete(h.ops.alive, 150)
	h.ops.exit(150, 0)
	h.m.onChild()
	h.want(crashStopping, "") // one worker is still there
	delete(h.ops.alive, 160)
	h.ops.exit(160, 0)
	h.m.onChild()
	h.want(running, "start prev=100 dir=/srv")
	if h.m.restarts != 1 || h.m.child.Pid != 200 {
		t.Fatalf("restarts %d, child %d; want 1 and the new pid 200", h.m.restarts, h.m.child.Pid)
	}
}

func TestABackoffLongerThanTheGenerationsStopIsKept(t *testing.T) {
	h := newHarness(t, 1, restartOnFailure, func(c *Config) { c.Restart.Backoff = 5 * time.Second; c.Restart.BackoffMax = 5 * time.Second })
	h.ops.alive[150] = 100
	h.ops.exit(100, 1)
	h.m.onChild()
	h.want(crashStopping, "kill -100 TERM")
	h.clock.now = h.clock.now.Add(time.Second)
	delete(h.ops.alive, 150)
	h.ops.exit(150, 0)
	h.m.onChild()
	h.want(backingOff, "")
	if want := h.m.restartAt; !h.m.deadline.Equal(want) {
		t.Fatalf("next start at %v, want the backoff's end %v", h.m.deadline, want)
	}
}

func TestACrashedGroupThatWillNotDieIsLeftBehind(t *testing.T) {
	h := setupPhase(t, crashKilling)
	h.advance()
	h.want(running, "start prev=100 dir=/srv")
}

func TestTheCrashedGroupGoneBeforeItsSIGKILL(t *testing.T) {
	h := setupPhase(t, crashStopping)
	delete(h.ops.alive, 150) // exited without tinit's SIGCHLD: not its child
	h.advance()
	h.want(running, "kill -100 KILL; start prev=100 dir=/srv")
}

func TestForwardingToAChildThatLeftItsGroup(t *testing.T) {
	h := newHarness(t, 1)
	h.ops.alive[100] = 1 // setpgid(0, 1): tinit's own group
	h.m.onSignal(unix.SIGTERM)
	h.want(stopping, "kill -100 TERM; kill 100 TERM")
	if h.m.forwarded[unix.SIGTERM] != 1 {
		t.Fatalf("forwarded count %d, want 1", h.m.forwarded[unix.SIGTERM])
	}
	// A child that moved to a group of its own, leaving helpers in the
	// old one: both hear it.
	h = newHarness(t, 1)
	h.ops.alive[150] = 100
	h.ops.alive[100] = 100 + 1
	h.m.onSignal(unix.SIGHUP)
	h.want(running, "kill -100 HUP; kill 100 HUP")
}

func TestForwardingFailures(t *testing.T) {
	h := newHarness(t, 1, singleChild)
	h.ops.killErr[100] = errors.New("operation not permitted")
	h.m.onSignal(unix.SIGHUP)
	h.want(running, "kill 100 HUP")
	if h.m.forwarded[unix.SIGHUP] != 0 {
		t.Fatal("a failed kill counted as forwarded")
	}
	delete(h.ops.alive, 100) // exited, its SIGCHLD on the way
	delete(h.ops.killErr, 100)
	h.m.onSignal(unix.SIGUSR1)
	h.want(running, "kill 100 USR1")
}

func TestNoProcessGetsTheStopSignalTwice(t *testing.T) {
	t.Run("the group that had TERM is skipped by the final SIGTERM", func(t *testing.T) {
		h := newHarness(t, 1)
		h.ops.others = true
		h.ops.alive[150] = 100 // a worker in the child's group
		h.m.onSignal(unix.SIGTERM)
		h.ops.exit(100, -int(unix.SIGTERM))
		h.m.onChild()
		h.want(finishing, "kill -100 TERM; leftovers TERM skip=100")
		if want := h.m.stopAt.Add(testGrace); !h.m.deadline.Equal(want) {
			t.Fatalf("leftovers' deadline %v after the stop, want the stop's own", h.m.deadline.Sub(h.m.stopAt))
		}
	})
	t.Run("a group that had TERM and is empty now is skipped no more: as PID 1 that is one kill(-1)", func(t *testing.T) {
		h := newHarness(t, 1)
		h.ops.others = true
		h.m.onSignal(unix.SIGTERM)
		h.ops.exit(100, -int(unix.SIGTERM))
		h.m.onChild()
		h.want(finishing, "kill -100 TERM; leftovers TERM skip=0")
		if len(h.m.stops) != 0 {
			t.Fatalf("the empty group is still remembered: %v", h.m.stops)
		}
	})
	t.Run("with --single-child only the child had it", func(t *testing.T) {
		h := newHarness(t, 1, singleChild)
		h.ops.others = true
		h.m.onSignal(unix.SIGTERM)
		h.ops.exit(100, -int(unix.SIGTERM))
		h.m.onChild()
		h.want(finishing, "kill 100 TERM; leftovers TERM skip=0")
	})
	t.Run("after the deadline the leftovers get SIGKILL at once", func(t *testing.T) {
		h := newHarness(t, 1)
		h.ops.others = true
		h.m.onSignal(unix.SIGTERM)
		h.clock.now = h.m.deadline.Add(-time.Millisecond)
		h.ops.exit(100, 0)
		h.clock.now = h.m.killAt
		h.m.onChild()
		h.want(finishKilling, "kill -100 TERM; leftovers KILL skip=0")
	})
	t.Run("after tinit's SIGKILL the leftovers share its KillWait", func(t *testing.T) {
		h := setupPhase(t, killing)
		h.ops.others = true
		killBy := h.m.killBy
		h.clock.now = h.clock.now.Add(time.Second)
		h.ops.exit(100, -int(unix.SIGKILL))
		h.m.onChild()
		h.want(finishKilling, "leftovers KILL skip=0")
		if !h.m.deadline.Equal(killBy) {
			t.Fatalf("KillWait extended to %v, want %v", h.m.deadline, killBy)
		}
	})
}

func TestAProgramThatCannotStartStillDrains(t *testing.T) {
	for _, code := range []int{proc.CodeNotFound, proc.CodeNotExecutable} {
		h := unstartedHarness(t, 1)
		h.ops.others = true // a process tinit inherited
		h.ops.startErr = &proc.StartError{Program: "app", Code: code, Err: errors.New("nope")}
		if h.m.start() {
			t.Fatal("done with an inherited process left")
		}
		h.want(finishing, "start prev=0 dir=/srv; leftovers TERM skip=0")
		h.ops.others = false
		h.ops.exit(777, -int(unix.SIGTERM))
		if !h.m.onChild() || h.m.result().Code != code {
			t.Fatalf("exit %d once the inherited process is gone, want %d", h.m.result().Code, code)
		}
	}
	h := unstartedHarness(t, 1)
	h.ops.startErr = errors.New("fork: resource temporarily unavailable")
	if !h.m.start() || h.m.result().Code != proc.CodeNotExecutable {
		t.Fatalf("a start error without a code: exit %d, want 126", h.m.result().Code)
	}
}

func TestARestartThatCannotStartEnds(t *testing.T) {
	h := setupPhase(t, backingOff)
	h.ops.startErr = &proc.StartError{Program: "app", Code: proc.CodeNotFound, Err: errors.New("gone")}
	if !h.advance() || h.m.result().Code != proc.CodeNotFound {
		t.Fatalf("exit %d, want 127", h.m.result().Code)
	}
}

func TestJobControl(t *testing.T) {
	tests := []struct {
		name  string
		self  int
		opts  []func(*Config)
		sig   unix.Signal
		calls string
	}{
		{"TSTP stops the child's group, then tinit", 50, nil, unix.SIGTSTP, "kill -100 STOP; kill 50 STOP"},
		{"TTIN does the same", 50, nil, unix.SIGTTIN, "kill -100 STOP; kill 50 STOP"},
		{"TTOU does the same", 50, nil, unix.SIGTTOU, "kill -100 STOP; kill 50 STOP"},
		{"as PID 1 only the child stops", 1, nil, unix.SIGTSTP, "kill -100 STOP"},
		{"with --single-child the child gets the signal itself", 50, []func(*Config){singleChild}, unix.SIGTSTP, "kill 100 TSTP; kill 50 STOP"},
		{"a rewrite of it is forwarded instead, and tinit stops", 50,
			[]func(*Config){func(c *Config) { c.Rewrite = map[unix.Signal]unix.Signal{unix.SIGTSTP: unix.SIGUSR1} }},
			unix.SIGTSTP, "kill -100 USR1; kill 50 STOP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.self, tt.opts...)
			h.m.onSignal(tt.sig)
			h.want(running, tt.calls)
		})
	}
	t.Run("with no child tinit still stops", func(t *testing.T) {
		h := setupPhase(t, backingOff)
		h.m.onSignal(unix.SIGTSTP)
		h.want(backingOff, "kill 50 STOP")
	})
	t.Run("a child stopped from the terminal stops tinit", func(t *testing.T) {
		h := newHarness(t, 50)
		h.ops.stop(100, unix.SIGTSTP)
		h.m.onChild()
		h.want(running, "kill 50 STOP")
	})
	t.Run("a child stopped by SIGSTOP does not", func(t *testing.T) {
		h := newHarness(t, 50)
		h.ops.stop(100, unix.SIGSTOP)
		h.ops.stop(150, unix.SIGTSTP) // not the main child
		h.m.onChild()
		h.want(running, "")
	})
	t.Run("a stop tinit caused itself does not stop it twice", func(t *testing.T) {
		h := newHarness(t, 50, singleChild)
		h.m.onSignal(unix.SIGTSTP)
		h.ops.stop(100, unix.SIGTSTP) // the child's stop, reported once tinit runs again
		h.m.onChild()
		h.m.onSignal(unix.SIGCONT)
		h.want(running, "kill 100 TSTP; kill 50 STOP; kill 100 CONT")
		// After SIGCONT a stop from the terminal counts again.
		h.ops.stop(100, unix.SIGTTIN)
		h.m.onChild()
		h.want(running, "kill 50 STOP")
	})
	t.Run("a signal rewritten to TSTP stops the child, not tinit", func(t *testing.T) {
		h := newHarness(t, 50, func(c *Config) { c.Rewrite = map[unix.Signal]unix.Signal{unix.SIGUSR1: unix.SIGTSTP} })
		h.m.onSignal(unix.SIGUSR1)
		h.ops.stop(100, unix.SIGTSTP)
		h.m.onChild()
		h.want(running, "kill -100 TSTP")
	})
	t.Run("in an orphaned process group tinit does not stop itself", func(t *testing.T) {
		h := newHarness(t, 50)
		h.ops.orphaned = true
		h.m.onSignal(unix.SIGTSTP)
		h.ops.stop(100, unix.SIGTSTP)
		h.m.onChild()
		h.want(running, "kill -100 STOP")
	})
	t.Run("SIGCONT gives the terminal to a child that started in the background", func(t *testing.T) {
		h := newHarness(t, 50)
		h.m.child.Foreground = false
		h.ops.fgOwned = true
		h.m.onSignal(unix.SIGCONT)
		h.want(running, "foreground 100; kill -100 CONT")
		if !h.m.child.Foreground {
			t.Fatal("the child holds the terminal now, but is not marked so")
		}
	})
	t.Run("SIGCONT gives the terminal back, then is forwarded", func(t *testing.T) {
		h := newHarness(t, 50)
		h.ops.fgOwned = true
		h.m.onSignal(unix.SIGCONT)
		h.want(running, "foreground 100; kill -100 CONT")
	})
	t.Run("SIGCONT after bg leaves the terminal alone", func(t *testing.T) {
		h := newHarness(t, 50)
		h.m.onSignal(unix.SIGCONT)
		h.want(running, "kill -100 CONT")
	})
	t.Run("SIGCONT with no child does nothing", func(t *testing.T) {
		h := setupPhase(t, backingOff)
		h.m.onSignal(unix.SIGCONT)
		h.want(backingOff, "")
	})
}

func TestEveryChildStartsInTheCallersDirectoryAfterThePrevious(t *testing.T) {
	h := newHarness(t, 1, func(c *Config) { c.Restart.Policy = RestartAlways })
	for i, want := range []string{"start prev=100 dir=/srv", "start prev=200 dir=/srv"} {
		h.ops.exit(h.m.child.Pid, 0)
		h.m.onChild()
		h.want(backingOff, "kill -"+itoa(100*(i+1))+" TERM")
		h.advance()
		h.want(running, want)
	}
}

func TestNeverForwardedSignalsAreDropped(t *testing.T) {
	h := newHarness(t, 1)
	for _, sig := range []unix.Signal{unix.SIGPIPE, unix.SIGCHLD, unix.SIGURG} {
		h.m.onSignal(sig)
	}
	h.want(running, "")
}

func TestSIGINTIsNeverRestarted(t *testing.T) {
	h := newHarness(t, 1, func(c *Config) { c.Restart.Policy = RestartAlways })
	h.ops.exit(100, -int(unix.SIGINT))
	if !h.m.onChild() || h.m.result().Code != 130 {
		t.Fatalf("exit %d after the child died of SIGINT, want 130 and no restart", h.m.result().Code)
	}
}

func TestMaxRestartsEnds(t *testing.T) {
	h := newHarness(t, 1, restartOnFailure, func(c *Config) { c.Restart.MaxRestarts = 1; c.Restart.Window = time.Minute })
	h.ops.exit(100, 3)
	h.m.onChild()
	h.advance()
	h.ops.exit(200, 4)
	if !h.m.onChild() || h.m.result().Code != 4 || h.m.result().Restarts != 1 {
		t.Fatalf("after --max-restarts 1: done %v, exit %d, restarts %d; want done, 4, 1", h.m.phase == ended, h.m.result().Code, h.m.result().Restarts)
	}
}

func TestAChildKilledByTinitsOwnSignalIsNotACrash(t *testing.T) {
	h := newHarness(t, 1, restartOnFailure, func(c *Config) { c.StopSignals = map[unix.Signal]bool{} })
	h.m.onSignal(unix.SIGTERM) // not a stop signal here: just forwarded
	h.ops.exit(100, -int(unix.SIGTERM))
	if !h.m.onChild() || h.m.result().Code != 143 {
		t.Fatalf("exit %d, want 143 without a restart", h.m.result().Code)
	}
}

func TestOrphansAreCountedAndTheBatchIsReused(t *testing.T) {
	h := newHarness(t, 1, func(c *Config) { c.WarnOnReap = true })
	for pid := 1000; pid < 1000+sweepBatch*2+10; pid++ {
		h.ops.exit(pid, 0)
	}
	h.m.onChild()
	if h.m.reaped != sweepBatch*2+10 {
		t.Fatalf("reaped %d, want %d", h.m.reaped, sweepBatch*2+10)
	}
	if cap(h.m.buf) != sweepBatch {
		t.Fatalf("the batch grew to %d", cap(h.m.buf))
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestWithoutProcTheMainChildsGroupIsStillDrained(t *testing.T) {
	h := newHarness(t, 50, singleChild)
	h.ops.noProc = true
	h.ops.others = true
	h.ops.alive[150] = 100 // a helper left in the child's group
	h.ops.exit(100, 0)
	h.m.onChild()
	h.want(finishing, "leftovers TERM skip=0; kill -100 TERM")
	h.advance()
	h.want(finishKilling, "leftovers KILL skip=0; kill -100 KILL")
	// The group that had the forwarded stop signal is not sent TERM twice.
	h = newHarness(t, 50)
	h.ops.noProc = true
	h.ops.others = true
	h.ops.alive[150] = 100
	h.m.onSignal(unix.SIGTERM)
	h.ops.exit(100, -int(unix.SIGTERM))
	h.m.onChild()
	h.want(finishing, "kill -100 TERM; leftovers TERM skip=100")
}

func TestPublishedStartTimeFollowsEachNewChild(t *testing.T) {
	h := newHarness(t, 1, restartOnFailure)
	st := healthz.NewState()
	h.m.cfg.Status = st
	first := h.clock.now
	h.m.publish()
	if got := st.Snapshot(); !got.ChildStarted.Equal(first) || !got.ChildUp {
		t.Fatalf("after the first start: published start %v, up %v; want %v, up", got.ChildStarted, got.ChildUp, first)
	}

	h.clock.now = first.Add(time.Minute)
	h.ops.exit(100, 1)
	h.m.onChild()
	h.m.publish()
	if got := st.Snapshot(); !got.ChildStarted.Equal(first) || got.ChildUp {
		t.Fatalf("in %v: published start %v, up %v; want the crashed child's %v, down", h.m.phase, got.ChildStarted, got.ChildUp, first)
	}

	h.advance() // the backoff ends: the next child starts
	h.m.publish()
	if got := st.Snapshot(); !got.ChildStarted.Equal(h.clock.now) || !got.ChildUp || got.Restarts != 1 {
		t.Fatalf("after the restart: published start %v, up %v, restarts %d; want %v, up, 1", got.ChildStarted, got.ChildUp, got.Restarts, h.clock.now)
	}
}

func TestAStartTheKernelCannotFork(t *testing.T) {
	eagain := func() error { return &proc.StartError{Program: "app", Code: proc.CodeNoResources, Err: unix.EAGAIN} }
	t.Run("the first start ends tinit with 1", func(t *testing.T) {
		h := unstartedHarness(t, 1, restartOnFailure)
		h.ops.startErr = eagain()
		if !h.m.start() || h.m.result().Code != 1 || !strings.Contains(h.m.result().Reason, "EAGAIN") {
			t.Fatalf("exit %d (%q), want 1 naming EAGAIN", h.m.result().Code, h.m.result().Reason)
		}
	})
	t.Run("failed restarts count against --max-restarts, then exit 1", func(t *testing.T) {
		h := newHarness(t, 1, restartOnFailure, func(c *Config) { c.Restart.MaxRestarts = 3 })
		h.ops.exit(100, 1)
		h.m.onChild() // restart 1 is due
		for i := 2; i <= 3; i++ {
			h.ops.startErr = eagain()
			if h.advance() || h.m.phase != backingOff || h.m.restarts != i-1 {
				t.Fatalf("failed start %d: phase %v, restarts %d", i-1, h.m.phase, h.m.restarts)
			}
		}
		h.ops.startErr = eagain()
		if !h.advance() || h.m.result().Code != 1 || h.m.restarts != 3 || !strings.Contains(h.m.result().Reason, "--max-restarts 3") {
			t.Fatalf("exit %d after %d restarts (%q); want 1 after 3, naming --max-restarts", h.m.result().Code, h.m.restarts, h.m.result().Reason)
		}
	})
	t.Run("once the kernel has room again the child runs", func(t *testing.T) {
		h := newHarness(t, 1, restartOnFailure)
		h.ops.exit(100, 1)
		h.m.onChild()
		h.ops.startErr = eagain()
		h.advance()
		h.advance()
		h.want(running, "kill -100 TERM; start prev=100 dir=/srv; start prev=100 dir=/srv")
		if h.m.restarts != 2 {
			t.Fatalf("restarts %d, want 2: the failed start counts", h.m.restarts)
		}
	})
}
