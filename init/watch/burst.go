package watch

import "fmt"

// Change is one debounced burst of changes.
type Change struct {
	// What lists what changed, deduplicated, in order of first sight, at
	// most maxWhat entries (then "...and N more"): e.g. "/etc/app: ..data
	// swapped", "/etc/app.conf: written", "/etc/conf.d/x.conf: created",
	// "/etc/conf.d: replaced". For the log line.
	What []string
}

const (
	// The log line names a handful of things; past that a count says how
	// much else changed (a tar x into a watched dir is thousands of names).
	maxWhat = 8
	// Deduplication remembers at most this many distinct lines a burst, so
	// that a burst touching a million names costs bounded memory; past it
	// the count of the rest is a floor ("...and over N more").
	maxSeen = 4096
)

// burst collects the lines of the changes seen since the last Change was
// sent. It belongs to Run's goroutine.
type burst struct {
	what []string
	seen map[string]struct{}
	more int  // distinct lines beyond the first maxWhat
	over bool // seen was full: more is a floor
}

// add records one line. line is the caller's scratch buffer: it is copied
// only when new, and a repeat costs no allocation (a map lookup keyed by
// string(line) does not convert), so 10,000 writes of one file in a burst
// allocate once.
func (b *burst) add(line []byte) {
	if _, ok := b.seen[string(line)]; ok {
		return
	}
	if len(b.seen) >= maxSeen {
		b.over = true
		return
	}
	if b.seen == nil {
		b.seen = make(map[string]struct{})
	}
	s := string(line)
	b.seen[s] = struct{}{}
	if len(b.what) < maxWhat {
		b.what = append(b.what, s)
		return
	}
	b.more++
}

// take returns the burst as a Change and starts an empty one. The Change
// owns its slice: the next burst appends to a new one.
func (b *burst) take() Change {
	what := b.what
	switch {
	case b.over:
		what = append(what, fmt.Sprintf("...and over %d more", b.more))
	case b.more > 0:
		what = append(what, fmt.Sprintf("...and %d more", b.more))
	}
	b.what, b.more, b.over = nil, 0, false
	clear(b.seen)
	return Change{What: what}
}
