package supervise

import (
	"os"
	"time"

	"github.com/tinit/tinit/init/proc"
)

// Run starts the main child and supervises it: forwards signals, reaps
// every child, restarts by policy, and drains the tree at the end. It
// returns how tinit should exit.
func Run(cfg Config, sigs Signals) Result {
	self := os.Getpid()
	if cfg.Notify.On && !proc.OwnProc() {
		// Said once, here: each message judged so is logged at debug only.
		cfg.Log.Warn("notify: /proc is not tinit's own (not mounted, or another pid namespace's): any process in tinit's pid namespace counts as in the main child's tree, for --notify-access tree and MAINPID=")
	}
	return run(cfg, sigs, osOps{self: self}, wallClock{}, self, heartbeat{})
}

// ticker arms and disarms the heartbeat's interval timer.
type ticker interface {
	Arm(d time.Duration) error
	Disarm()
}

type heartbeat struct{}

func (heartbeat) Arm(d time.Duration) error { return proc.ArmHeartbeat(d) }
func (heartbeat) Disarm()                   { proc.DisarmHeartbeat() }

// run is Run with its operations, clock and timer given: the one select
// loop over signals, exits and the phase's deadline.
func run(cfg Config, sigs Signals, ops Ops, clock Clock, self int, tick ticker) Result {
	m := newMachine(cfg, ops, clock, self)
	if cfg.Heartbeat > 0 {
		// Ticks go to the Alarm channel from before the timer is armed
		// until after it is disarmed, so none is forwarded as a signal.
		route(sigs, true)
		if err := tick.Arm(cfg.Heartbeat); err != nil {
			// No ticks will come: say so rather than fail liveness, and
			// forward SIGALRM again.
			m.log.Warn(err)
			m.cfg.Heartbeat = 0
			route(sigs, false)
		} else {
			defer route(sigs, false)
			defer tick.Disarm()
			m.lastTick = clock.Now()
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var armed time.Time // the deadline the timer is set for
	done := m.start()
	for !done {
		m.publish()
		if !m.deadline.Equal(armed) {
			armed = m.deadline
			if armed.IsZero() {
				timer.Stop()
			} else {
				timer.Reset(armed.Sub(clock.Now()))
			}
		}
		select {
		case <-sigs.Child:
			done = m.onChild()
		case <-sigs.Alarm:
			done = m.onTick()
		case <-sigs.Other.Wake():
			m.sigs = sigs.Other.Take(m.sigs[:0])
			for _, sig := range m.sigs {
				if done = m.onSignal(sig); done {
					break
				}
			}
		case msg := <-sigs.Notify:
			m.onNotify(msg)
		case <-m.waitC:
			done = m.onWaitDone()
		case ch := <-sigs.Changes:
			done = m.onChange(ch)
		case <-timer.C:
			armed = time.Time{}
			// Timers and the clock may disagree by a hair: a deadline not
			// reached yet is armed again above.
			if !m.deadline.IsZero() && !clock.Now().Before(m.deadline) {
				done = m.onTimer()
			}
		}
	}
	m.publish()
	return m.result()
}

func route(sigs Signals, on bool) {
	if sigs.Heartbeat != nil {
		sigs.Heartbeat(on)
	}
}
