package main

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// clearInheritedMask gives tinit, and so its child, an empty signal mask.
//
// The Go runtime saves the mask a process starts with and restores it in
// every child it forks, so a signal blocked by tinit's parent would stay
// blocked in the app, which would then never see, say, the SIGUSR1 it
// reloads on. The runtime's own threads run with the mask minus the signals
// it needs; whatever is still blocked here came from the parent. The only
// way to give the runtime a clean start is to exec again with an empty
// mask. A normal start (docker, containerd, a shell) has nothing blocked
// and pays one sigprocmask call.
//
// Signals the runtime always unblocks on its own threads (SIGTERM, SIGINT,
// the fault signals) do not show here; measured, a parent that blocks
// SIGTERM still gives the child an empty mask without the re-exec. The
// end-to-end test blocks SIGUSR1, which is what this is for.
func clearInheritedMask() {
	runtime.LockOSThread() // the mask is per thread; exec from this one
	defer runtime.UnlockOSThread()
	var cur unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &cur); err != nil {
		return
	}
	if cur == (unix.Sigset_t{}) {
		return
	}
	empty := unix.Sigset_t{}
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &empty, nil); err != nil {
		return
	}
	// No itimer is armed yet and no handler registered: exec is safe here.
	err := unix.Exec("/proc/self/exe", os.Args, os.Environ())
	errorLines(os.Stderr, jsonErrors(nil, os.Args[1:]), fmt.Errorf("warning: re-exec to clear the inherited signal mask: %v; the child inherits it", err))
}
