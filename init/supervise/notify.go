package supervise

import (
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/proc"
	"github.com/tinit/tinit/notify"
	"github.com/tinit/tinit/signals"
)

// childWord is what the current main child said on the notify socket. It
// starts over with every child: a restarted child must say READY=1 again.
type childWord struct {
	ready     bool      // READY=1 came, and no RELOADING=1 since
	wasReady  bool      // READY=1 came at some point: --notify-timeout is met
	reloading bool      // RELOADING=1 came after the last READY=1
	stopping  bool      // STOPPING=1 came
	status    string    // the last STATUS=
	mainPID   int       // MAINPID=, in the child's tree; 0 for none
	dogAt     time.Time // the watchdog's deadline; zero: not armed
	ping      time.Time // the last WATCHDOG=1
	// failure says why tinit ended this child itself (not ready in time,
	// hung): its exit is a failure whatever its status.
	failure string
	// hung: the watchdog fired; liveness fails until the child exits.
	hung bool
	// pausedAt: the child is stopped by job control (Ctrl-Z) since then;
	// its deadlines wait. shift is the time it spent stopped before.
	pausedAt time.Time
	shift    time.Duration
}

// notifyState is the counts the health endpoint shows; they span children.
type notifyState struct {
	counts   [healthz.NotifyKinds]uint64
	rejected [healthz.RejectKinds]uint64
}

// runDeadline is the running phase's one deadline: --notify-timeout
// until the child is first ready, then the watchdog once READY=1 armed
// it. The two never overlap.
func (m *machine) runDeadline() time.Time {
	n := m.cfg.Notify
	switch {
	case !n.On || !m.word.pausedAt.IsZero():
		return time.Time{}
	case !m.word.wasReady && n.Timeout > 0:
		return m.started.Add(n.Timeout + m.word.shift)
	}
	return m.word.dogAt
}

// pauseDeadline holds the running phase's deadline while the child is
// stopped by job control: a child stopped from the terminal is neither
// slow to start nor hung.
func (m *machine) pauseDeadline() {
	if m.phase != running || !m.word.pausedAt.IsZero() || !m.cfg.Notify.On {
		return
	}
	m.word.pausedAt = m.clock.Now()
	m.to(running, time.Time{})
}

// resumeDeadline moves the held deadline on by the time the child spent
// stopped.
func (m *machine) resumeDeadline() {
	if m.word.pausedAt.IsZero() {
		return
	}
	d := m.clock.Now().Sub(m.word.pausedAt)
	m.word.pausedAt = time.Time{}
	m.word.shift += d
	if !m.word.dogAt.IsZero() {
		m.word.dogAt = m.word.dogAt.Add(d)
	}
	if m.phase == running {
		m.to(running, m.runDeadline())
	}
}

// mayNotify reports whether pid may speak for the main child.
func (m *machine) mayNotify(pid int) bool {
	c, main := m.child.Pid, m.word.mainPID
	switch {
	case pid <= 0 || c == 0:
		// 0: a sender in a pid namespace tinit cannot see (another
		// container of the pod, on the shared abstract socket).
		return false
	case pid == c:
		return true
	case main != 0 && !m.ops.InTree(main, c):
		// MAINPID has exited since: its pid may be someone else's now.
		m.word.mainPID, main = 0, 0
	}
	switch {
	case main != 0 && pid == main:
		return true
	case m.cfg.Notify.MainOnly:
		return false
	}
	return m.ops.InTree(pid, c)
}

// onNotify is one datagram from the notify socket.
func (m *machine) onNotify(msg notify.Message) {
	if msg.FDs > 0 && m.log.IsLevelEnabled(logrus.DebugLevel) {
		m.log.WithFields(logrus.Fields{"pid": msg.Pid, "fds": msg.FDs}).Debug("notify: file descriptors came with a message: closed")
	}
	switch msg.Bad {
	case "":
	case notify.BadOversized:
		m.reject(healthz.RejectOversized, msg, "notify: dropped a datagram over 4096 bytes")
		return
	case notify.BadFDs:
		m.reject(healthz.RejectFDs, msg, "notify: dropped a datagram that passed more than 4 file descriptors")
		return
	default:
		m.reject(healthz.RejectMalformed, msg, "notify: dropped a datagram that is not KEY=VALUE lines")
		return
	}
	if !m.mayNotify(msg.Pid) {
		m.reject(healthz.RejectAccess, msg, "notify: dropped a message from a process that may not speak for the main child")
		return
	}
	n := &m.notes.counts
	now := m.clock.Now()
	// The watchdog's interval counts from now, or, while the child is
	// stopped (a sender in its tree may still run), from the stop:
	// resumeDeadline adds the whole pause, so the interval then starts
	// when the child runs again, not later by the part of the pause that
	// came before the message.
	dogBase := now
	if !m.word.pausedAt.IsZero() {
		dogBase = m.word.pausedAt
	}
	n[healthz.NotifyUnknown] += uint64(msg.Unknown)
	if msg.MainPID != 0 {
		n[healthz.NotifyMainPID]++
		// MAINPID only changes who may speak: tinit follows the child it
		// started all the same.
		if m.ops.InTree(msg.MainPID, m.child.Pid) {
			m.word.mainPID = msg.MainPID
		} else {
			m.log.WithFields(logrus.Fields{"pid": msg.Pid, "mainpid": msg.MainPID}).Warn("notify: MAINPID is not in the main child's tree: ignored")
		}
	}
	if msg.HasStatus {
		n[healthz.NotifyStatus]++
		if msg.Status != m.word.status {
			m.word.status = msg.Status
			if m.log.IsLevelEnabled(logrus.InfoLevel) {
				m.log.WithFields(logrus.Fields{"pid": msg.Pid, "status": msg.Status}).Info("notify: status")
			}
		}
	}
	failed := m.word.failure != "" // what it says now changes nothing
	if msg.Reloading {
		n[healthz.NotifyReloading]++
		if !failed {
			m.word.ready, m.word.reloading = false, true
			if m.log.IsLevelEnabled(logrus.InfoLevel) {
				m.log.WithField("pid", msg.Pid).Info("notify: reloading: not ready until READY=1")
			}
		}
	}
	if msg.Ready {
		n[healthz.NotifyReady]++
	}
	if msg.Ready && !failed {
		if !m.word.ready && m.log.IsLevelEnabled(logrus.InfoLevel) {
			m.log.WithFields(logrus.Fields{"pid": msg.Pid, "after": now.Sub(m.started).Round(time.Millisecond).String()}).Info("notify: main child ready")
		}
		m.word.ready, m.word.wasReady, m.word.reloading = true, true, false
		if d := m.cfg.Notify.Watchdog; d > 0 && m.word.dogAt.IsZero() {
			// As systemd's WatchdogSec=: armed by READY=1.
			m.word.dogAt = dogBase.Add(d)
		}
	}
	if msg.Stopping {
		n[healthz.NotifyStopping]++
		m.word.stopping = true
		if m.log.IsLevelEnabled(logrus.InfoLevel) {
			m.log.WithField("pid", msg.Pid).Info("notify: stopping: not ready")
		}
	}
	if msg.Watchdog || msg.WatchdogTrigger {
		n[healthz.NotifyWatchdog]++
		m.word.ping = now
		if !m.word.dogAt.IsZero() {
			m.word.dogAt = dogBase.Add(m.cfg.Notify.Watchdog)
		}
	}
	// As systemd: the trigger works with or without --notify-watchdog.
	if msg.WatchdogTrigger && m.phase == running {
		m.word.hung = true
		m.failChild("watchdog: WATCHDOG=trigger", unix.SIGABRT)
		return
	}
	if m.phase == running {
		m.to(running, m.runDeadline())
	}
}

func (m *machine) reject(reason int, msg notify.Message, line string) {
	m.notes.rejected[reason]++
	if m.log.IsLevelEnabled(logrus.DebugLevel) {
		m.log.WithField("pid", msg.Pid).Debug(line)
	}
}

// onRunDeadline is the running phase's deadline: the child was not ready
// in time, or its watchdog ran out.
func (m *machine) onRunDeadline() {
	if !m.word.wasReady {
		m.failChild(fmt.Sprintf("not ready %v after its start (--notify-timeout)", m.cfg.Notify.Timeout), unix.SIGTERM)
		return
	}
	m.word.hung = true
	m.failChild(fmt.Sprintf("watchdog: no WATCHDOG=1 for %v (--notify-watchdog)", m.cfg.Notify.Watchdog), unix.SIGABRT)
}

// failChild ends a main child that failed in a way only tinit sees: sig
// to it (SIGABRT to the child alone, as systemd's watchdog; SIGTERM to its
// group), SIGKILL to its group after --grace. Its exit is a failure
// whatever its status, and the restart policy decides as for a crash.
func (m *machine) failChild(why string, sig unix.Signal) {
	m.word.failure = why
	m.word.dogAt = time.Time{}
	m.word.ready = false
	m.log.WithFields(logrus.Fields{"pid": m.child.Pid, "signal": signals.Name(sig), "grace": m.cfg.Grace.String()}).
		Errorf("main child failed: %s", why)
	var err error
	if sig != unix.SIGABRT && m.cfg.Group {
		// Recorded as the group's stop: neither a restart nor the final
		// drain sends it another SIGTERM.
		_, err = m.groupSignal(m.child.Pid, sig, tinitStop)
	} else {
		err = m.ops.Kill(m.child.Pid, sig)
	}
	if err != nil && !errors.Is(err, proc.ErrNoProcess) {
		m.log.Warn(err)
	}
	m.word.pausedAt = time.Time{}
	m.to(failing, m.clock.Now().Add(m.cfg.Grace))
}

// notReadyWhy says why the child is not ready, for /readyz.
func (w *childWord) notReadyWhy() string {
	switch {
	case w.failure != "":
		return "it failed: " + w.failure
	case w.stopping:
		return "it sent STOPPING=1"
	case w.reloading:
		return "reloading (RELOADING=1), waiting for READY=1"
	}
	return "waiting for its READY=1 (--notify)"
}

// killFailed is --grace over for a failed child: SIGKILL to its group,
// and to the child itself, which may have left it.
func (m *machine) killFailed() {
	m.log.WithFields(logrus.Fields{"signal": "SIGKILL", "group": m.child.Pid, "grace": m.cfg.Grace.String()}).
		Warn("the failed main child outlived the grace period: killing its group")
	m.sigkillChild()
	// Its own KillWait, not markKilled's: a restarted generation's
	// drain must not inherit a SIGKILL deadline long past.
	m.to(failKilling, m.clock.Now().Add(KillWait))
}
