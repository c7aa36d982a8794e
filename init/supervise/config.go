package supervise

import (
	"os"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/watch"
	"github.com/tinit/tinit/notify"
	"github.com/tinit/tinit/signals"
)

// KillWait bounds the wait after tinit's own SIGKILL: a process in D state,
// or one tinit may not kill, must not keep it from exiting.
const KillWait = 2 * time.Second

// Config is what Run needs, already validated by the caller.
type Config struct {
	// Argv is PROGRAM and its arguments; PROGRAM is looked up in Env's PATH.
	Argv []string
	// Env is the child's environment.
	Env []string
	// Dir is every child's working directory: the one tinit was started
	// in. tinit itself has moved to "/" so as not to pin that mount.
	Dir string
	// Group sends forwarded signals to the child's process group (the
	// default, tini's -g); false sends them to the child alone.
	Group bool
	// Rewrite maps received signals to the ones forwarded.
	Rewrite signals.Rewrite
	// ExitMap rewrites the exit code tinit returns (-e, --remap-exit).
	ExitMap ExitMap
	// WarnOnReap logs each reaped orphan at warn level (tini's -w).
	WarnOnReap bool
	// Restart is the restart policy and its backoff and limits.
	Restart Restart
	// StopSignals are the received signals (before Rewrite) that mean
	// "stop": the first one starts the SIGKILL deadline.
	StopSignals map[unix.Signal]bool
	// Grace is how long the tree gets between the first stop signal (or
	// the main child's last exit, or a crash) and SIGKILL.
	Grace time.Duration
	// Drain is how long the first stop signal waits, with readiness off,
	// before it is forwarded: time for a load balancer to stop sending
	// traffic. The SIGKILL deadline is Drain plus Grace.
	Drain time.Duration
	// Heartbeat arms setitimer(ITIMER_REAL) at this period; 0 turns it off
	// and SIGALRM is forwarded like any other signal.
	Heartbeat time.Duration
	// Notify takes the main child's readiness and watchdog from the
	// notify socket (sd_notify); its messages come on Signals.Notify.
	Notify Notify
	// Wait holds the first start (and, with OnRestart, every restart)
	// until the --wait-for targets have held.
	Wait Wait
	// Reload acts on --reload-on changes and --restart-signal.
	Reload Reload
	// Status receives what the health endpoint shows; nil for none.
	Status *healthz.State
	Log    *logrus.Logger
}

// Notify is what --notify and its options asked for.
type Notify struct {
	// On: readiness waits for the current child's READY=1.
	On bool
	// MainOnly accepts messages from the main child (or its MAINPID)
	// alone; otherwise from the main child's whole tree.
	MainOnly bool
	// Timeout: a child that has not sent READY=1 this long after its
	// start has failed to start. 0: wait for ever.
	Timeout time.Duration
	// Watchdog: a ready child silent this long (no WATCHDOG=1) is hung.
	// 0: off.
	Watchdog time.Duration
}

// Signals are what signals.Register set up.
type Signals struct {
	Child <-chan os.Signal
	Alarm <-chan os.Signal
	Other *signals.Pending
	// Heartbeat routes SIGALRM to Alarm (true) or Other (false); nil when
	// the caller routes nothing.
	Heartbeat func(on bool)
	// Notify carries the notify socket's messages; nil without --notify.
	Notify <-chan notify.Message
	// Changes carries the --reload-on watcher's debounced changes; nil
	// without --reload-on.
	Changes <-chan watch.Change
}

// Result is how tinit ends.
type Result struct {
	// Code is the exit code, after ExitMap.
	Code int
	// Reason says why, in one line, for logs and the termination log.
	Reason string
	// Restarts counts the restarts of the main child.
	Restarts int
	// Left lists the pids still alive when tinit stopped waiting for them.
	Left []int
}

// Wait is what --wait-for and its options asked for.
type Wait struct {
	// Targets tries the dependencies; nil when there are none.
	Targets Waiter
	// Timeout ends a wait that has not seen every target hold: tinit
	// exits CodeWaitTimeout. 0: wait for ever.
	Timeout time.Duration
	// OnRestart waits again before each restart, not only before the
	// first start.
	OnRestart bool
}

// Waiter tries the --wait-for targets (healthz.Wait in production).
type Waiter interface {
	// Start begins a round in which every target is tried again; the
	// channel is closed once each has held.
	Start() <-chan struct{}
	// Stop ends the round.
	Stop()
	// Failing names each target that has not held yet, and its last
	// error, one line each.
	Failing() []string
}

// Reload is what --reload-on, --reload-signal and --restart-signal asked
// for.
type Reload struct {
	// On: --reload-on or --restart-signal is given (the metric is shown).
	On bool
	// Signal is sent to the main child's group on a change: tinit's own
	// signal, which --rewrite does not touch. 0 with Restart.
	Signal unix.Signal
	// Restart restarts the main child gracefully on a change instead.
	Restart bool
	// RestartSignal, received, restarts the main child gracefully and
	// is never forwarded; 0 for none.
	RestartSignal unix.Signal
}
