package supervise

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/init/proc"
	"github.com/tinit/tinit/reaper"
)

// Ops are the operations on processes that the machine performs. The real
// ones (osOps) are package proc's and package reaper's; tests give fakes,
// so that every transition is driven without a process or a sleep.
type Ops interface {
	// Start starts a main child.
	Start(spec proc.Spec) (proc.Child, error)
	// Kill is kill(2); a negative pid is a group. "Gone" is
	// proc.ErrNoProcess.
	Kill(pid int, sig unix.Signal) error
	// Getpgid is getpgid(2).
	Getpgid(pid int) (int, error)
	// Reap is reaper.Reap.
	Reap(buf []reaper.Exit) ([]reaper.Exit, bool, error)
	// SignalLeftovers sends sig to every process below tinit except the
	// members of the groups in skip, and says how many it reached (-1:
	// unknown).
	SignalLeftovers(sig unix.Signal, skip []int) (int, error)
	// Leftovers lists the processes still below tinit.
	Leftovers() []int
	// Foreground gives the terminal to group pgid if tinit's group holds
	// it, and says whether it did.
	Foreground(pgid int) (bool, error)
	// CanStop reports whether a stopped tinit could be continued: its
	// process group is not orphaned.
	CanStop() bool
	// InTree reports whether pid is root or below it.
	InTree(pid, root int) bool
}

// Clock is the loop's time source.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// osOps are the real operations, for a tinit whose pid is self.
type osOps struct{ self int }

func (osOps) Start(spec proc.Spec) (proc.Child, error) { return proc.Start(spec) }
func (osOps) Kill(pid int, sig unix.Signal) error      { return proc.Kill(pid, sig) }
func (osOps) Getpgid(pid int) (int, error)             { return proc.Getpgid(pid) }
func (osOps) Reap(buf []reaper.Exit) ([]reaper.Exit, bool, error) {
	return reaper.Reap(buf)
}
func (o osOps) SignalLeftovers(sig unix.Signal, skip []int) (int, error) {
	return proc.SignalLeftovers(sig, o.self, skip)
}
func (o osOps) Leftovers() []int {
	pids, _ := proc.Descendants(o.self)
	return pids
}
func (osOps) Foreground(pgid int) (bool, error) { return proc.Foreground(pgid) }
func (osOps) CanStop() bool                     { return !proc.Orphaned() }
func (osOps) InTree(pid, root int) bool         { return proc.InTree(pid, root) }
