package signals

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it. Only the
// all-zero value is used, which means SIG_DFL with no flags and an empty
// mask on every Linux architecture, whatever the field order.
type kernelSigaction struct {
	_ [4]uint64
}

// resetReserved sets signals 32 and 34 to their default action.
//
// 32 belongs to the C library's threads, and the Go runtime keeps 34 (see
// goReserved): it installs no handler for them and keeps whatever
// disposition it inherited. A parent that ignores them (GNU make does)
// would otherwise pass the ignore through tinit to the child. SIG_DFL is
// what any Go program has for them normally.
//
// Signal 33 is left alone: in a build without cgo the runtime installs its
// own handler there (it runs syscall.AllThreadsSyscall, and so
// syscall.Setuid, on every thread), which both replaces an inherited
// ignore and gives the child the default, as for every handled signal.
// Resetting it would remove that handler, and a kill -33 would then end
// tinit.
func resetReserved() error {
	var act kernelSigaction
	for _, sig := range []unix.Signal{32, goReserved} {
		_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
			uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
		if errno != 0 {
			return fmt.Errorf("rt_sigaction(%d, SIG_DFL): %w", sig, errno)
		}
	}
	return nil
}
