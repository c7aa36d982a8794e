// Package supervise is tinit's event loop: it starts the main child and owns
// everything about it until tinit exits.
//
// The directory is named init, as the project's layout asks, but a package
// named init could not be imported without an alias at every import site
// (init is a reserved function name in Go). The package is named for what
// it does: it supervises the main child. Import it as
//
//	"github.com/tinit/tinit/init" // package supervise
//
// Invariants:
//
//   - One goroutine, the one running Run, owns the child's state: its pid,
//     whether it has exited, the exit code to return. Nothing else writes
//     it.
//   - Reaping goes through package reaper only, from this loop: on every
//     SIGCHLD it sweeps with wait4(-1, WNOHANG) and picks the main child's
//     status out of the sweep. Children are started with syscall.ForkExec,
//     which leaves no pidfd and no Wait of its own to race the sweep.
//   - Every signal tinit handles was registered (package signals) before the
//     child is started, so none can arrive unhandled in between.
//   - Run never exits the process; it returns a Result and main exits.
//   - One timer serves whichever phase is current (see Phases), so no timer
//     can fire into the wrong one.
//   - tinit is done when the reaper reports no child left: as PID 1 or
//     subreaper every survivor of the tree is re-parented to it, so "no
//     child" is "nothing left", and the case with nothing left costs no
//     wait at all.
//   - The heartbeat's setitimer lives here, not in healthz as the design
//     sketch put it: the timer's life (armed at start, disarmed before
//     Run returns) belongs to the loop that receives its SIGALRM, and
//     healthz only reads the tick time the loop publishes.
//   - Other goroutines see the loop's state only through the
//     healthz.State it publishes, once per event.
//
// Phases, and what the one timer means in each:
//
//	running     the main child is alive; after a stop signal the timer is
//	            the end of --drain (the held signal is then forwarded),
//	            then the SIGKILL deadline (drain + grace)
//	backingOff  the child crashed; the timer starts the next one, and a
//	            stop signal ends tinit (128+N) instead
//	draining    the child is gone for good; leftovers got SIGTERM, the
//	            timer sends SIGKILL, then ends the single KillWait
//
// Exit codes (ExitCode, then Config.ExitMap):
//
//	child exited with N      N (the last child's, with restarts)
//	child killed by signal S 128+S (137 after tinit's own SIGKILL)
//	stop signal N in backoff 128+N
//	PROGRAM not found        127
//	PROGRAM not executable   126
//
// tinit's own usage and configuration errors (exit 2) are decided in main,
// before Run is called.
package supervise
