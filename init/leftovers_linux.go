package supervise

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// signalLeftovers sends sig to every process still alive below tinit and
// returns how many it reached (-1 when it cannot tell, as PID 1).
//
// As PID 1, kill(-1) reaches every process in the PID namespace except
// tinit itself, which is exactly "below tinit". Otherwise tinit walks /proc
// for its descendants by parent chain; as a subreaper they all end up as
// its children anyway, but they must be signalled while their parents
// still live.
func signalLeftovers(sig unix.Signal, self int) (int, error) {
	if self == 1 {
		err := unix.Kill(-1, sig)
		if errors.Is(err, unix.ESRCH) {
			return 0, nil
		}
		return -1, err
	}
	pids, err := descendants(self)
	n := 0
	for _, pid := range pids {
		if unix.Kill(pid, sig) == nil {
			n++
		}
	}
	return n, err
}

// descendants lists the processes whose parent chain leads to root, by
// reading /proc. A process may exit or fork while the walk runs; the
// caller sends signals again until none is left.
func descendants(root int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(pid); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out, nil
}

// parentOf reads a process's parent pid from /proc/PID/stat. The command
// name in parentheses may hold spaces and parentheses itself: the fields
// start after the last ")".
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
