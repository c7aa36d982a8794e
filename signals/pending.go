package signals

import (
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Pending holds the received signals not yet handled, in the order they
// arrived, each at most once, as the kernel keeps standard signals. A
// goroutine moves each signal from os/signal's channel into the set at
// once, so that channel never fills however long the event loop is busy
// (a stalled log pipe, an orphan storm): a burst of one signal coalesces
// into one entry and can never push a SIGTERM out. The price is the
// kernel's own rule: the same signal twice before the loop looks counts
// once. The order is kept, because a child may give two signals different
// meanings (nginx: TERM is fast shutdown, QUIT graceful) and must see them
// as they were sent. Signals pending in the kernel at the same instant
// reach os/signal in number order, as the kernel dequeues them; the order
// is the one os/signal delivers.
type Pending struct {
	mu    sync.Mutex
	bits  uint64        // guarded by mu: which signals are in order
	order []unix.Signal // guarded by mu; at most RTMax entries
	wake  chan struct{}
	// tick receives SIGALRM instead of the set while the heartbeat runs.
	tick      chan<- os.Signal
	heartbeat atomic.Bool
}

// NewPending returns an empty set.
func NewPending() *Pending {
	return &Pending{wake: make(chan struct{}, 1), order: make([]unix.Signal, 0, RTMax)}
}

// Wake has a value whenever signals are pending.
func (p *Pending) Wake() <-chan struct{} { return p.wake }

// Add appends sig unless it is already pending, and wakes the loop.
func (p *Pending) Add(sig unix.Signal) {
	if sig < 1 || sig > RTMax {
		return
	}
	bit := uint64(1) << (uint(sig) - 1)
	p.mu.Lock()
	fresh := p.bits&bit == 0
	if fresh {
		p.bits |= bit
		p.order = append(p.order, sig)
	}
	p.mu.Unlock()
	if !fresh {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Take appends the pending signals to buf in the order they arrived and
// clears them.
func (p *Pending) Take(buf []unix.Signal) []unix.Signal {
	p.mu.Lock()
	buf = append(buf, p.order...)
	p.order = p.order[:0]
	p.bits = 0
	p.mu.Unlock()
	return buf
}

// pump moves signals from os/signal's channel into p, or SIGALRM to the
// tick channel while the heartbeat runs. It never blocks on anything but
// its input.
func (p *Pending) pump(in <-chan os.Signal) {
	for s := range in {
		sig, ok := s.(unix.Signal)
		if !ok {
			continue
		}
		if sig == unix.SIGALRM && p.heartbeat.Load() {
			select {
			case p.tick <- s:
			default: // ticks coalesce: one waiting is enough
			}
			continue
		}
		p.Add(sig)
	}
}
