package signals

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Rewrite maps a received signal to the one sent to the child. A zero
// value drops the signal.
type Rewrite map[unix.Signal]unix.Signal

// ParseRewrite reads one FROM:TO pair, as given to --rewrite: "TERM:QUIT",
// "SIGUSR1:0" (drop). FROM must be a signal tinit forwards.
func ParseRewrite(s string) (from, to unix.Signal, err error) {
	f, t, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want FROM:TO, such as TERM:QUIT (TO may be 0 to drop)", s)
	}
	if from, err = Parse(f); err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	if Classify(from) != Forward {
		return 0, 0, fmt.Errorf("%q: %s is never forwarded, so it cannot be rewritten", s, Name(from))
	}
	if n, err := strconv.Atoi(strings.TrimSpace(t)); err == nil && n == 0 {
		return from, 0, nil
	}
	if to, err = Parse(t); err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	return from, to, nil
}

// Apply returns the signal to send for a received sig: sig itself unless
// a rewrite says otherwise; 0 means drop it.
func (r Rewrite) Apply(sig unix.Signal) unix.Signal {
	if to, ok := r[sig]; ok {
		return to
	}
	return sig
}
