// Package proc holds the operations on processes that tinit's supervisor
// needs from the kernel: starting the main child, signalling what is left
// below tinit, the terminal's foreground group, and the heartbeat's
// interval timer. It keeps no state: the supervisor (package supervise)
// owns every decision, and reaches these through a small interface so that
// its tests need no processes.
//
// Invariants:
//
//   - Nothing here waits for a process: children are started with
//     syscall.ForkExec, which leaves no pidfd and no Wait to race the
//     reaper (package reaper is the only caller of wait4).
//   - Every child starts in a new process group of its own, in the caller's
//     directory (Spec.Dir), with fds 0-2 only, and takes the terminal's
//     foreground when tinit's group, or the previous child's, holds it.
//   - Leftovers are found by their parent chain in /proc, or reached with
//     kill(-1) as PID 1, and never include tinit itself.
//   - /proc is read only when it is tinit's own pid namespace's (OwnProc):
//     another namespace's pids name other processes. Without it, leftovers
//     are reached with kill(-1) as PID 1, and InTree's tree is every live
//     process of tinit's pid namespace but tinit.
//   - Errors name the operation and its input.
package proc
