package supervise

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// RestartPolicy says which exits of the main child are followed by a new
// one.
type RestartPolicy int

const (
	RestartNever     RestartPolicy = iota // exit with the child
	RestartOnFailure                      // restart on a crash
	RestartAlways                         // restart on any exit
)

// ParseRestartPolicy reads never, on-failure or always.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	switch s {
	case "never":
		return RestartNever, nil
	case "on-failure":
		return RestartOnFailure, nil
	case "always":
		return RestartAlways, nil
	}
	return 0, fmt.Errorf("%q: want never, on-failure or always", s)
}

func (p RestartPolicy) String() string {
	return [...]string{"never", "on-failure", "always"}[p]
}

// Restart holds the restart settings.
type Restart struct {
	Policy RestartPolicy
	// Backoff is the first delay; it doubles after each restart up to
	// BackoffMax, and is back to Backoff once a child has run BackoffReset.
	Backoff, BackoffMax, BackoffReset time.Duration
	// MaxRestarts (0: no limit) within Window (0: ever).
	MaxRestarts int
	Window      time.Duration
}

// crashed reports whether an exit counts as a failure for on-failure: a
// non-zero code, or death by a signal that tinit did not send itself.
func crashed(ws unix.WaitStatus, sentByTinit func(unix.Signal) bool) bool {
	if ws.Signaled() {
		return !sentByTinit(ws.Signal())
	}
	return ws.ExitStatus() != 0
}

// wantsRestart applies the policy to an exit that tinit did not cause by
// stopping. SIGINT is never restarted: Ctrl-C at a terminal goes straight to
// the child's group and means stop.
func (r Restart) wantsRestart(ws unix.WaitStatus, sentByTinit func(unix.Signal) bool) bool {
	if ws.Signaled() && ws.Signal() == unix.SIGINT {
		return false
	}
	switch r.Policy {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return crashed(ws, sentByTinit)
	}
	return false
}

// backoff tracks the delay before the next restart and the restarts that
// count against the limit. The loop owns it (and counts the restarts that
// actually started).
type backoff struct {
	cfg   Restart
	next  time.Duration // delay before the next restart
	times []time.Time   // restarts inside the window, oldest first
}

func newBackoff(cfg Restart) *backoff {
	return &backoff{cfg: cfg, next: cfg.Backoff}
}

// limitReached reports whether another restart at now would exceed
// MaxRestarts within Window.
func (b *backoff) limitReached(now time.Time) bool {
	if b.cfg.MaxRestarts <= 0 {
		return false
	}
	b.prune(now)
	return len(b.times) >= b.cfg.MaxRestarts
}

func (b *backoff) prune(now time.Time) {
	if b.cfg.Window <= 0 {
		return
	}
	i := 0
	for i < len(b.times) && now.Sub(b.times[i]) >= b.cfg.Window {
		i++
	}
	// Copy down rather than reslice, so the backing array does not grow
	// without bound over a long life of restarts.
	b.times = append(b.times[:0], b.times[i:]...)
}

// schedule records a restart decided at now for a child that ran for ran,
// and returns the delay to wait before starting it.
func (b *backoff) schedule(now time.Time, ran time.Duration) time.Duration {
	if ran >= b.cfg.BackoffReset {
		b.next = b.cfg.Backoff
	}
	d := b.next
	b.next = min(b.next*2, b.cfg.BackoffMax)
	if b.next < b.cfg.Backoff { // Backoff 0 stays 0; overflow never wraps
		b.next = b.cfg.Backoff
	}
	if b.cfg.MaxRestarts > 0 {
		b.times = append(b.times, now)
	}
	return d
}
