package supervise

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/proc"
	"github.com/tinit/tinit/reaper"
	"github.com/tinit/tinit/signals"
)

// phase is where tinit is in the main child's life. Each phase has at most
// one deadline (machine.deadline); the package doc has the table of what
// each event does in each phase.
type phase int

const (
	// running: the main child is alive and no stop signal has come.
	running phase = iota
	// drainWindow: a stop signal came with --drain set. Readiness is off;
	// the stop signal, and every signal after it, waits for the deadline.
	drainWindow
	// stopping: the stop signal was forwarded; the deadline sends SIGKILL.
	stopping
	// killing: the main child's group had SIGKILL; the deadline (KillWait)
	// gives up on it.
	killing
	// crashStopping: the main child exited and will be restarted. Its group got
	// SIGTERM; the deadline sends SIGKILL. Once the group is empty the
	// next child waits for the backoff.
	crashStopping
	// crashKilling: the crashed group had SIGKILL; the deadline (KillWait)
	// stops waiting for it.
	crashKilling
	// backingOff: the crashed generation is gone; the deadline starts the
	// next child.
	backingOff
	// failing: the main child failed in a way only tinit sees (not ready
	// by --notify-timeout, or its watchdog ran out) and got SIGTERM or
	// SIGABRT; the deadline sends SIGKILL. Its exit is a failure.
	failing
	// failKilling: the failed child's group had SIGKILL; its exit is on
	// its way.
	failKilling
	// waiting: no child runs yet; the --wait-for targets are tried. The
	// deadline is --wait-timeout's end, or the next progress line, when
	// that comes first.
	waiting
	// reloading: a --reload-on change or --restart-signal asked for a
	// graceful restart; the main child's group got SIGTERM (after
	// --rewrite). The deadline sends SIGKILL; its exit starts the next
	// child at once, once the group is empty.
	reloading
	// reloadKilling: the restarting child's group had SIGKILL.
	reloadKilling
	// finishing: the main child is gone for good. Leftovers got SIGTERM;
	// the deadline sends SIGKILL; tinit is done once no child is left.
	finishing
	// finishKilling: leftovers had SIGKILL; the deadline (KillWait) gives
	// up on them.
	finishKilling
	// ended: Run returns.
	ended
)

var phaseNames = [...]string{
	running: "running", drainWindow: "drain-window", stopping: "stopping", killing: "killing",
	crashStopping: "restarting", crashKilling: "restarting", backingOff: "backoff",
	failing: "failing", failKilling: "failing",
	waiting: "waiting", reloading: "restarting", reloadKilling: "restarting",
	finishing: "finishing", finishKilling: "finishing", ended: "done",
}

func (p phase) String() string { return phaseNames[p] }

// minRetry is the least delay before another start after one the kernel
// refused for want of a resource.
const minRetry = 100 * time.Millisecond

// sweepBatch is how many exits one wait4 batch collects before the loop
// accounts for them and goes on: 4 KiB of buffer.
const sweepBatch = 256

// machine is the supervisor's state. Only the goroutine running Run
// touches it; every method is one event or a step of one.
type machine struct {
	cfg   Config
	ops   Ops
	clock Clock
	log   *logrus.Logger
	self  int // tinit's pid: as PID 1 it cannot be stopped

	phase    phase
	deadline time.Time // zero: none in this phase

	child proc.Child // Pid 0 when there is none
	// group is the process group tinit made for the current or last main
	// child (its pid). After a crash it is the generation a restart waits
	// for: a group the child moved to is its own business.
	group   int
	started time.Time // when the current child started
	// sent marks the signals tinit sent the current child: a death by one
	// of them is not a crash.
	sent [signals.RTMax + 1]bool
	bo   *backoff
	// restarts counts the children started after the first.
	restarts int

	// stopSig is the first stop signal received (before --rewrite), at
	// stopAt; 0 before. killAt is its SIGKILL deadline, stopAt+Drain+Grace.
	stopSig        unix.Signal
	stopAt, killAt time.Time
	// held are the signals received during the drain window, in order.
	held []unix.Signal
	// stops are the process groups that had their stop signal (a
	// forwarded one, or tinit's own SIGTERM), and when. Only groupSignal
	// writes it; a group is forgotten once it is known to be empty, so
	// that its number, free again, means nothing.
	stops map[int]time.Time
	// killBy ends the one KillWait after tinit's first SIGKILL to the main
	// child or the leftovers; later SIGKILLs do not extend it.
	killBy time.Time
	// listFailed: listing the leftovers failed once (no /proc); said once.
	listFailed bool
	// stopSent: tinit forwarded a job-control stop signal itself since the
	// last SIGCONT, so the child's stop is not the terminal's.
	stopSent bool
	// restartAt is when the crashed child's backoff ends.
	restartAt time.Time
	// stopPending: a stop signal is being handled; a restart it meets
	// must not start a child. Set only for the length of one onSignal.
	stopPending bool
	// stopCode is the code a stop signal during a graceful restart ends
	// tinit with (128+N), whatever the stopping child's own; 0: none.
	stopCode int

	code   int    // the child's code, before ExitMap
	reason string // why tinit ends
	left   []int
	buf    []reaper.Exit // one batch of a sweep, reused: a storm allocates nothing
	sigs   []unix.Signal // reused for each batch of pending signals

	// word is what the current child said on the notify socket; notes
	// are the counts across children.
	word  childWord
	notes notifyState

	// waitC is closed once every --wait-for target has held in the
	// current round; nil while no round runs. waitUntil ends the round
	// (--wait-timeout; zero: never); waited: the round for the coming
	// start is over, so start starts.
	waitC     <-chan struct{}
	waitUntil time.Time
	waited    bool
	// free: the coming start is a graceful restart (--reload-on,
	// --restart-signal), which counts neither as a restart nor against
	// --max-restarts.
	free bool

	// What the health endpoint shows.
	lastCode  int
	lastTick  time.Time
	reaped    uint64
	forwarded [signals.RTMax + 1]uint64
	dropped   [signals.RTMax + 1]uint64 // not forwarded: no child ran
	reloads   [healthz.ReloadActions][healthz.ReloadCauses]uint64
}

func newMachine(cfg Config, ops Ops, clock Clock, self int) *machine {
	return &machine{
		cfg: cfg, ops: ops, clock: clock, log: cfg.Log, self: self,
		bo:       newBackoff(cfg.Restart),
		lastCode: -1,
		stops:    map[int]time.Time{},
		buf:      make([]reaper.Exit, 0, sweepBatch),
	}
}

// to enters phase p with deadline d (zero for none).
func (m *machine) to(p phase, d time.Time) {
	m.phase, m.deadline = p, d
}

// start starts a main child; startFailed says what a failed start
// means.
func (m *machine) start() (done bool) {
	if m.needsWait() {
		return m.beginWait()
	}
	c, err := m.ops.Start(proc.Spec{Argv: m.cfg.Argv, Env: m.cfg.Env, Dir: m.cfg.Dir, PrevGroup: m.group})
	restart := m.group != 0 // a child started before this one
	free := m.free
	m.free = false
	if restart && !free {
		// A failed attempt counts too: it is what --max-restarts bounds.
		// A graceful restart (--reload-on, --restart-signal) is asked
		// for, not a crash: it counts nowhere.
		m.restarts++
	}
	if err != nil {
		return m.startFailed(err, restart, free)
	}
	m.waited = false
	m.child, m.group, m.started = c, c.Pid, m.clock.Now()
	// The new group's number was free, so any group remembered under it
	// is long gone (one that crashKilling gave up on, say): forget it, or
	// the new child would never get tinit's SIGTERM.
	delete(m.stops, c.Pid)
	m.sent = [signals.RTMax + 1]bool{}
	m.word = childWord{}
	m.to(running, m.runDeadline())
	if c.TTYErr != nil {
		m.log.Warnf("the child's group could not take the terminal: %v", c.TTYErr)
	}
	// Guarded: logrus builds the entry before it checks the level, and a
	// restart loop must not make garbage for lines nobody sees.
	if m.log.IsLevelEnabled(logrus.InfoLevel) {
		f := logrus.Fields{"pid": c.Pid, "foreground": c.Foreground}
		if m.restarts > 0 {
			f["restarts"] = m.restarts
		}
		m.log.WithFields(f).Infof("started %q", m.cfg.Argv[0])
	}
	return false
}

// startFailed is a start that did not happen. A PROGRAM that cannot run
// (127, 126) ends tinit whatever the policy: that is configuration, not
// a crash. A kernel short of a resource (fork's EAGAIN under a full pids
// cgroup, ENOMEM, a full fd table) is a failed restart: it backs off and
// counts against --max-restarts, as a crash would, since the same start
// may work a moment later. On the first start there is nothing to keep
// up yet, and tinit exits 1, as tini and dumb-init do when fork fails.
// Either way, processes tinit inherited are drained.
func (m *machine) startFailed(err error, restart, free bool) (done bool) {
	m.code = proc.CodeNotExecutable
	var se *proc.StartError
	if errors.As(err, &se) {
		m.code = se.Code
	}
	m.reason = err.Error()
	now := m.clock.Now()
	if se != nil && se.Transient() && restart {
		if !m.bo.limitReached(now) {
			// At least minRetry even with --backoff 0: a kernel out of
			// pids is not helped by trying again at once, and a spin
			// would take the CPU the rest of the container needs.
			d := minRetry
			if !free {
				// A graceful restart's failed attempt is not counted (the
				// retry is, as a restart like any other).
				d = max(m.bo.schedule(now, 0), minRetry)
			}
			m.restartAt = now.Add(d)
			m.log.WithFields(logrus.Fields{"restarts": m.restarts, "delay": d.String()}).
				Warnf("%v: trying again after the backoff (--restart %s)", err, m.cfg.Restart.Policy)
			m.to(backingOff, m.restartAt)
			return false
		}
		m.reason = fmt.Sprintf("%v; --max-restarts %d reached", err, m.cfg.Restart.MaxRestarts)
	}
	m.log.Error(m.reason)
	left, _, _ := m.sweep()
	return m.finish(left)
}

// sweep reaps every exited child and picks out the main child's status;
// a stop of the main child is handled on the spot. It reaps in batches of
// cap(m.buf), so that an orphan storm allocates nothing. left is false when
// tinit has no child at all.
func (m *machine) sweep() (left bool, status unix.WaitStatus, exited bool) {
	for {
		var err error
		m.buf, left, err = m.ops.Reap(m.buf[:0])
		if err != nil {
			// Only a bug in the wait options gets here; the next SIGCHLD
			// tries again.
			m.log.Error(err)
		}
		for _, e := range m.buf {
			isMain := m.child.Pid != 0 && e.Pid == m.child.Pid
			switch {
			case e.Status.Stopped():
				if isMain {
					m.mainStopped(e.Status.StopSignal())
				}
			case e.Status.Continued():
				// Not an exit: it counts nowhere and ends no phase. The
				// main child runs again, whoever sent the SIGCONT (kill
				// -CONT from docker exec): its deadlines run again too,
				// and its next stop from the terminal is a new one.
				if isMain {
					m.stopSent = false
					m.resumeDeadline()
				}
			case isMain:
				status, exited = e.Status, true
			default:
				m.reaped++
				switch {
				case m.cfg.WarnOnReap:
					m.log.WithFields(logrus.Fields{"pid": e.Pid, "code": ExitCode(e.Status)}).Warn("reaped orphan")
				case m.log.IsLevelEnabled(logrus.DebugLevel):
					m.log.WithFields(logrus.Fields{"pid": e.Pid, "code": ExitCode(e.Status)}).Debug("reaped orphan")
				}
			}
		}
		if err != nil || len(m.buf) < cap(m.buf) {
			return left, status, exited
		}
	}
}

// onChild is a SIGCHLD: reap, then see what the phase makes of it.
func (m *machine) onChild() (done bool) {
	left, ws, exited := m.sweep()
	if exited {
		return m.mainExited(ws, left)
	}
	switch m.phase {
	case crashStopping, crashKilling:
		if !m.groupAlive(m.group) {
			return m.generationGone()
		}
	case finishing, finishKilling:
		if !left {
			m.to(ended, time.Time{})
			return true
		}
		if m.phase == finishKilling {
			// A walk of /proc misses what forks while it runs: after
			// tinit's SIGKILL, every wake-up sends it again.
			m.signalLeftovers(unix.SIGKILL)
		}
	}
	return false
}

// mainExited decides what follows the main child's exit: a restart, once
// its generation is gone and the backoff is over, or the end.
func (m *machine) mainExited(ws unix.WaitStatus, left bool) (done bool) {
	now := m.clock.Now()
	ran := now.Sub(m.started)
	pid := m.child.Pid
	m.child = proc.Child{}
	m.code = ExitCode(ws)
	m.lastCode = m.code
	if m.word.failure != "" && m.code == 0 {
		// tinit ended it for failing (not ready in time): a clean exit on
		// SIGTERM must not read as success to a Job or a restart policy
		// outside.
		m.code = 1
	}
	status := describe(ws)
	if m.log.IsLevelEnabled(logrus.InfoLevel) {
		f := exitFields(ws, m.code)
		f["pid"] = pid
		m.log.WithFields(f).Infof("main child %s after %v", status, ran.Round(time.Millisecond))
	}

	switch {
	case m.stopSig != 0:
		m.reason = fmt.Sprintf("main child %s after %s", status, signals.Name(m.stopSig))
		if m.stopCode != 0 {
			m.code = m.stopCode
		}
		m.held = nil // nobody to hear them now
		return m.finish(left)
	case m.phase == reloading || m.phase == reloadKilling:
		return m.restartedExit(now, status)
	case !m.wantsRestart(ws):
		m.reason = "main child " + status
		if m.word.failure != "" {
			m.reason += " (" + m.word.failure + ")"
		}
		return m.finish(left)
	case m.bo.limitReached(now):
		m.reason = fmt.Sprintf("main child %s; --max-restarts %d reached", status, m.cfg.Restart.MaxRestarts)
		window := "since start"
		if m.cfg.Restart.Window > 0 {
			window = "within " + m.cfg.Restart.Window.String()
		}
		f := exitFields(ws, m.code)
		f["restarts"] = m.restarts
		m.log.WithFields(f).Errorf("main child %s: not restarting, --max-restarts %d reached %s", status, m.cfg.Restart.MaxRestarts, window)
		return m.finish(left)
	}
	d := m.bo.schedule(now, ran)
	m.restartAt = now.Add(d)
	f := exitFields(ws, m.code)
	// restarts counts the restart this line announces, as the next
	// child's "started" line will.
	f["restarts"], f["delay"] = m.restarts+1, d.String()
	m.log.WithFields(f).Warnf("main child %s: restarting (--restart %s)", status, m.cfg.Restart.Policy)
	return m.stopGeneration(now)
}

// stopGeneration makes a clean generation: what the crashed child left in
// its group (a pre-fork server's workers holding its port) goes before
// the next child starts. An empty group costs one kill(2). A group that
// had its SIGTERM already (a child that failed its --notify-timeout) does
// not get another: its SIGKILL stays due a grace period after the first.
func (m *machine) stopGeneration(now time.Time) (done bool) {
	had, err := m.groupSignal(m.group, unix.SIGTERM, tinitStop)
	switch {
	case errors.Is(err, proc.ErrNoProcess), err == nil && !had.IsZero() && !m.groupAlive(m.group):
		return m.generationGone()
	case err != nil:
		// EPERM, say: the group may well be there. Waiting for it is
		// bounded by the SIGKILL and KillWait below; starting the next
		// child beside it would not be a clean generation.
		m.log.WithField("group", m.group).Warn(err)
	}
	at := now
	if !had.IsZero() {
		at = had
	}
	deadline := at.Add(m.cfg.Grace)
	if m.log.IsLevelEnabled(logrus.InfoLevel) {
		msg := "stopping the crashed child's group; restarting once it is empty, SIGKILL after the grace period"
		if !had.IsZero() {
			msg = "the crashed child's group had SIGTERM already; restarting once it is empty, SIGKILL after the grace period"
		}
		if m.free {
			msg = "restart: the main child's group is still there; starting the next child once it is empty, SIGKILL after the grace period"
		}
		grace := deadline.Sub(now).Round(time.Millisecond)
		m.log.WithFields(logrus.Fields{"signal": "SIGTERM", "group": m.group, "grace": grace.String()}).Info(msg)
	}
	if !now.Before(deadline) {
		return m.killGeneration()
	}
	m.to(crashStopping, deadline)
	return false
}

// killGeneration is the crashed group's grace period over: SIGKILL, then
// KillWait at most before the next child starts anyway.
func (m *machine) killGeneration() (done bool) {
	m.log.WithFields(logrus.Fields{"signal": "SIGKILL", "group": m.group, "grace": m.cfg.Grace.String()}).
		Warn("the crashed child's group outlived the grace period: killing it")
	if _, err := m.groupSignal(m.group, unix.SIGKILL, plain); errors.Is(err, proc.ErrNoProcess) {
		return m.generationGone()
	}
	m.to(crashKilling, m.clock.Now().Add(KillWait))
	return false
}

// wantsRestart applies the restart policy to the main child's exit. A
// child tinit ended for failing (not ready in time, hung) failed, whatever
// its status and although tinit sent the signal.
func (m *machine) wantsRestart(ws unix.WaitStatus) bool {
	if m.word.failure != "" {
		return m.cfg.Restart.Policy != RestartNever
	}
	return m.cfg.Restart.wantsRestart(ws, func(s unix.Signal) bool { return m.sent[s] })
}

// generationGone starts the next child, or waits for the backoff.
func (m *machine) generationGone() (done bool) {
	if m.clock.Now().Before(m.restartAt) || m.stopPending {
		m.to(backingOff, m.restartAt)
		return false
	}
	return m.start()
}

// groupAlive reports whether any process is left in group pgid (and so,
// through groupSignal, forgets the stop of a group that is empty).
func (m *machine) groupAlive(pgid int) bool {
	_, err := m.groupSignal(pgid, 0, plain)
	return err == nil || !errors.Is(err, proc.ErrNoProcess)
}

// mainStopped follows the terminal's job control: when the main child was
// stopped from the terminal (Ctrl-Z, or a read or write from the
// background), tinit stops too, so that the shell that started it gets its
// prompt back. A stop by SIGSTOP is someone else's business.
func (m *machine) mainStopped(sig unix.Signal) {
	if signals.JobControl(sig) {
		m.pauseDeadline()
	}
	if !signals.JobControl(sig) || m.stopSent {
		// tinit sent that signal itself (--single-child, a --rewrite to
		// it) and has stopped already, or was told not to.
		return
	}
	m.logSignal(logrus.InfoLevel, sig, "main child stopped from the terminal")
	m.stopSelf()
}

// stopSelf stops tinit, except as PID 1, which the kernel never stops, and
// in an orphaned process group (ssh -t, script, setsid), where nothing
// would ever continue it: the kernel discards the terminal's own stop
// signals there for that reason.
func (m *machine) stopSelf() {
	if m.self == 1 || !m.ops.CanStop() {
		return
	}
	if err := m.ops.Kill(m.self, unix.SIGSTOP); err != nil {
		m.log.Warn(err)
	}
}

// finish enters finishing with what a sweep found left.
func (m *machine) finish(left bool) (done bool) {
	m.child = proc.Child{}
	if !left {
		m.to(ended, time.Time{})
		return true
	}
	now := m.clock.Now()
	if !m.killBy.IsZero() {
		// tinit already sent SIGKILL: the leftovers get it too, within
		// the same KillWait.
		m.signalLeftovers(unix.SIGKILL)
		m.to(finishKilling, m.killBy)
		return false
	}
	// After a stop signal the leftovers share its deadline rather than
	// getting a grace period of their own.
	deadline := now.Add(m.cfg.Grace)
	if m.stopSig != 0 && m.killAt.Before(deadline) {
		deadline = m.killAt
	}
	if !now.Before(deadline) {
		return m.killLeftovers()
	}
	n := m.signalLeftovers(unix.SIGTERM)
	if m.log.IsLevelEnabled(logrus.InfoLevel) {
		grace := deadline.Sub(now).Round(time.Millisecond)
		leftoverLog(m.log.WithFields(logrus.Fields{"signal": "SIGTERM", "grace": grace.String()}), n).
			Info("stopping leftover processes; SIGKILL after the grace period")
	}
	m.to(finishing, deadline)
	return false
}

func (m *machine) killLeftovers() (done bool) {
	n := m.signalLeftovers(unix.SIGKILL)
	if n != 0 {
		leftoverLog(m.log.WithField("signal", "SIGKILL"), n).Warn("killing leftover processes: the grace period is over")
	}
	m.markKilled()
	m.to(finishKilling, m.killBy)
	return false
}

// signalLeftovers sends sig to every process left below tinit; SIGTERM,
// tinit's own stop, skips the groups that had their stop signal. When
// they cannot be listed (no /proc, and tinit is not PID 1), the main
// child's group gets it at least: what stayed there would otherwise go on
// running under the host's init once tinit exits.
func (m *machine) signalLeftovers(sig unix.Signal) int {
	c, skip := plain, []int(nil)
	if sig == unix.SIGTERM {
		c, skip = tinitStop, m.stoppedGroups()
	}
	n, err := m.ops.SignalLeftovers(sig, skip)
	if err == nil {
		return n
	}
	if !m.listFailed {
		// Once: after SIGKILL this runs on every wake-up.
		m.log.WithField("signal", signals.Name(sig)).Warnf("cannot signal leftover processes: %v", err)
		m.listFailed = true
	}
	if m.group != 0 {
		if had, err := m.groupSignal(m.group, sig, c); had.IsZero() && err == nil && m.log.IsLevelEnabled(logrus.InfoLevel) {
			m.log.WithFields(logrus.Fields{"signal": signals.Name(sig), "group": m.group}).Info("signalled the main child's group instead")
		}
	}
	return -1 // how many is not known
}

// groupCause says why tinit signals a process group: groupSignal keeps
// the stop-signal rule by it.
type groupCause int

const (
	// plain: a forwarded signal that is no stop, or SIGKILL. Always sent.
	plain groupCause = iota
	// forwardedStop: a stop signal tinit received. Always sent, also to a
	// group that had one (the child may give a second one a meaning of
	// its own), and recorded as the group's stop.
	forwardedStop
	// tinitStop: tinit's own SIGTERM (a crashed generation, a failed
	// child, the leftovers). Recorded, and never sent to a group that
	// had its stop.
	tinitStop
)

// groupSignal sends sig to process group pgid. Every signal tinit sends to
// a group goes through here, so that "no process gets the stop signal
// twice" is kept in one place and a new phase cannot forget it: it
// remembers which groups had their stop, and when, and sends tinit's own
// stop only to a group that had none. had is when the group had its stop
// before this call; then a tinitStop sent nothing. A group that the
// kernel finds empty is forgotten: its number may name another group
// later.
func (m *machine) groupSignal(pgid int, sig unix.Signal, c groupCause) (had time.Time, err error) {
	had = m.stops[pgid]
	if c == tinitStop && !had.IsZero() {
		return had, nil
	}
	err = m.ops.Kill(-pgid, sig)
	switch {
	case errors.Is(err, proc.ErrNoProcess):
		delete(m.stops, pgid)
	case err == nil && c != plain && had.IsZero():
		m.stops[pgid] = m.clock.Now()
	}
	return had, err
}

// stoppedGroups lists the groups that had their stop and still have a
// member (groupAlive forgets the others). As PID 1, an empty list lets
// the final SIGTERM be one kill(-1) rather than a walk of /proc.
func (m *machine) stoppedGroups() []int {
	var live []int
	for g := range m.stops {
		if m.groupAlive(g) {
			live = append(live, g)
		}
	}
	return live
}

// markKilled starts the one KillWait that follows tinit's first SIGKILL.
func (m *machine) markKilled() {
	if m.killBy.IsZero() {
		m.killBy = m.clock.Now().Add(KillWait)
	}
}

// leftoverLog adds the number of processes signalled, when it is known
// (kill(-1) as PID 1 does not say).
func leftoverLog(log logrus.FieldLogger, n int) logrus.FieldLogger {
	if n < 0 {
		return log
	}
	return log.WithField("processes", n)
}

// onTimer is the phase's deadline.
func (m *machine) onTimer() (done bool) {
	switch m.phase {
	case running:
		if m.cfg.Notify.On {
			m.onRunDeadline()
		}
	case failing:
		m.killFailed()
	case failKilling:
		return m.giveUp()
	case drainWindow:
		// --drain is over: now the child hears about it, and about every
		// signal that came meanwhile, in order.
		m.releaseHeld()
	case stopping:
		m.log.WithFields(logrus.Fields{"signal": "SIGKILL", "group": m.child.Pid, "grace": m.cfg.Grace.String()}).
			Warnf("grace period after %s is over: killing the main child's group", signals.Name(m.stopSig))
		m.killMain()
		m.to(killing, m.killBy)
	case killing, finishKilling:
		return m.giveUp()
	case crashStopping:
		return m.killGeneration()
	case crashKilling:
		m.log.WithField("group", m.group).Warnf("the crashed child's group is still there %v after SIGKILL: starting the next child anyway", KillWait)
		return m.generationGone()
	case backingOff:
		return m.start()
	case waiting:
		return m.onWaitTimer()
	case reloading:
		m.killRestarting()
	case reloadKilling:
		return m.giveUp()
	case finishing:
		return m.killLeftovers()
	}
	return m.phase == ended
}

// releaseHeld ends the drain window: the held signals go out in order,
// each with its usual action, except that tinit does not stop itself
// (the shell's job is long past that moment): TSTP, TTIN and TTOU stop
// the child's group, CONT gives it the terminal back, then SIGCONT. The
// SIGKILL deadline keeps running while the child is stopped.
func (m *machine) releaseHeld() {
	m.to(stopping, m.killAt)
	held := m.held
	m.held = nil
	for _, sig := range held {
		switch {
		case signals.JobControl(sig):
			m.jobStop(sig)
		case sig == unix.SIGCONT:
			m.cont()
		default:
			m.forward(sig)
		}
	}
}

// killMain sends SIGKILL to the main child's whole group, --single-child
// or not (escalation must not leave its helpers behind), and to the child
// itself, which may have moved to a group of its own.
func (m *machine) killMain() {
	m.sigkillChild()
	m.markKilled()
}

// sigkillChild sends SIGKILL to the main child's group and to the child
// itself.
func (m *machine) sigkillChild() {
	_, gerr := m.groupSignal(m.child.Pid, unix.SIGKILL, plain)
	for _, err := range []error{gerr, m.ops.Kill(m.child.Pid, unix.SIGKILL)} {
		if err != nil && !errors.Is(err, proc.ErrNoProcess) {
			m.log.Warn(err)
		}
	}
}

// giveUp ends tinit although processes it killed are still there.
func (m *machine) giveUp() (done bool) {
	m.left = m.ops.Leftovers()
	if m.child.Pid != 0 {
		// The main child never died: report it as killed by tinit.
		m.code = 128 + int(unix.SIGKILL)
		m.reason = fmt.Sprintf("main child did not exit %v after SIGKILL", KillWait)
		m.child = proc.Child{}
	}
	m.log.WithField("pids", m.left).Warnf("exiting with processes left %v after SIGKILL", KillWait)
	m.to(ended, time.Time{})
	return true
}

// onSignal is a signal tinit received, other than SIGCHLD and the
// heartbeat's SIGALRM.
func (m *machine) onSignal(sig unix.Signal) (done bool) {
	if signals.Classify(sig) != signals.Forward {
		m.logSignal(logrus.DebugLevel, sig, "dropped: never forwarded")
		return false
	}
	// --restart-signal is tinit's own: it never reaches the child, so
	// no --rewrite applies.
	if sig == m.cfg.Reload.RestartSignal {
		return m.onRestartSignal(sig)
	}
	// A signal rewritten to 0 is gone before anything looks at it: it
	// stops nothing and starts no timer.
	if m.cfg.Rewrite.Apply(sig) == 0 {
		m.logSignal(logrus.DebugLevel, sig, "dropped: rewritten to 0")
		return false
	}
	stop := m.cfg.StopSignals[sig]
	if stop && m.child.Pid != 0 {
		// Reap first: a main child that exited before tinit got to the
		// stop signal is handled as the exit it was (a crash, with
		// --restart), then the signal meets the phase that follows. Which
		// of the two came first in the kernel decides, not the order in
		// which Run's select happened to pick them. A restart due at
		// once (--backoff 0) waits in backingOff for the signal, which
		// ends it: no new child starts only to be stopped.
		m.stopPending = true
		done := m.onChild()
		m.stopPending = false
		if done {
			return true
		}
	}
	if m.phase == drainWindow {
		m.hold(sig, stop)
		return false
	}
	switch {
	case signals.JobControl(sig):
		m.jobStop(sig)
		m.stopSelf()
		return false
	case sig == unix.SIGCONT:
		m.cont()
		return false
	}
	switch m.phase {
	case running:
		if !stop {
			m.forward(sig)
			return false
		}
		m.beginStop(sig, m.cfg.Drain+m.cfg.Grace, time.Time{})
		if m.cfg.Drain > 0 {
			// Readiness turns 503 now (publish sees the phase); the
			// signal follows once load balancers have had time to notice.
			m.log.WithFields(logrus.Fields{"signal": signals.Name(sig), "delay": m.cfg.Drain.String()}).
				Info("stop signal: not ready, forwarding it after --drain")
			m.held = append(m.held[:0], sig)
			m.to(drainWindow, m.stopAt.Add(m.cfg.Drain))
			return false
		}
		m.to(stopping, m.killAt)
		m.forward(sig)
	case failing, failKilling:
		m.forward(sig)
		if stop && m.stopSig == 0 {
			// A stop now ends tinit when the child exits, instead of a
			// restart; the SIGKILL comes when it was due or at the grace.
			if m.phase == failing {
				m.beginStop(sig, m.cfg.Grace, m.deadline)
				m.to(stopping, m.killAt)
			} else {
				m.beginStop(sig, m.cfg.Grace, time.Time{})
			}
		}
	case stopping, killing:
		// Forwarded like any other: the child may give a second stop
		// signal a meaning of its own. Only the deadline kills.
		m.forward(sig)
	case reloading, reloadKilling:
		m.forward(sig)
		if stop {
			m.stopRestart(sig)
		}
	case crashStopping, crashKilling, backingOff, waiting:
		if !stop {
			m.drop(sig, "not forwarded: there is no child (restarting, backing off or waiting)")
			return false
		}
		return m.stopWithoutChild(sig)
	case finishing, finishKilling:
		m.logSignal(logrus.DebugLevel, sig, "not forwarded: the main child is gone")
	}
	return false
}

// beginStop records the first stop signal, received now: the SIGKILL
// deadline is window from now, or due when that comes sooner (a SIGKILL
// already due stays due). Every phase that takes a stop signal goes
// through here; they differ only in window and due.
func (m *machine) beginStop(sig unix.Signal, window time.Duration, due time.Time) {
	now := m.clock.Now()
	m.stopSig, m.stopAt, m.killAt = sig, now, now.Add(window)
	if !due.IsZero() && due.Before(m.killAt) {
		m.killAt = due
	}
}

// hold keeps a signal received during the drain window, in order, until
// the window ends; job control too, so that nothing overtakes the stop
// signal. A repeat of a signal still held coalesces, as the kernel's
// pending signals do; and as the kernel does, a SIGCONT discards the
// stops held before it, and a stop the SIGCONT held before it. A second,
// different stop signal ends the window now: someone is in a hurry.
func (m *machine) hold(sig unix.Signal, stop bool) {
	switch {
	case sig == unix.SIGCONT:
		m.held = slices.DeleteFunc(m.held, signals.JobControl)
	case signals.JobControl(sig):
		m.held = slices.DeleteFunc(m.held, func(s unix.Signal) bool { return s == unix.SIGCONT })
	}
	if !slices.Contains(m.held, sig) {
		m.held = append(m.held, sig)
	}
	if stop && sig != m.stopSig {
		m.logSignal(logrus.InfoLevel, sig, "another stop signal during --drain: forwarding what was held now")
		m.releaseHeld()
	}
}

// jobStop is SIGTSTP, SIGTTIN or SIGTTOU, as dumb-init handles them: the
// child's group is stopped with SIGSTOP (the child alone gets the signal
// itself with --single-child; a --rewrite of it is forwarded instead).
// The caller then stops tinit itself (stopSelf), so that the shell that
// runs it sees the job stop.
func (m *machine) jobStop(sig unix.Signal) {
	if m.child.Pid != 0 {
		switch to := m.cfg.Rewrite.Apply(sig); {
		case to != sig:
			m.forward(sig)
		case !m.cfg.Group:
			m.forward(sig)
			m.pauseDeadline()
		default:
			m.send(sig, unix.SIGSTOP)
			m.pauseDeadline()
		}
	}
}

// cont is SIGCONT: tinit runs again. When the shell gave the terminal to
// tinit's group ("fg"), the child's group gets it, then SIGCONT: also a
// child that started in the background and stopped reading the terminal.
// After "bg" the shell keeps the terminal, and so does Foreground.
func (m *machine) cont() {
	m.stopSent = false
	m.resumeDeadline()
	if m.child.Pid == 0 {
		return
	}
	if ok, err := m.ops.Foreground(m.child.Pid); err != nil {
		m.log.Warn(err)
	} else if ok {
		m.child.Foreground = true
	}
	m.forward(unix.SIGCONT)
}

// forward sends sig to the main child (or its group), after --rewrite.
func (m *machine) forward(sig unix.Signal) {
	to := m.cfg.Rewrite.Apply(sig)
	if to == 0 || m.child.Pid == 0 {
		return
	}
	m.send(sig, to)
}

// send delivers to, standing for the received sig, to the main child's
// group, or to the child alone without --process-group. A child that left
// its group (setpgid, setsid) gets it at its pid as well: its group may be
// empty, or hold only its helpers.
func (m *machine) send(sig, to unix.Signal) {
	pid := m.child.Pid
	c := plain
	if m.cfg.StopSignals[sig] {
		c = forwardedStop
	}
	err := m.deliver(to, c)
	switch {
	case err == nil:
		if signals.JobControl(to) {
			m.stopSent = true
		}
		m.sent[to] = true
		m.forwarded[to]++
		if m.log.IsLevelEnabled(logrus.DebugLevel) {
			if m.cfg.Group {
				m.log.WithFields(forwardFields(sig, to, pid)).Debug("forwarded to the main child's group")
			} else {
				m.log.WithFields(forwardFields(sig, to, pid)).Debug("forwarded to the main child")
			}
		}
	case errors.Is(err, proc.ErrNoProcess):
		// The child exited and its SIGCHLD is on its way.
		if m.log.IsLevelEnabled(logrus.DebugLevel) {
			m.log.WithFields(forwardFields(sig, to, pid)).Debugf("not forwarded: %v", err)
		}
	default:
		m.log.WithFields(forwardFields(sig, to, pid)).Warnf("forward: %v", err)
	}
}

// deliver sends sig to the main child's group (groupSignal, for cause
// c), and to the child itself when it left that group; to the child
// alone without --process-group.
func (m *machine) deliver(sig unix.Signal, c groupCause) error {
	pid := m.child.Pid
	if !m.cfg.Group {
		return m.ops.Kill(pid, sig)
	}
	_, err := m.groupSignal(pid, sig, c)
	if pg, perr := m.ops.Getpgid(pid); err != nil || (perr == nil && pg != pid) {
		if kerr := m.ops.Kill(pid, sig); kerr == nil || err == nil {
			err = nil
		} else {
			err = kerr
		}
	}
	return err
}

// forwardFields are the fields of a line about forwarding sig, sent as
// to: "to" only when --rewrite changed it.
func forwardFields(sig, to unix.Signal, pid int) logrus.Fields {
	f := logrus.Fields{"signal": signals.Name(sig), "pid": pid}
	if to != sig {
		f["to"] = signals.Name(to)
	}
	return f
}

// logSignal logs msg at level with sig as the "signal" field. Guarded:
// logrus builds the entry before it checks the level, and a signal storm
// must not make garbage for lines nobody sees.
func (m *machine) logSignal(level logrus.Level, sig unix.Signal, msg string) {
	if m.log.IsLevelEnabled(level) {
		m.log.WithField("signal", signals.Name(sig)).Log(level, msg)
	}
}

// onTick records a heartbeat tick and sweeps for zombies as a safety net:
// a SIGCHLD is never lost, but a group that empties without one (its last
// member was not tinit's child) is noticed here.
func (m *machine) onTick() (done bool) {
	m.lastTick = m.clock.Now()
	return m.onChild()
}

// publish hands the health endpoint a copy of the machine's state. It
// runs once per event; the endpoint never touches the machine.
func (m *machine) publish() {
	if m.cfg.Status == nil {
		return
	}
	ph := m.phase.String()
	m.cfg.Status.Update(func(s *healthz.Status) {
		s.Phase = ph
		s.ChildUp = m.child.Pid != 0
		s.ChildPid = m.child.Pid
		s.ChildStarted = m.started
		s.Restarts = uint64(m.restarts)
		s.LastExitCode = m.lastCode
		s.ZombiesReaped = m.reaped
		s.Forwarded = m.forwarded
		s.LastTick = m.lastTick
		s.Heartbeat = m.cfg.Heartbeat
		s.Stopping = m.stopSig != 0 || m.phase >= finishing || m.phase == reloading || m.phase == reloadKilling
		s.Dropped = m.dropped
		s.ReloadOn = m.cfg.Reload.On
		s.Reloads = m.reloads
		s.Notify = m.cfg.Notify.On
		s.ChildReady = m.word.ready && !m.word.stopping
		s.NotReadyWhy = m.word.notReadyWhy()
		s.AppStatus = m.word.status
		s.Hung = ""
		if m.word.hung && m.child.Pid != 0 {
			s.Hung = "main child hung: " + m.word.failure
		}
		s.NotifyCounts = m.notes.counts
		s.Rejected = m.notes.rejected
		s.WatchdogPing = m.word.ping
	})
}

func (m *machine) result() Result {
	return Result{Code: m.cfg.ExitMap.Apply(m.code), Reason: m.reason, Restarts: m.restarts, Left: m.left}
}

// exitFields are the fields of a line about the main child's end: its
// code, and the signal that killed it, if one did.
func exitFields(ws unix.WaitStatus, code int) logrus.Fields {
	f := logrus.Fields{"code": code}
	if ws.Signaled() {
		f["signal"] = signals.Name(ws.Signal())
	}
	return f
}

// describe says how a child ended: "exited 3", "was killed by SIGTERM".
func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return fmt.Sprintf("was killed by %s", signals.Name(ws.Signal()))
	}
	return fmt.Sprintf("exited %d", ws.ExitStatus())
}
