package supervise

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/reaper"
	"github.com/tinit/tinit/signals"
)

// KillWait bounds the wait after tinit's own SIGKILL: a process in D state,
// or one tinit may not kill, must not keep it from exiting.
const KillWait = 2 * time.Second

// StopRepeat is how soon a repeat of the first stop signal still counts as
// the same request rather than the second stop that kills at once. The
// kernel sends the parent-death signal (-p) again for each thread of a
// multi-threaded parent as it exits, microseconds apart; Ctrl-C twice takes
// a human far longer.
const StopRepeat = 25 * time.Millisecond

// Config is what Run needs, already validated by the caller.
type Config struct {
	// Argv is PROGRAM and its arguments; PROGRAM is looked up in Env's PATH.
	Argv []string
	// Env is the child's environment.
	Env []string
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
	// "stop": they start the grace period, and a second one kills.
	StopSignals map[unix.Signal]bool
	// Grace is how long the tree gets between the first stop signal (or
	// the main child's last exit) and SIGKILL.
	Grace time.Duration
	// Drain is how long the first stop signal waits, with readiness off,
	// before it is forwarded: time for a load balancer to stop sending
	// traffic. The SIGKILL deadline is Drain plus Grace.
	Drain time.Duration
	// Heartbeat arms setitimer(ITIMER_REAL) at this period; 0 turns it off
	// and SIGALRM is forwarded like any other signal.
	Heartbeat time.Duration
	// Status receives what the health endpoint shows; nil for none.
	Status *healthz.State
	Log    *logrus.Logger
}

// Signals are what signals.Register set up.
type Signals struct {
	Child <-chan os.Signal
	Alarm <-chan os.Signal
	Other *signals.Pending
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

// phase is where the main child is in its life.
type phase int

const (
	// running: the main child is alive. A stop signal arms the deadline
	// after which its group gets SIGKILL.
	running phase = iota
	// backingOff: the main child crashed and the next one waits for a timer.
	// A stop signal ends tinit here.
	backingOff
	// draining: the main child is gone for good. Leftovers got SIGTERM and
	// get SIGKILL when the timer fires; tinit ends once it has no child.
	draining
)

// sweepBatch is how many exits one wait4 batch collects before the loop
// accounts for them and goes on: 4 KiB of buffer.
const sweepBatch = 256

// Run starts the main child and supervises it: forwards signals, reaps
// every child, restarts by policy, and drains the tree at the end. It
// returns how tinit should exit.
func Run(cfg Config, sigs Signals) Result {
	l := &loop{
		cfg:      cfg,
		log:      cfg.Log,
		self:     os.Getpid(),
		bo:       newBackoff(cfg.Restart),
		timer:    time.NewTimer(time.Hour),
		lastCode: -1,
		buf:      make([]reaper.Exit, 0, sweepBatch),
	}
	l.timer.Stop()
	if cfg.Heartbeat > 0 {
		if err := armHeartbeat(cfg.Heartbeat); err != nil {
			// No ticks will come: say so rather than fail liveness.
			l.log.Warn(err)
			l.cfg.Heartbeat = 0
		} else {
			defer disarmHeartbeat()
			l.lastTick = time.Now()
		}
	}
	defer l.publish(true)
	if err := l.start(); err != nil {
		return l.result()
	}
	for {
		l.publish(false)
		var done bool
		select {
		case <-sigs.Child:
			done = l.onChild()
		case <-sigs.Alarm:
			if l.cfg.Heartbeat > 0 {
				done = l.onTick()
			} else {
				done = l.onSignal(unix.SIGALRM)
			}
		case <-sigs.Other.Wake():
			l.sigs = sigs.Other.Take(l.sigs[:0])
			for _, sig := range l.sigs {
				if done = l.onSignal(sig); done {
					break
				}
			}
		case <-l.timer.C:
			done = l.onTimer()
		}
		if done {
			return l.result()
		}
	}
}

// loop holds the state that only Run's goroutine touches.
type loop struct {
	cfg   Config
	log   *logrus.Logger
	self  int
	phase phase
	child child
	// started is when the current child started: a long run resets the
	// backoff.
	started time.Time
	// sent marks the signals tinit sent the current child: a death by one
	// of them is not a crash.
	sent [signals.RTMax + 1]bool
	bo   *backoff
	// stopSig is the first stop signal received, at stopAt; stopBy is its
	// deadline.
	stopSig unix.Signal
	stopAt  time.Time
	stopBy  time.Time
	// killed: tinit sent its own SIGKILL and waits until killBy at most,
	// however many more signals it sends after that.
	killed bool
	killBy time.Time
	// restarts counts the children started after the first.
	restarts int
	timer    *time.Timer
	code     int    // the child's code, before ExitMap
	reason   string // why tinit ends
	left     []int
	buf      []reaper.Exit // one batch of a sweep, reused: a storm allocates nothing
	sigs     []unix.Signal // reused for each batch of pending signals
	// pendingStop is the first stop signal, held back during --drain.
	pendingStop unix.Signal
	// What the health endpoint shows.
	lastCode  int
	lastTick  time.Time
	reaped    uint64
	forwarded [signals.RTMax + 1]uint64
}

// start starts a main child. A PROGRAM that cannot be run ends tinit with
// 127 or 126, whatever the policy: that is configuration, not a crash.
func (l *loop) start() error {
	c, err := startChild(l.cfg.Argv, l.cfg.Env)
	if err != nil {
		l.code = CodeNotExecutable
		var se *StartError
		if errors.As(err, &se) {
			l.code = se.Code
		}
		l.reason = err.Error()
		l.log.Error(err)
		return err
	}
	l.child, l.started, l.phase = c, time.Now(), running
	l.sent = [signals.RTMax + 1]bool{}
	if c.ttyErr != nil {
		l.log.Warnf("the child's group could not take the terminal: %v", c.ttyErr)
	}
	// Guarded: logrus builds the entry before it checks the level, and a
	// restart loop must not make garbage for lines nobody sees.
	if l.log.IsLevelEnabled(logrus.InfoLevel) {
		l.log.WithFields(logrus.Fields{"pid": c.pid, "foreground": c.foreground}).
			Infof("started %q", l.cfg.Argv[0])
	}
	return nil
}

// sweep reaps every exited child and picks out the main child's status.
// left is false when tinit has no child at all. It reaps in batches of
// cap(l.buf), so that an orphan storm allocates nothing.
func (l *loop) sweep() (status unix.WaitStatus, mainExited, left bool) {
	for {
		var err error
		l.buf, left, err = reaper.Reap(l.buf[:0])
		if err != nil {
			// Only a bug in the wait options gets here; the next SIGCHLD
			// tries again.
			l.log.Error(err)
		}
		for _, e := range l.buf {
			if l.child.pid != 0 && e.Pid == l.child.pid {
				status, mainExited = e.Status, true
				continue
			}
			l.reaped++
			switch {
			case l.cfg.WarnOnReap:
				l.log.WithFields(logrus.Fields{"pid": e.Pid, "code": ExitCode(e.Status)}).Warn("reaped orphan")
			case l.log.IsLevelEnabled(logrus.DebugLevel):
				l.log.WithFields(logrus.Fields{"pid": e.Pid, "code": ExitCode(e.Status)}).Debug("reaped orphan")
			}
		}
		if err != nil || len(l.buf) < cap(l.buf) {
			return status, mainExited, left
		}
	}
}

func (l *loop) onChild() (done bool) {
	ws, mainExited, left := l.sweep()
	if mainExited {
		return l.mainExited(ws, left)
	}
	if l.phase == draining && l.killed && left {
		// A walk of /proc misses what forks while it runs: after tinit's
		// SIGKILL, every wake-up sends it again to whatever is left.
		signalLeftovers(unix.SIGKILL, l.self)
	}
	return l.phase == draining && !left
}

// mainExited decides what follows the main child's exit: a restart after
// a backoff, or the drain that ends tinit.
func (l *loop) mainExited(ws unix.WaitStatus, left bool) (done bool) {
	now := time.Now()
	ran := now.Sub(l.started)
	pid := l.child.pid
	l.child = child{}
	l.code = ExitCode(ws)
	l.lastCode = l.code
	status := describe(ws)
	if l.log.IsLevelEnabled(logrus.InfoLevel) {
		l.log.WithFields(logrus.Fields{"pid": pid, "code": l.code}).Infof("main child %s after %v", status, ran.Round(time.Millisecond))
	}

	switch {
	case l.stopSig != 0:
		l.reason = fmt.Sprintf("main child %s after %s", status, signals.Name(l.stopSig))
		return l.drain(left)
	case !l.cfg.Restart.wantsRestart(ws, func(s unix.Signal) bool { return l.sent[s] }):
		l.reason = "main child " + status
		return l.drain(left)
	case l.bo.limitReached(now):
		l.reason = fmt.Sprintf("main child %s; --max-restarts %d reached", status, l.cfg.Restart.MaxRestarts)
		window := "since start"
		if l.cfg.Restart.Window > 0 {
			window = "within " + l.cfg.Restart.Window.String()
		}
		l.log.WithFields(logrus.Fields{"code": l.code, "restarts": l.restarts}).
			Errorf("main child %s: not restarting, --max-restarts %d reached %s", status, l.cfg.Restart.MaxRestarts, window)
		return l.drain(left)
	}
	d := l.bo.schedule(now, ran)
	l.log.WithFields(logrus.Fields{
		"code": l.code, "restart": l.restarts + 1, "delay": d.String(), "goroutines": runtime.NumGoroutine(),
	}).Warnf("main child %s: restarting (--restart %s)", status, l.cfg.Restart.Policy)
	l.phase = backingOff
	if d <= 0 {
		return l.restart()
	}
	l.timer.Reset(d)
	return false
}

// restart starts the next main child once the backoff is over.
func (l *loop) restart() (done bool) {
	if err := l.start(); err != nil {
		_, _, left := l.sweep()
		return l.drain(left)
	}
	l.restarts++
	return false
}

// drain ends tinit's life: SIGTERM to whatever is left below it, SIGKILL
// when the grace period is over, and done once no child is left. With
// nothing left over it is done at once, at no extra cost.
func (l *loop) drain(left bool) (done bool) {
	l.phase = draining
	l.timer.Stop()
	if !left {
		return true
	}
	// Stopping already had its grace period: the leftovers share its
	// deadline rather than getting a second one.
	deadline := time.Now().Add(l.cfg.Grace)
	if l.stopSig != 0 {
		deadline = l.stopBy
	}
	if l.killed || !time.Now().Before(deadline) {
		l.killLeftovers()
		return false
	}
	n, err := signalLeftovers(unix.SIGTERM, l.self)
	if err != nil {
		l.log.Warnf("send SIGTERM to leftover processes: %v", err)
	}
	leftoverLog(l.log, n).Infof("SIGTERM to leftover processes; SIGKILL in %v", time.Until(deadline).Round(time.Millisecond))
	l.timer.Reset(time.Until(deadline))
	return false
}

func (l *loop) killLeftovers() {
	n, err := signalLeftovers(unix.SIGKILL, l.self)
	if err != nil {
		l.log.Warnf("send SIGKILL to leftover processes: %v", err)
	}
	if n != 0 {
		leftoverLog(l.log, n).Warn("SIGKILL to leftover processes after the grace period")
	}
	l.markKilled()
}

// markKilled starts the one KillWait that follows tinit's first SIGKILL;
// later SIGKILLs do not extend it.
func (l *loop) markKilled() {
	if !l.killed {
		l.killed, l.killBy = true, time.Now().Add(KillWait)
	}
	l.timer.Reset(time.Until(l.killBy))
}

// leftoverLog adds the number of processes signalled, when it is known
// (kill(-1) as PID 1 does not say).
func leftoverLog(log logrus.FieldLogger, n int) logrus.FieldLogger {
	if n < 0 {
		return log
	}
	return log.WithField("processes", n)
}

func (l *loop) onTimer() (done bool) {
	switch l.phase {
	case backingOff:
		return l.restart()
	case running:
		if l.pendingStop != 0 {
			// --drain is over: now the child hears about it.
			sig := l.pendingStop
			l.pendingStop = 0
			l.forward(sig)
			l.timer.Reset(time.Until(l.stopBy))
			return false
		}
		if l.killed {
			// The group had its SIGKILL and KillWait more: give up on it.
			return l.giveUp()
		}
		l.log.Warnf("grace period of %v after %s is over: SIGKILL to the main child's group", l.cfg.Grace, signals.Name(l.stopSig))
		l.killGroup()
		return false
	default: // draining
		if l.killed {
			return l.giveUp()
		}
		l.killLeftovers()
		return false
	}
}

// killGroup sends SIGKILL to the main child's whole group, --single-child
// or not: escalation must not leave its helpers behind.
func (l *loop) killGroup() {
	if err := signals.Send(l.child.pid, true, unix.SIGKILL); err != nil && !errors.Is(err, signals.ErrNoProcess) {
		l.log.Warn(err)
	}
	// The child itself too: it may have moved to a group of its own.
	if err := signals.Send(l.child.pid, false, unix.SIGKILL); err != nil && !errors.Is(err, signals.ErrNoProcess) {
		l.log.Warn(err)
	}
	l.markKilled()
}

// giveUp ends tinit although processes it killed are still there.
func (l *loop) giveUp() bool {
	l.left, _ = descendants(l.self)
	if l.child.pid != 0 {
		// The main child never died: report it as killed by tinit.
		l.code = 128 + int(unix.SIGKILL)
		l.reason = fmt.Sprintf("main child did not exit %v after SIGKILL", KillWait)
	}
	l.log.WithField("pids", l.left).Warnf("exiting with processes left %v after SIGKILL", KillWait)
	return true
}

func (l *loop) onSignal(sig unix.Signal) (done bool) {
	if signals.Classify(sig) != signals.Forward {
		l.log.Debugf("dropped %s: never forwarded", signals.Name(sig))
		return false
	}
	stop := l.cfg.StopSignals[sig]
	switch {
	case stop && l.killed:
		// Everything has had its SIGKILL; more signals change nothing and
		// must not extend the wait.
		return false
	case stop && sig == l.stopSig && time.Since(l.stopAt) < StopRepeat:
		l.log.Debugf("%s again within %v: the same stop request", signals.Name(sig), StopRepeat)
		return false
	}
	switch l.phase {
	case running:
		if stop && l.stopSig != 0 {
			l.log.Warnf("second stop signal %s: SIGKILL to the main child's group now", signals.Name(sig))
			l.pendingStop = 0
			l.killGroup()
			return false
		}
		if !stop {
			l.forward(sig)
			return false
		}
		now := time.Now()
		l.stopSig, l.stopAt, l.stopBy = sig, now, now.Add(l.cfg.Drain+l.cfg.Grace)
		if l.cfg.Drain > 0 {
			// Readiness turns 503 now (publish sees stopSig); the signal
			// follows once load balancers have had time to notice.
			l.pendingStop = sig
			l.log.Infof("%s: not ready, forwarding it in %v (--drain)", signals.Name(sig), l.cfg.Drain)
			l.timer.Reset(l.cfg.Drain)
			return false
		}
		l.forward(sig)
		l.timer.Reset(l.cfg.Grace)
	case backingOff:
		if !stop {
			l.log.Debugf("%s during backoff: no child to forward it to", signals.Name(sig))
			return false
		}
		l.stopSig, l.stopAt, l.stopBy = sig, time.Now(), time.Now().Add(l.cfg.Grace)
		l.code = 128 + int(sig)
		l.reason = fmt.Sprintf("%s during restart backoff", signals.Name(sig))
		l.timer.Stop()
		_, _, left := l.sweep()
		return l.drain(left)
	case draining:
		if !stop {
			return false
		}
		if l.stopSig != 0 {
			l.log.Warnf("second stop signal %s: SIGKILL to leftover processes now", signals.Name(sig))
			l.killLeftovers()
		}
		if l.stopSig == 0 {
			l.stopSig, l.stopAt = sig, time.Now()
		}
	}
	return false
}

// forward sends sig to the main child (or its group), after --rewrite.
func (l *loop) forward(sig unix.Signal) {
	to := l.cfg.Rewrite.Apply(sig)
	if to == 0 {
		l.log.Debugf("dropped %s: rewritten to 0", signals.Name(sig))
		return
	}
	err := signals.Send(l.child.pid, l.cfg.Group, to)
	switch {
	case err == nil:
		l.sent[to] = true
		l.forwarded[to]++
		l.log.Debugf("forwarded %s as %s", signals.Name(sig), signals.Name(to))
	case errors.Is(err, signals.ErrNoProcess):
		// The child exited and its SIGCHLD is on its way.
		l.log.Debug(err)
	default:
		l.log.Warn(err)
	}
}

// onTick records a heartbeat tick, sweeps for zombies as a safety net
// (a SIGCHLD is never lost, but the sweep costs one wait4 when there is
// nothing to collect) and checks that the main child still exists.
func (l *loop) onTick() (done bool) {
	l.lastTick = time.Now()
	if done = l.onChild(); done {
		return true
	}
	if l.child.pid != 0 && errors.Is(unix.Kill(l.child.pid, 0), unix.ESRCH) {
		l.log.Errorf("main child %d is gone but was never reaped", l.child.pid)
	}
	return false
}

// publish hands the health endpoint a copy of the loop's state. It runs
// once per event; the endpoint never touches the loop.
func (l *loop) publish(final bool) {
	if l.cfg.Status == nil {
		return
	}
	phase := "running"
	switch {
	case final:
		phase = "done"
	case l.phase == backingOff:
		phase = "backoff"
	case l.phase == draining:
		phase = "draining"
	case l.stopSig != 0:
		phase = "stopping"
	case l.child.pid == 0:
		phase = "starting"
	}
	l.cfg.Status.Update(func(s *healthz.Status) {
		s.Phase = phase
		s.ChildUp = l.child.pid != 0
		s.ChildPid = l.child.pid
		s.Restarts = uint64(l.restarts)
		s.LastExitCode = l.lastCode
		s.ZombiesReaped = l.reaped
		s.Forwarded = l.forwarded
		s.LastTick = l.lastTick
		s.Heartbeat = l.cfg.Heartbeat
		s.Draining = final || l.stopSig != 0 || l.phase == draining
	})
}

func (l *loop) result() Result {
	return Result{Code: l.cfg.ExitMap.Apply(l.code), Reason: l.reason, Restarts: l.restarts, Left: l.left}
}

// describe says how a child ended: "exited 3", "was killed by SIGTERM".
func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return fmt.Sprintf("was killed by %s", signals.Name(ws.Signal()))
	}
	return fmt.Sprintf("exited %d", ws.ExitStatus())
}
