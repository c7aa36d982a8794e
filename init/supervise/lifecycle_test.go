package supervise

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/watch"
	"github.com/tinit/tinit/signals"
)

func TestWaitTimeoutExits124AfterProgressLines(t *testing.T) {
	h := newHarness(t, 50, withWaitTimeout)
	start := h.clock.now
	if h.m.phase != waiting {
		t.Fatalf("phase %v, want waiting", h.m.phase)
	}
	// Progress lines every 5 s, then the timeout at 12 s.
	for _, want := range []time.Duration{5 * time.Second, 10 * time.Second} {
		if got := h.m.deadline.Sub(start); got != want {
			t.Fatalf("deadline at +%v, want +%v", got, want)
		}
		h.advance()
		h.want(waiting, "")
	}
	if got := h.m.deadline.Sub(start); got != 12*time.Second {
		t.Fatalf("deadline at +%v, want the timeout at +12s", got)
	}
	if !h.advance() {
		t.Fatal("not done at the timeout")
	}
	h.want(ended, "wait stop")
	if res := h.m.result(); res.Code != CodeWaitTimeout || h.m.child.Pid != 0 {
		t.Errorf("code %d (child %d), want %d and no child", res.Code, h.m.child.Pid, CodeWaitTimeout)
	}
}

func TestWaitBeforeRestartsOnlyWhenAsked(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opt   func(*Config)
		after phase  // the phase once the crashed child's backoff is over
		calls string // what that took
	}{
		{"first start only", withWait, running, "start prev=100 dir=/srv"},
		{"--wait-on-restart", waitOnRestart, waiting, "wait start"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 50, tt.opt, restartOnFailure)
			h.m.onWaitDone()
			h.want(running, "wait stop; start prev=0 dir=/srv")
			h.ops.exit(100, 1)
			h.m.onChild()
			h.want(backingOff, "kill -100 TERM")
			h.advance()
			h.want(tt.after, tt.calls)
			if tt.after == waiting {
				h.m.onWaitDone()
				h.want(running, "wait stop; start prev=100 dir=/srv")
			}
			if h.m.restarts != 1 {
				t.Errorf("restarts %d, want 1", h.m.restarts)
			}
		})
	}
}

func TestGracefulRestart(t *testing.T) {
	tests := []struct {
		name   string
		opts   []func(*Config)
		event  func(h *harness)
		sent   string // what the child's group got
		action int
		cause  int
	}{
		{"restart signal", nil, func(h *harness) { h.m.onSignal(testRestartSignal) },
			"kill -100 TERM", healthz.ReloadRestart, healthz.ReloadCauseSignal},
		{"restart signal after --rewrite TERM:QUIT",
			[]func(*Config){func(c *Config) { c.Rewrite = signals.Rewrite{unix.SIGTERM: unix.SIGQUIT} }},
			func(h *harness) { h.m.onSignal(testRestartSignal) },
			"kill -100 QUIT", healthz.ReloadRestart, healthz.ReloadCauseSignal},
		{"file change, --reload-signal restart", []func(*Config){reloadByRestart},
			func(h *harness) { h.m.onChange(watch.Change{What: []string{"/etc/app: written"}}) },
			"kill -100 TERM", healthz.ReloadRestart, healthz.ReloadCauseFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]func(*Config){func(c *Config) { c.Restart.MaxRestarts = 1 }}, tt.opts...)
			h := newHarness(t, 50, opts...)
			h.ops.alive[150] = 100 // a worker in the child's group
			tt.event(h)
			h.want(reloading, tt.sent)
			if got := h.m.reloads[tt.action][tt.cause]; got != 1 {
				t.Errorf("reloads[%d][%d] = %d, want 1", tt.action, tt.cause, got)
			}
			// The main child goes; its worker stays a moment: no second
			// SIGTERM, and the next child waits for the group, not for
			// a backoff.
			h.ops.exit(100, 0)
			h.m.onChild()
			h.want(crashStopping, "")
			delete(h.ops.alive, 150)
			h.ops.exit(150, 0)
			h.m.onChild()
			h.want(running, "start prev=100 dir=/srv")
			if h.m.restarts != 0 {
				t.Errorf("restarts %d: a graceful restart must not count", h.m.restarts)
			}
			// --max-restarts 1 is still whole: a crash now restarts.
			if h.m.bo.limitReached(h.clock.now) {
				t.Error("the graceful restart counted against --max-restarts")
			}
		})
	}
}

func TestReloadSignalIsNotRewritten(t *testing.T) {
	h := newHarness(t, 50, func(c *Config) { c.Rewrite = signals.Rewrite{unix.SIGHUP: unix.SIGUSR1} })
	h.m.onChange(watch.Change{What: []string{"/etc/app: written"}})
	h.want(running, "kill -100 HUP")
	if got := h.m.reloads[healthz.ReloadSignal][healthz.ReloadCauseFile]; got != 1 {
		t.Errorf("reloads = %d, want 1", got)
	}
	if h.m.forwarded[unix.SIGHUP] != 0 {
		t.Error("the reload signal counted as forwarded")
	}
}

func TestSignalsWithoutAChildAreCounted(t *testing.T) {
	h := newHarness(t, 50, withWait)
	h.m.onSignal(unix.SIGHUP)
	h.m.onSignal(unix.SIGUSR1)
	h.m.onSignal(unix.SIGHUP)
	h.want(waiting, "")
	if h.m.dropped[unix.SIGHUP] != 2 || h.m.dropped[unix.SIGUSR1] != 1 {
		t.Errorf("dropped HUP %d, USR1 %d; want 2 and 1", h.m.dropped[unix.SIGHUP], h.m.dropped[unix.SIGUSR1])
	}
}

func TestPublishedWhileWaitingAndRestarting(t *testing.T) {
	h := newHarness(t, 50, withWait)
	h.m.cfg.Status = healthz.NewState()
	h.m.publish()
	if s := h.m.cfg.Status.Snapshot(); s.Phase != "waiting" || s.ChildUp {
		t.Errorf("waiting: phase %q, child up %v", s.Phase, s.ChildUp)
	}
	h.m.onWaitDone()
	h.m.onSignal(testRestartSignal)
	h.m.publish()
	if s := h.m.cfg.Status.Snapshot(); s.Phase != "restarting" || !s.Stopping || !s.ReloadOn {
		t.Errorf("restarting: phase %q, stopping %v, reload on %v", s.Phase, s.Stopping, s.ReloadOn)
	}
}
