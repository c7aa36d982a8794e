package reaper

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Exit is one child collected by Reap, or one that stopped or was
// continued: Status.Stopped() and Status.Continued() tell, and such a
// child is still there to be reaped later.
type Exit struct {
	Pid    int
	Status unix.WaitStatus
}

// Reap appends every child that has exited to buf and returns it. It
// returns when wait4 reports nothing more to collect, or no children, or
// when buf, given with room (cap > 0), is full: then left is true and the
// caller calls again. A fixed buffer lets a PID 1 reap an orphan storm
// without allocating, and so without waking the garbage collector.
// left reports whether children remain (running, stopped, or exited in
// the meantime): false means the caller has no child at all. For a PID 1 or
// a subreaper that is the same as "nothing is left below me", since every
// orphan of the tree is re-parented to it.
func Reap(buf []Exit) (exits []Exit, left bool, err error) {
	limit := cap(buf)
	for {
		if limit > 0 && len(buf) == limit {
			return buf, true, nil
		}
		var ws unix.WaitStatus
		// __WALL also collects children whose exit signal is not SIGCHLD
		// (clone(2) with another signal): nothing may stay a zombie.
		// WUNTRACED reports a child stopped by a signal, once per stop:
		// the supervisor follows the terminal's job control with it.
		// WCONTINUED reports one continued by SIGCONT, once per
		// continue, whoever sent it (a kill -CONT from docker exec).
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL|unix.WUNTRACED|unix.WCONTINUED, nil)
		switch {
		case err == nil && pid > 0:
			buf = append(buf, Exit{Pid: pid, Status: ws})
		case err == nil:
			// pid 0: children exist, none has exited yet.
			return buf, true, nil
		case errors.Is(err, unix.EINTR):
			// A signal landed on this thread mid-call; nothing was lost.
			continue
		case errors.Is(err, unix.ECHILD):
			// No children at all: the normal end of a sweep.
			return buf, false, nil
		default:
			// Only EINVAL is documented, a bug in the options above.
			return buf, true, fmt.Errorf("wait4(-1, WNOHANG|__WALL|WUNTRACED|WCONTINUED): %w", err)
		}
	}
}

// SetSubreaper makes the calling process a child subreaper, so that
// orphans below it are re-parented to it rather than to the real PID 1.
func SetSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}
