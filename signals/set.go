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
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGURG, goReserved:
		return Unhandled
	case unix.SIGTTIN, unix.SIGTTOU, unix.SIGPIPE,
		unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS:
		return Drop
	}
	if !valid(int(sig)) {
		return Unhandled
	}
	return Forward
}

// Channels are the receiving ends that Register sets up.
type Channels struct {
	// Child receives SIGCHLD. One slot: SIGCHLDs coalesce, and the reaper
	// loops until nothing is left, so one pending wake-up is enough.
	Child <-chan os.Signal
	// Alarm receives SIGALRM, the heartbeat's tick. One slot: ticks
	// coalesce, and the loop compares times rather than counting them.
	// With the heartbeat off, the loop forwards it like any other signal.
	Alarm <-chan os.Signal
	// Other holds every other registered signal, forwarded or dropped, as
	// a pending set.
	Other *Pending
	// KeptIgnored lists SIGHUP and SIGINT when tinit started with them
	// ignored: they are left ignored, for tinit and for the child.
	KeptIgnored []unix.Signal
	// Err reports a failure to reset signals 32 and 33; registration itself
	// cannot fail.
	Err error

	registered chan struct{} // closed once every signal is registered
}

// Register asks os/signal for every signal tinit handles. Call it once,
// first thing in main, before any child exists, and call Wait before the
// child starts.
//
// Register itself takes the signals that matter from the first moment: the
// ones the Go runtime turns into tinit's death or a crash when nobody asked
// for them (HUP, INT, QUIT, TERM, ABRT, ...), the ones whose default would
// stop tinit (TSTP, TTIN, TTOU), SIGCHLD, SIGALRM, and the common ones an
// app is sent (USR1, USR2, WINCH). The rest (SIGPWR, SIGXCPU, the real-time
// signals and so on) are taken by a goroutine while main parses its
// configuration: os/signal makes a round trip to the runtime's signal
// thread for each signal, about 40 µs here, and doing the 37 rare ones in
// parallel takes that off tinit's start-up. Until they are registered the
// runtime drops them, as it drops every signal that arrives before main.
func Register() *Channels {
	child := make(chan os.Signal, 1)
	alarm := make(chan os.Signal, 1)
	other := make(chan os.Signal, ForwardBuffer)
	done := make(chan struct{})
	c := &Channels{Child: child, Alarm: alarm, Other: NewPending(), Err: resetReserved(), registered: done}

	signal.Notify(child, unix.SIGCHLD)
	signal.Notify(alarm, unix.SIGALRM)
	var first, rest []os.Signal
	for n := 1; n <= RTMax; n++ {
		sig := unix.Signal(n)
		a := Classify(sig)
		if (a != Forward && a != Drop) || sig == unix.SIGALRM {
			continue
		}
		// The runtime keeps an inherited SIG_IGN only for these two, and
		// Notify would replace it with a handler.
		if (sig == unix.SIGHUP || sig == unix.SIGINT) && signal.Ignored(sig) {
			c.KeptIgnored = append(c.KeptIgnored, sig)
			continue
		}
		if urgent(sig) {
			first = append(first, sig)
		} else {
			rest = append(rest, sig)
		}
	}
	signal.Notify(other, first...)
	go c.Other.pump(other)
	go func() {
		signal.Notify(other, rest...)
		close(done)
	}()
	return c
}

// Wait returns once every signal is registered.
func (c *Channels) Wait() { <-c.registered }

// urgent reports whether sig must be registered before main goes on.
func urgent(sig unix.Signal) bool {
	switch sig {
	case unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, // the runtime dies or crashes on these...
		unix.SIGABRT, unix.SIGTRAP, unix.SIGSYS, unix.SIGSTKFLT, // ...and throws on these
		unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, // the kernel's default stops tinit
		unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH: // sent to apps every day
		return true
	}
	return false
}
