// Package reaper is the only code in tinit that calls wait4.
//
// Invariants:
//
//   - Reap never blocks: it loops wait4(-1, WNOHANG) until the kernel says
//     there is nothing more to collect right now (0) or no child at all
//     (ECHILD). One SIGCHLD may stand for many exits, because the kernel
//     coalesces them, so stopping after one wait4 would leave zombies.
//   - Reap collects every child, the main one included, and hands the exits
//     back as values, with the stops that WUNTRACED reports (the terminal's
//     job control) and the continues that WCONTINUED reports; it does not
//     decide what an exit, a stop or a continue means. The caller
//     picks the main child's status out of what Reap returns. That is why
//     nothing in tinit may call exec.Cmd.Wait or os.Process.Wait: a
//     wait4(-1) here would steal their child and they would fail with
//     ECHILD (the bug behind go-reaper issues #2, #11 and #21), or they
//     would steal the main child's status from the loop.
//   - The package holds no state: the caller owns the buffer that exits are
//     appended to. Given with room, the buffer bounds one call, and the
//     caller calls again while calls come back full: a storm of 100,000
//     orphans then costs no allocation at all, and so wakes no garbage
//     collection in the middle of the storm.
package reaper
