// Package signals knows which signals tinit handles and what it does with
// each: names and numbers, the set registered with os/signal, the --rewrite
// map, and the queue of signals received. The kill(2) that forwards one is
// package proc's (proc.Kill), called by the supervisor.
//
// Invariants:
//
//   - Register is called once, first thing in main, before any child
//     exists. A Go program that has not asked for SIGTERM is killed by it
//     (exit 2 when PID 1 gets it through the runtime), so registration
//     cannot wait for the configuration to be parsed.
//   - os/signal never blocks: a signal that finds its channel full is
//     dropped. SIGCHLD coalesces in the kernel anyway, so it has a 1-slot
//     channel of its own. The other signals go through a channel with room
//     (ForwardBuffer) to a goroutine that only appends them to a Pending
//     set: that channel never fills, whether the loop is reaping an orphan
//     storm or stuck writing to a stalled log pipe, so a SIGTERM is never
//     lost behind a flood of SIGCHLD or of any other signal.
//   - Pending keeps the order in which signals arrived (each signal at most
//     once while it waits, as the kernel keeps them): the child sees them
//     in the order they were sent to tinit.
//   - The only package-level state is what os/signal itself needs.
//
// What happens to each signal (see Classify):
//
//   - Forwarded: every catchable signal not listed below, including the
//     real-time signals SIGRTMIN+1..SIGRTMAX (35..64), SIGABRT, and the
//     fault signals SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS.
//     The runtime hands os/signal a fault signal only when another process
//     sent it with kill(2); a real fault inside tinit still crashes it.
//   - SIGTSTP, SIGTTIN, SIGTTOU (JobControl) and SIGCONT are forwarded
//     too, but the supervisor gives them their job-control meaning: it
//     stops the child's group and itself, and on SIGCONT gives the
//     terminal back to the child. They are caught, never ignored: an
//     ignored disposition survives execve and the child would inherit it.
//   - SIGCHLD: drives the reaper, never forwarded.
//   - SIGALRM: the heartbeat's tick (setitimer) while the heartbeat runs,
//     on a 1-slot channel of its own (Channels.Heartbeat); forwarded like
//     any other signal, in order, when it is off.
//   - SIGURG: the Go runtime's goroutine preemption signal. It is not
//     registered at all; forwarding it would send the child a stream of
//     signals it never asked for.
//   - SIGPROF: the runtime's profiling signal. Not registered: the runtime
//     keeps its handler, which drops it when no profile runs.
//   - SIGPIPE: the kernel raises it on tinit's own write to a closed pipe
//     (stderr of a log collector that went away). os/signal cannot tell
//     that from a kill(2), and it is never meant for the child: caught and
//     dropped, so a broken log pipe neither kills PID 1 nor the app.
//   - SIGHUP, SIGINT: forwarded, unless tinit started with them ignored
//     (nohup, a background job). Then they are not registered at all:
//     registering would un-ignore them, and the child would lose the
//     ignore it inherited. tini keeps these ignores too.
//   - SIGKILL, SIGSTOP cannot be caught. Signals 32 and 33 are reserved by
//     the C library's thread implementation and are neither registered nor
//     accepted by name. The runtime leaves 32's inherited disposition
//     alone, so Register resets it to the default: an ignore inherited
//     from the parent (GNU make ignores it) must not reach the child. 33
//     has the runtime's own handler in a build without cgo (it runs
//     syscall.AllThreadsSyscall), which already gives the child the
//     default; Register leaves it alone, and a kill -33 does not end tinit.
//   - Signal 34 (SIGRTMIN) is kept by the Go runtime (musl's SIGSYNCCALL):
//     it is never delivered to os/signal, so tinit cannot forward it and
//     refuses it as a --rewrite source or a stop signal. Register resets
//     its disposition like 32's. It can still be a --rewrite target. tini
//     forwards it; a Go init cannot.
//
// The Go runtime replaces every other ignored disposition tinit inherits
// before main runs (only SIGHUP's and SIGINT's are kept), so unlike tini,
// tinit cannot pass an inherited ignore of, say, SIGUSR1 on to the child:
// the child always starts with that signal at its default.
package signals
