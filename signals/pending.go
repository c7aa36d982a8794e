package signals

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Pending is the set of received signals not yet handled, one bit per
// signal, as the kernel keeps them. A goroutine moves each signal from
// os/signal's channel into the set at once, so that channel never fills
// however long the event loop is busy (a stalled log pipe, an orphan
// storm): a burst of one signal coalesces into one bit and can never push
// a SIGTERM out. The price is the kernel's own rule for standard signals:
// the same signal twice before the loop looks counts once.
type Pending struct {
	bits atomic.Uint64
	wake chan struct{}
}

// NewPending returns an empty set.
func NewPending() *Pending {
	return &Pending{wake: make(chan struct{}, 1)}
}

// Wake has a value whenever signals are pending.
func (p *Pending) Wake() <-chan struct{} { return p.wake }

// Add marks sig pending and wakes the loop.
func (p *Pending) Add(sig unix.Signal) {
	if sig < 1 || sig > RTMax {
		return
	}
	p.bits.Or(1 << (uint(sig) - 1))
	select {
	case p.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Take appends the pending signals to buf, lowest number first, and
// clears them.
func (p *Pending) Take(buf []unix.Signal) []unix.Signal {
	bits := p.bits.Swap(0)
	for n := 1; bits != 0; n++ {
		if bits&1 != 0 {
			buf = append(buf, unix.Signal(n))
		}
		bits >>= 1
	}
	return buf
}

// pump moves signals from os/signal's channel into p. It never blocks on
// anything but its input.
func (p *Pending) pump(in <-chan os.Signal) {
	for s := range in {
		if sig, ok := s.(unix.Signal); ok {
			p.Add(sig)
		}
	}
}
