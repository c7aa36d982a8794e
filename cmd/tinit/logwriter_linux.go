package main

import (
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// logDepth is how many log lines may wait for a slow stderr. Beyond that,
// lines are dropped and counted: PID 1 must never stop reaping or
// forwarding because nobody reads its log (Docker's blocking log driver
// with a stalled reader, a full pipe).
const logDepth = 1024

// flushWait bounds how long tinit waits for its last log lines at exit.
const flushWait = time.Second

// asyncWriter hands each log line to a goroutine that writes it, so that a
// blocked stderr never blocks the event loop.
//
// The writing goroutine owns an OS thread with SIGTTOU and SIGTTIN blocked.
// After the child's group takes the terminal, tinit is a background process
// writing to it, and under "stty tostop" the kernel answers with SIGTTOU:
// ignored or blocked, the write goes through; caught, as everywhere else in
// tinit (an ignore would pass on to the child), the write is restarted
// forever. Blocking them on this one thread lets the log through and leaves
// the child's dispositions alone.
type asyncWriter struct {
	out     io.Writer
	start   sync.Once
	mu      sync.Mutex // guards closed and sends on lines
	closed  bool
	lines   chan []byte
	done    chan struct{}
	dropped atomic.Uint64
	json    bool // the notice of dropped lines is a JSON line
}

func newAsyncWriter(out io.Writer, asJSON bool) *asyncWriter {
	return &asyncWriter{out: out, lines: make(chan []byte, logDepth), done: make(chan struct{}), json: asJSON}
}

// Write queues a copy of p; it never blocks and never fails.
func (a *asyncWriter) Write(p []byte) (int, error) {
	a.start.Do(func() { go a.run() })
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return len(p), nil
	}
	select {
	case a.lines <- append([]byte(nil), p...):
	default:
		a.dropped.Add(1)
	}
	return len(p), nil
}

func (a *asyncWriter) run() {
	defer close(a.done)
	runtime.LockOSThread() // never unlocked: the thread keeps its mask and dies with the goroutine
	var set unix.Sigset_t
	for _, sig := range []unix.Signal{unix.SIGTTOU, unix.SIGTTIN} {
		set.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	}
	unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil)
	for line := range a.lines {
		if n := a.dropped.Swap(0); n > 0 {
			a.out.Write(droppedLine(a.json, n))
		}
		a.out.Write(line)
	}
}

// Close writes what is queued, waiting at most flushWait: a stderr that
// nobody reads must not keep tinit from exiting.
func (a *asyncWriter) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	close(a.lines)
	a.mu.Unlock()
	started := true
	a.start.Do(func() { started = false })
	if !started {
		return
	}
	select {
	case <-a.done:
	case <-time.After(flushWait):
	}
}
