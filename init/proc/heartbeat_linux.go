package proc

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// ArmHeartbeat starts setitimer(ITIMER_REAL): a SIGALRM every d, into the
// same loop that handles SIGCHLD and the forwarded signals. A tick that
// arrives proves the loop is alive; a loop that stalls stops recording them,
// and the health endpoint sees the last tick age.
//
// The timer lives in this process only: fork does not pass it on, and
// tinit never execs itself once it is armed (an itimer would survive exec).
func ArmHeartbeat(d time.Duration) error {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if _, err := unix.Setitimer(unix.ItimerReal, unix.Itimerval{Interval: tv, Value: tv}); err != nil {
		return fmt.Errorf("setitimer(ITIMER_REAL, %v): %w", d, err)
	}
	return nil
}

// DisarmHeartbeat stops the timer.
func DisarmHeartbeat() {
	unix.Setitimer(unix.ItimerReal, unix.Itimerval{})
}
