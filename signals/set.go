package signals

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// Action is what tinit does with a signal it receives.
type Action int

const (
	// Forward: rewrite, then send to the main child (or its group).
	Forward Action = iota
	// Reap: SIGCHLD, run the reaper.
	Reap
	// Drop: caught so that it neither stops nor crashes tinit, and so that
	// the child starts with the default disposition; never forwarded.
	Drop
	// Unhandled: never registered (uncatchable, or owned by the runtime or
	// the C library).
	Unhandled
)

// ForwardBuffer is the room in os/signal's channel for the signals other
// than SIGCHLD. A goroutine empties it into a Pending set as fast as
// signals come, so it only absorbs scheduling delays of that goroutine.
const ForwardBuffer = 128

// goReserved is signal 34, SIGRTMIN to glibc. The Go runtime keeps it for
// musl's SIGSYNCCALL (Go issue 39343): it installs no handler for it and
// never delivers it to os/signal, so tinit can neither catch nor forward
// it. It can still be sent: --rewrite TERM:RTMIN is fine.
const goReserved unix.Signal = 34

// Classify says what tinit does with sig. See the package doc for why.
func Classify(sig unix.Signal) Action {
	switch sig {
	case unix.SIGCHLD:
		return Reap
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGURG, unix.SIGPROF, goReserved:
		return Unhandled
	case unix.SIGPIPE:
		return Drop
	}
	if !valid(int(sig)) {
		return Unhandled
	}
	return Forward
}

// JobControl reports whether sig asks the terminal's job to stop: the
// supervisor stops the child's group (and tinit) rather than forwarding
// it as it came.
func JobControl(sig unix.Signal) bool {
	return sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU
}

// Channels are the receiving ends that Register sets up.
type Channels struct {
	// Child receives SIGCHLD. One slot: SIGCHLDs coalesce, and the reaper
	// loops until nothing is left, so one pending wake-up is enough.
	Child <-chan os.Signal
	// Alarm receives SIGALRM, the heartbeat's tick, once Heartbeat(true)
	// is called. One slot: ticks coalesce, and the loop compares times
	// rather than counting them. With the heartbeat off, SIGALRM goes to
	// Other and is forwarded like any other signal, in order.
	Alarm <-chan os.Signal
	// Other holds every other registered signal, forwarded or dropped, as
	// a pending set.
	Other *Pending
	// KeptIgnored lists SIGHUP and SIGINT when tinit started with them
	// ignored: they are left ignored, for tinit and for the child.
	KeptIgnored []unix.Signal
	// Err reports a failure to reset signals 32 and 34; registration itself
	// cannot fail.
	Err error
}

// Heartbeat routes SIGALRM to Alarm (on) or to Other (off, the start).
// Call it before arming the interval timer and after disarming it.
func (c *Channels) Heartbeat(on bool) { c.Other.heartbeat.Store(on) }

// Register asks os/signal for every signal tinit handles. Call it once,
// first thing in main, before any child exists.
//
// os/signal makes a round trip to the runtime's signal thread for each
// signal, about 40 µs here: registering the 58 signals tinit handles costs
// about 2 ms of start-up, measured (bench/mininit -all). Registering the
// rare ones in a goroutine while main parses its configuration, and waiting
// for it before the child starts, gained nothing measurable on an idle
// machine, so it is done here, in order.
func Register() *Channels {
	child := make(chan os.Signal, 1)
	alarm := make(chan os.Signal, 1)
	other := make(chan os.Signal, ForwardBuffer)
	c := &Channels{Child: child, Alarm: alarm, Other: NewPending(), Err: resetReserved()}
	c.Other.tick = alarm

	signal.Notify(child, unix.SIGCHLD)
	var set []os.Signal
	for n := 1; n <= RTMax; n++ {
		sig := unix.Signal(n)
		a := Classify(sig)
		if a != Forward && a != Drop {
			continue
		}
		// The runtime keeps an inherited SIG_IGN only for these two, and
		// Notify would replace it with a handler.
		if (sig == unix.SIGHUP || sig == unix.SIGINT) && signal.Ignored(sig) {
			c.KeptIgnored = append(c.KeptIgnored, sig)
			continue
		}
		set = append(set, sig)
	}
	signal.Notify(other, set...)
	go c.Other.pump(other)
	return c
}
