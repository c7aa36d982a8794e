package proc

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrNoProcess means the target was gone: the process, or every member of
// the group, had already exited.
var ErrNoProcess = errors.New("no such process")

// Kill is kill(2): a negative pid is a process group. ESRCH comes back as
// ErrNoProcess, so that callers can tell "gone" from a real failure.
func Kill(pid int, sig unix.Signal) error {
	err := unix.Kill(pid, sig)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("kill(%d, %d): %w", pid, sig, ErrNoProcess)
	default:
		return fmt.Errorf("kill(%d, %d): %w", pid, sig, err)
	}
}

// Getpgid is getpgid(2).
func Getpgid(pid int) (int, error) {
	pg, err := unix.Getpgid(pid)
	if err != nil {
		return 0, fmt.Errorf("getpgid(%d): %w", pid, err)
	}
	return pg, nil
}

// Foreground gives the terminal on stdin to process group pgid, when
// tinit's own group holds it: after "fg" the shell has given it to tinit,
// and the child it stopped must have it back. After "bg" the shell keeps
// it, and so does a terminal that is not tinit's. Returns whether it did.
//
// tcsetpgrp from a background group raises SIGTTOU, which would stop
// tinit; it is blocked on this thread for the call, as the runtime does in
// the child it starts in the foreground.
func Foreground(pgid int) (bool, error) {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return false, nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ttou, old unix.Sigset_t
	ttou.Val[(unix.SIGTTOU-1)/64] |= 1 << ((uint(unix.SIGTTOU) - 1) % 64)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &ttou, &old); err != nil {
		return false, fmt.Errorf("block SIGTTOU: %w", err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	if err := unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, pgid); err != nil {
		return false, fmt.Errorf("tcsetpgrp(0, %d): %w", pgid, err)
	}
	return true, nil
}

// Orphaned reports whether tinit's process group is orphaned, by the
// kernel's rule: no member has a parent in another group of the same
// session, so no shell's job control would ever continue it (ssh -t,
// script and setsid start it so). The kernel discards the terminal's stop
// signals for such a group; a stop tinit sent itself would never end. A
// /proc that cannot be read counts as orphaned: not stopping is the safe
// side.
func Orphaned() bool {
	procs, err := all()
	if err != nil {
		return true
	}
	pgrp := unix.Getpgrp()
	sid, err := unix.Getsid(0)
	if err != nil {
		return true
	}
	byPid := make(map[int]process, len(procs))
	for _, p := range procs {
		byPid[p.pid] = p
	}
	for _, p := range procs {
		if p.pgrp != pgrp {
			continue
		}
		if parent, ok := byPid[p.ppid]; ok && parent.pgrp != pgrp && parent.sid == sid {
			return false
		}
	}
	return true
}
