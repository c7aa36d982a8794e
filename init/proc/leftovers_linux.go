package proc

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// SignalLeftovers sends sig to every process still alive below self
// (tinit's pid), except the members of the process groups in skip, and
// returns how many it reached (-1 when it cannot tell, as PID 1).
//
// skip are groups that already had their stop signal: a second SIGTERM
// is "quit now" to many programs.
//
// As PID 1 with nothing to skip, kill(-1) reaches every process in the PID
// namespace except tinit itself, which is exactly "below tinit", and
// misses nothing that forks meanwhile. Otherwise tinit walks /proc for its
// descendants by parent chain; as a subreaper they all end up as its
// children anyway, but they must be signalled while their parents still
// live. As PID 1 the walk needs a /proc of tinit's own namespace: with
// another one mounted its pids would name other processes, so kill(-1) it
// is, skip or not.
func SignalLeftovers(sig unix.Signal, self int, skip []int) (int, error) {
	if self == 1 && (len(skip) == 0 || !ownProc()) {
		err := unix.Kill(-1, sig)
		if errors.Is(err, unix.ESRCH) {
			return 0, nil
		}
		return -1, err
	}
	procs, err := descendants(self)
	n := 0
	for _, p := range procs {
		if slices.Contains(skip, p.pgrp) {
			continue
		}
		if unix.Kill(p.pid, sig) == nil {
			n++
		}
	}
	return n, err
}

// ownProc reports whether /proc belongs to tinit's PID namespace: there,
// /proc/self names tinit's own pid.
func ownProc() bool {
	self, err := os.Readlink("/proc/self")
	return err == nil && self == strconv.Itoa(os.Getpid())
}

// Descendants lists the pids whose parent chain leads to root, by reading
// /proc. A process may exit or fork while the walk runs.
func Descendants(root int) ([]int, error) {
	procs, err := descendants(root)
	pids := make([]int, len(procs))
	for i, p := range procs {
		pids[i] = p.pid
	}
	return pids, err
}

// process is one entry of /proc.
type process struct {
	pid, ppid, pgrp, sid int
	state                byte // 'R', 'S', 'Z'...
}

// all reads every process in /proc. An empty /proc (not mounted, as in
// some sandboxes) is an error, not "no process".
func all() ([]process, error) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readStat(pid); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func descendants(root int) ([]process, error) {
	procs, err := all()
	if err != nil {
		return nil, err
	}
	children := map[int][]process{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p)
	}
	var out []process
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out, nil
}

// readStat reads a process's parent, group and session from
// /proc/PID/stat. The
// command name in parentheses may hold spaces and parentheses itself: the
// fields start after the last ")".
func readStat(pid int) (process, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return process{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return process{}, false
	}
	// state ppid pgrp session ...
	f := strings.Fields(s[i+1:])
	if len(f) < 4 {
		return process{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	sid, err3 := strconv.Atoi(f[3])
	return process{pid: pid, ppid: ppid, pgrp: pgrp, sid: sid, state: f[0][0]}, err1 == nil && err2 == nil && err3 == nil
}

// maxDepth bounds InTree's walk up the parents: a process tree deeper
// than this is not one tinit supervises, and a loop in a racing /proc
// read must not spin.
const maxDepth = 4096

// InTree reports whether pid is root or one of its descendants, by walking
// up the parents in /proc. A process that has exited (or whose /proc
// cannot be read) is in no tree; neither is a zombie, which has exited
// and only waits for its parent to reap it: when a sender is in the tree
// must not depend on how soon its parent reaps.
func InTree(pid, root int) bool {
	for i := 0; i < maxDepth && pid > 1; i++ {
		if pid == root {
			return true
		}
		p, ok := readStat(pid)
		if !ok || (i == 0 && p.state == 'Z') {
			return false
		}
		pid = p.ppid
	}
	return pid == root
}
