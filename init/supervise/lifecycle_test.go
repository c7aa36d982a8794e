package supervise

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/proc"
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

// A restart asked for while the child's exit is pending meets the exit
// first: a crash is judged by --restart, never turned into a free restart.
func TestRestartRequestReapsFirst(t *testing.T) {
	t.Run("--restart never: the crash ends tinit", func(t *testing.T) {
		h := newHarness(t, 50)
		h.ops.exit(100, 3)
		if !h.m.onSignal(testRestartSignal) {
			t.Fatal("not done: the crashed child was restarted")
		}
		h.want(ended, "")
		if code := h.m.result().Code; code != 3 {
			t.Errorf("exit %d, want the child's 3", code)
		}
	})
	t.Run("--backoff 0: the restart is the crash's, counted", func(t *testing.T) {
		h := newHarness(t, 50, restartOnFailure, reloadByRestart, func(c *Config) { c.Restart.Backoff = 0 })
		h.ops.exit(100, 3)
		h.m.onChange(watch.Change{What: []string{"/etc/app: written"}})
		h.want(backingOff, "kill -100 TERM") // the crashed generation's stop
		h.advance()
		h.want(running, "start prev=100 dir=/srv")
		if h.m.restarts != 1 || h.m.reloads[healthz.ReloadRestart][healthz.ReloadCauseFile] != 0 {
			t.Errorf("restarts %d, reloads %d: want the crash's restart, no reload", h.m.restarts, h.m.reloads[healthz.ReloadRestart][healthz.ReloadCauseFile])
		}
	})
}

// A stop signal during a graceful restart is forwarded, starts nothing,
// and ends tinit with 128+N once the child is gone.
func TestStopDuringGracefulRestart(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opts  []func(*Config)
		sent  string // the restart's stop, then the forwarded QUIT
		phase phase
		kill  bool // the grace period was over first: SIGKILL sent
	}{
		{"process group", nil, "kill -100 TERM; kill -100 QUIT", stopping, false},
		{"--single-child", []func(*Config){singleChild}, "kill 100 TERM; kill 100 QUIT", stopping, false},
		{"after the restart's SIGKILL", nil, "kill -100 TERM; kill -100 KILL; kill 100 KILL; kill -100 QUIT", killing, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 50, tt.opts...)
			h.m.onSignal(testRestartSignal)
			if tt.kill {
				h.advance()
			}
			h.m.onSignal(unix.SIGQUIT)
			h.want(tt.phase, tt.sent)
			h.ops.exit(100, 0)
			if !h.m.onChild() {
				t.Fatal("not done once the child is gone")
			}
			h.want(ended, "")
			if code := h.m.result().Code; code != 131 {
				t.Errorf("exit %d, want 131", code)
			}
		})
	}
}

// A graceful restart whose start the kernel refuses backs off without
// counting that attempt; the retry counts as a restart like any other.
func TestGracefulRestartStartFails(t *testing.T) {
	h := newHarness(t, 50, func(c *Config) { c.Restart.MaxRestarts = 1 })
	h.m.onSignal(testRestartSignal)
	h.ops.startErr = &proc.StartError{Program: "app", Code: proc.CodeNoResources, Err: unix.EAGAIN}
	h.ops.exit(100, 0)
	h.m.onChild()
	h.want(backingOff, "kill -100 TERM; start prev=100 dir=/srv")
	if h.m.restarts != 0 || h.m.bo.limitReached(h.clock.now) {
		t.Fatalf("restarts %d, limit reached %v: the failed free attempt counted", h.m.restarts, h.m.bo.limitReached(h.clock.now))
	}
	h.advance()
	h.want(running, "start prev=100 dir=/srv")
	if h.m.restarts != 1 {
		t.Errorf("restarts %d, want 1 for the retry", h.m.restarts)
	}
}
