package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// The Go runtime creates OS threads on demand (an M for every goroutine
// blocked in a system call, for each P running Go code, for the GC's
// workers) and aborts the whole process when it cannot: "runtime: failed
// to create new OS thread", exit 2. For PID 1 that is the container's end,
// and it is easy to reach: a child that forks up to its pids limit (a
// cgroup's pids.max, RLIMIT_NPROC for a non-root uid) leaves no room for
// the thread tinit needs a moment later to answer a probe or log a line.
// tini and catatonit are single-threaded C and cannot hit this.
//
// So tinit's concurrency is bounded and its threads are made before the
// child exists: the runtime never destroys an idle thread (only one that
// exits locked to a goroutine), and it takes an idle one before it asks the
// kernel for another. How many can tinit ever need at once:
//
//	maxProcs       Ps running Go code (GOMAXPROCS, fixed small: an init
//	               has no use for 64 Ps on a 64-core host, and every P can
//	               bring a GC worker's thread)
//	1              sysmon, made at start
//	1              the template thread behind LockOSThread, made at start
//	               by the lock below
//	1              a thread waiting in the network poller (netpoll) with
//	               every P idle
//	1              os/signal's loop, which waits in the runtime
//	               (signal_recv) in a blocking call for good
//	blockedCalls   goroutines that can be in a blocking system call at
//	               once: the log writer's write(2) to a stderr nobody
//	               reads, the loop's fork/exec (it reads the exec status
//	               pipe), the stat(2) of the app checks and --wait-for file:
//	               targets (one gate), an exit-time write. The
//	               --reload-on's watcher also makes short calls (lstat,
//	               inotify_add_watch on a replaced directory) that a hung
//	               mount could hold: a spare covers it.
//	               health endpoint's sockets and timers go through the
//	               network poller and hold no thread while they wait.
//
// reserveThreads makes the threads that are missing from that count, by
// locking as many goroutines to threads at once and then letting them go:
// the threads stay, idle and parked, and cost no wake-up.
const (
	maxProcs     = 2
	blockedCalls = 4
	// spareThreads covers what the count above may miss (a runtime
	// detail that changes between Go versions): idle threads cost a
	// parked futex and about 20 kB each.
	spareThreads = 2
)

// threadBudget is the number of threads tinit keeps, for GOMAXPROCS procs.
func threadBudget(procs int) int {
	return procs + 1 + 1 + 1 + 1 + blockedCalls + spareThreads
}

// reservation is the threads being made in the background while tinit
// reads its configuration: each takes a round trip through the scheduler,
// about 0.17 ms here, so they are made beside the start-up's own work.
type reservation struct {
	done   chan struct{}
	budget int
}

// reserveThreads fixes GOMAXPROCS (unless the user set it) and starts
// making the threads the process lacks for threadBudget. Call wait before
// the child exists.
func reserveThreads() *reservation {
	procs := maxProcs
	if v, err := strconv.Atoi(strings.TrimSpace(os.Getenv("GOMAXPROCS"))); err == nil && v > 0 {
		procs = v
	}
	runtime.GOMAXPROCS(procs)
	r := &reservation{done: make(chan struct{}), budget: threadBudget(procs)}
	go func() {
		defer close(r.done)
		// Idle threads are taken first, so locking n goroutines makes only
		// the threads beyond those idle: lock more each round, until the
		// count is reached (at most the whole budget at once).
		n := 0
		for round := 0; round < 4; round++ {
			have := threadCount()
			if have >= r.budget {
				return
			}
			n = min(n+r.budget-have, r.budget)
			holdThreads(n)
		}
	}()
	return r
}

// holdThreads locks n goroutines to threads at once, then lets them go.
// Each holds a thread of its own until all have one.
func holdThreads(n int) {
	locked := make(chan struct{})
	release := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			runtime.LockOSThread()
			locked <- struct{}{}
			<-release
			// Unlocked before the goroutine ends: a goroutine that ends
			// locked takes its thread with it.
			runtime.UnlockOSThread()
		}()
	}
	for i := 0; i < n; i++ {
		<-locked
	}
	close(release)
}

// wait returns once the threads are made, with the process's thread
// count.
func (r *reservation) wait() int {
	<-r.done
	return threadCount()
}

// threadCount is the number of threads the process has made, which is the
// number it has: the runtime ends a thread only when a goroutine exits
// locked to it, and reserveThreads unlocks first. Counted by the runtime
// itself, so it opens no file: it runs beside checkFDs, which must see
// every descriptor free.
func threadCount() int {
	n, _ := runtime.ThreadCreateProfile(nil)
	return n
}
