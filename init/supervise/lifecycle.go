package supervise

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/proc"
	"github.com/tinit/tinit/init/watch"
	"github.com/tinit/tinit/signals"
)

// CodeWaitTimeout is tinit's exit code when --wait-timeout runs out
// before every --wait-for target has held: timeout(1)'s.
const CodeWaitTimeout = 124

// waitLogEvery spaces the info lines that say what a wait still awaits.
const waitLogEvery = 5 * time.Second

// needsWait reports whether the coming start waits for the --wait-for
// targets first: the first start always, a restart with --wait-on-restart.
func (m *machine) needsWait() bool {
	return m.cfg.Wait.Targets != nil && !m.waited && (m.group == 0 || m.cfg.Wait.OnRestart)
}

// beginWait enters waiting: a round of tries begins, and the loop hears
// of its end on waitC.
func (m *machine) beginWait() (done bool) {
	now := m.clock.Now()
	m.waitC = m.cfg.Wait.Targets.Start()
	m.waitUntil = time.Time{}
	if m.cfg.Wait.Timeout > 0 {
		m.waitUntil = now.Add(m.cfg.Wait.Timeout)
	}
	m.logWaiting("waiting for the --wait-for targets before starting " + fmt.Sprintf("%q", m.cfg.Argv[0]))
	m.to(waiting, m.nextWaitDeadline(now))
	return false
}

// nextWaitDeadline is the wait's one deadline: the next progress line,
// or the timeout when that comes first.
func (m *machine) nextWaitDeadline(now time.Time) time.Time {
	d := now.Add(waitLogEvery)
	if !m.waitUntil.IsZero() && m.waitUntil.Before(d) {
		d = m.waitUntil
	}
	return d
}

// logWaiting says at info what the wait still awaits, and why.
func (m *machine) logWaiting(msg string) {
	if m.log.IsLevelEnabled(logrus.InfoLevel) {
		m.log.WithField("targets", strings.Join(m.cfg.Wait.Targets.Failing(), "; ")).Info(msg)
	}
}

// onWaitTimer is waiting's deadline: a progress line, or the timeout.
func (m *machine) onWaitTimer() (done bool) {
	now := m.clock.Now()
	if m.waitUntil.IsZero() || now.Before(m.waitUntil) {
		m.logWaiting("still waiting for the --wait-for targets")
		m.to(waiting, m.nextWaitDeadline(now))
		return false
	}
	// After Stop: the round is over, and each line is its last word.
	m.endWait()
	failing := m.cfg.Wait.Targets.Failing()
	for _, f := range failing {
		m.log.Errorf("--wait-for %s", f)
	}
	m.code = CodeWaitTimeout
	m.reason = fmt.Sprintf("--wait-timeout %v ran out: no %s started", m.cfg.Wait.Timeout, m.childWord())
	m.log.Error(m.reason)
	left, _, _ := m.sweep()
	return m.finish(left)
}

// onWaitDone is every --wait-for target held: the start goes ahead.
func (m *machine) onWaitDone() (done bool) {
	if m.phase != waiting {
		return false
	}
	m.endWait()
	m.waited = true
	if m.log.IsLevelEnabled(logrus.InfoLevel) {
		m.log.Info("every --wait-for target has held")
	}
	return m.start()
}

// endWait ends the round of tries.
func (m *machine) endWait() {
	m.waitC = nil
	m.cfg.Wait.Targets.Stop()
}

// drop is a signal that has no child to go to (restarting, backing off,
// waiting): counted, logged at debug.
func (m *machine) drop(sig unix.Signal, msg string) {
	m.dropped[sig]++
	m.logSignal(logrus.DebugLevel, sig, msg)
}

// onChange is a --reload-on change, debounced by the watcher. It acts on
// a running child only: a change while none runs (waiting, restarting,
// stopping) is dropped, since the next child reads the files anyway.
func (m *machine) onChange(ch watch.Change) (done bool) {
	what := strings.Join(ch.What, ", ")
	if m.phase != running {
		m.log.WithField("changed", what).Infof("reload: change while the main child is %s: dropped", m.phase)
		return false
	}
	if m.cfg.Reload.Restart {
		return m.beginRestart(healthz.ReloadCauseFile, "changed", what)
	}
	sig := m.cfg.Reload.Signal
	m.reloads[healthz.ReloadSignal][healthz.ReloadCauseFile]++
	err := m.deliver(sig, plain)
	f := logrus.Fields{"changed": what, "signal": signals.Name(sig), "pid": m.child.Pid}
	switch {
	case err == nil:
		m.log.WithFields(f).Info("reload: sent the reload signal to the main child")
	case errors.Is(err, proc.ErrNoProcess):
		m.log.WithFields(f).Infof("reload: not sent: %v", err)
	default:
		m.log.WithFields(f).Warnf("reload: %v", err)
	}
	return false
}

// onRestartSignal is --restart-signal received: a graceful restart of a
// running child. The signal itself never reaches the child.
func (m *machine) onRestartSignal(sig unix.Signal) (done bool) {
	if m.phase != running {
		if m.child.Pid == 0 {
			m.drop(sig, "--restart-signal: no child runs: dropped")
		} else {
			m.logSignal(logrus.InfoLevel, sig, "--restart-signal: the main child is stopping, failing or restarting already: dropped")
		}
		return false
	}
	return m.beginRestart(healthz.ReloadCauseSignal, "received", signals.Name(sig))
}

// beginRestart restarts the running main child gracefully: SIGTERM, after
// --rewrite, to its group (tinit's stop, so never a second one), SIGKILL
// after --grace. Its exit starts the next child at once once the group is
// empty, with no backoff and whatever --restart says; readiness is off
// meanwhile (publish), and --drain does not apply: the app asked for it.
func (m *machine) beginRestart(cause int, key, why string) (done bool) {
	// Reap first, as for a stop signal: a child that exited before the
	// request is a crash, judged by --restart, not a restart asked for.
	// A restart due at once waits in backingOff (stopPending), so that
	// the request does not meet the next child.
	m.stopPending = true
	done = m.onChild()
	m.stopPending = false
	if done || m.phase != running {
		m.log.WithField(key, why).Info("restart: the main child had exited already: not restarted for this")
		return done
	}
	m.reloads[healthz.ReloadRestart][cause]++
	to := m.cfg.Rewrite.Apply(unix.SIGTERM)
	f := logrus.Fields{key: why, "signal": "SIGTERM", "group": m.child.Pid, "grace": m.cfg.Grace.String()}
	if to != unix.SIGTERM {
		f["to"] = signals.Name(to)
	}
	m.log.WithFields(f).Info("restart: stopping the main child; starting the next once its group is empty")
	if to != 0 {
		if err := m.deliver(to, tinitStop); err != nil && !errors.Is(err, proc.ErrNoProcess) {
			m.log.WithFields(f).Warnf("restart: %v", err)
		}
	}
	m.free = true
	m.to(reloading, m.clock.Now().Add(m.cfg.Grace))
	return false
}

// killRestarting is the restarting child's grace period over.
func (m *machine) killRestarting() {
	m.log.WithFields(logrus.Fields{"signal": "SIGKILL", "group": m.child.Pid, "grace": m.cfg.Grace.String()}).
		Warn("restart: the main child outlived the grace period: killing its group")
	m.sigkillChild()
	m.to(reloadKilling, m.clock.Now().Add(KillWait))
}

// restartedExit is the main child's exit in a graceful restart: the next
// child starts at once once its group is empty (stopGeneration, which
// sends no second SIGTERM: the group had its stop).
func (m *machine) restartedExit(now time.Time, status string) (done bool) {
	m.restartAt = now
	if m.log.IsLevelEnabled(logrus.InfoLevel) {
		m.log.WithField("code", m.code).Infof("restart: main child %s; starting the next once its group is empty", status)
	}
	return m.stopGeneration(now)
}

// stopWithoutChild is a stop signal while no child runs (crashStopping,
// crashKilling, backingOff, waiting): tinit ends with 128+N and starts
// no child; a crashed group keeps its SIGKILL deadline.
func (m *machine) stopWithoutChild(sig unix.Signal) (done bool) {
	due := time.Time{}
	reason := fmt.Sprintf("%s while restarting the main child", signals.Name(sig))
	msg := "stop signal while restarting: no new child; exiting"
	switch m.phase {
	case crashStopping:
		due = m.deadline
	case waiting:
		m.endWait()
		reason = fmt.Sprintf("%s while waiting for --wait-for targets: no %s started", signals.Name(sig), m.childWord())
		msg = "stop signal while waiting: no child; exiting"
	}
	m.beginStop(sig, m.cfg.Grace, due)
	m.code = 128 + int(sig)
	m.reason = reason
	m.logSignal(logrus.InfoLevel, sig, msg)
	left, _, _ := m.sweep()
	return m.finish(left)
}

// stopRestart is a stop signal during a graceful restart, once forwarded
// (a received signal always is): the stopping child is stopping for
// good. No next child starts; tinit ends with 128+N when the child's
// group is gone, with the SIGKILL that was due, as in stopping and
// killing.
func (m *machine) stopRestart(sig unix.Signal) {
	m.stopCode = 128 + int(sig)
	m.free = false
	m.logSignal(logrus.InfoLevel, sig, "stop signal while restarting: no new child; exiting once the main child is gone")
	if m.phase == reloading {
		m.beginStop(sig, m.cfg.Grace, m.deadline)
		m.to(stopping, m.killAt)
		return
	}
	// reloadKilling: the group had SIGKILL; KillWait runs on.
	m.beginStop(sig, m.cfg.Grace, time.Time{})
	if m.killBy.IsZero() {
		m.killBy = m.deadline
	}
	m.to(killing, m.killBy)
}

// childWord is "child" before the first start and "new child" after.
func (m *machine) childWord() string {
	if m.group == 0 {
		return "child"
	}
	return "new child"
}
