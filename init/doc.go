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
//   - Run never exits the process; it returns the exit code and main exits.
//
// Exit codes (ExitCode, then Config.ExitMap):
//
//	child exited with N      N
//	child killed by signal S 128+S
//	PROGRAM not found        127
//	PROGRAM not executable   126
//
// tinit's own usage and configuration errors (exit 2) are decided in main,
// before Run is called.
package supervise
