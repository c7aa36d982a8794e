package supervise

import "golang.org/x/sys/unix"

// Exit codes for a PROGRAM that never ran, as POSIX shells use them.
const (
	CodeNotFound      = 127
	CodeNotExecutable = 126
)

// ExitCode turns a wait status into a shell-style exit code: the child's
// own code, or 128+S when signal S killed it.
func ExitCode(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	// Stopped and continued reports never get here: the sweep takes them
	// apart from exits.
	return 255
}

// ExitMap rewrites an exit code before tinit returns it: -e N maps N to 0,
// --remap-exit N:M maps N to M.
type ExitMap map[int]int

// Apply returns the code tinit exits with for a resolved child code.
func (m ExitMap) Apply(code int) int {
	if to, ok := m[code]; ok {
		return to
	}
	return code
}
