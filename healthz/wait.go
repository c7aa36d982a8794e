package healthz

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// How --wait-for tries its targets. A dependency that is still starting
// is usually seconds away, so twice a second finds it soon enough without
// hammering it; an attempt that takes longer than a second (a dropped SYN,
// a hung HTTP handler) is as good as a failure, and bounding it keeps the
// next attempt on time.
const (
	WaitEvery   = 500 * time.Millisecond
	WaitAttempt = time.Second
)

// notTriedYet is a target's error before its first attempt has ended.
const notTriedYet = "not tried yet"

// maxSockPath is the longest path a unix socket address holds: sun_path
// is 108 bytes, the last one the NUL (Go's net refuses longer with
// EINVAL, which would only show once the wait had begun).
const maxSockPath = 107

// waitForms names every form a --wait-for value can take.
const waitForms = "want tcp://HOST:PORT, http://HOST[:PORT]/PATH, unix:PATH or file:PATH"

type waitKind uint8

const (
	waitTCP  waitKind = iota // holds when a TCP connect succeeds
	waitHTTP                 // holds when GET answers 2xx
	waitUnix                 // holds when a stream connect succeeds
	waitFile                 // holds when stat(2) succeeds
)

// WaitTarget is one --wait-for target, parsed.
type WaitTarget struct {
	given string // as the user wrote it: what String, Failing and the metrics show
	kind  waitKind
	// addr is what an attempt uses: HOST:PORT for tcp, the URL for http,
	// the path (resolved against the start directory) for unix and file.
	addr string
}

// String returns the target as given.
func (t WaitTarget) String() string { return t.given }

// ParseWaitTarget parses one --wait-for value. dir is the directory tinit
// started in, against which relative file: and unix: paths resolve; an
// empty dir leaves them relative. An error is one line that quotes s and
// does not name the flag, which the caller adds (--wait-for or
// TINIT_WAIT_FOR).
//
// The forms: tcp://HOST:PORT (an empty HOST dials the local system, as
// --check-tcp), http://HOST[:PORT]/PATH, unix:PATH (unix:@NAME is an
// abstract socket) and file:PATH. unix:///PATH and file:///PATH, the URL
// spelling, are the absolute PATH. Schemes are case-insensitive.
func ParseWaitTarget(s, dir string) (WaitTarget, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return WaitTarget{}, fmt.Errorf("%q: %s", s, waitForms)
	}
	t := WaitTarget{given: s}
	switch strings.ToLower(scheme) {
	case "tcp":
		hostPort, ok := strings.CutPrefix(rest, "//")
		if !ok {
			return WaitTarget{}, fmt.Errorf("%q: want tcp://HOST:PORT", s)
		}
		_, port, err := net.SplitHostPort(hostPort)
		if err != nil {
			return WaitTarget{}, fmt.Errorf("%q: no port: want tcp://HOST:PORT", s)
		}
		if !validPort(port) {
			return WaitTarget{}, fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
		}
		t.kind, t.addr = waitTCP, hostPort
	case "http":
		u, err := url.Parse(s)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the value, which the message quotes already
		}
		switch {
		case err != nil:
			return WaitTarget{}, fmt.Errorf("%q: %v: want http://HOST[:PORT]/PATH", s, err)
		case u.Host == "":
			return WaitTarget{}, fmt.Errorf("%q: no host: want http://HOST[:PORT]/PATH", s)
		case u.Port() != "" && !validPort(u.Port()):
			return WaitTarget{}, fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, u.Port())
		}
		t.kind, t.addr = waitHTTP, s
	case "https":
		// crypto/tls would add most of a binary again (docs/performance.md).
		return WaitTarget{}, fmt.Errorf("%q: https is not supported (tinit carries no TLS): use tcp://HOST:PORT for a TLS-only dependency", s)
	case "unix":
		p, err := waitPath(s, "unix", rest, dir)
		if err != nil {
			return WaitTarget{}, err
		}
		if len(p) > maxSockPath {
			return WaitTarget{}, fmt.Errorf("%q: socket path %q is %d bytes, over the %d a unix socket address holds", s, p, len(p), maxSockPath)
		}
		t.kind, t.addr = waitUnix, p
	case "file":
		p, err := waitPath(s, "file", rest, dir)
		if err != nil {
			return WaitTarget{}, err
		}
		t.kind, t.addr = waitFile, p
	default:
		return WaitTarget{}, fmt.Errorf("%q: %s", s, waitForms)
	}
	return t, nil
}

// waitPath is the path of a unix: or file: target s, whose part after the
// scheme is rest, resolved against dir. A unix socket's @NAME is abstract
// and stays as it is.
func waitPath(s, scheme, rest, dir string) (string, error) {
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		// The URL spelling: file:///run/ready. A host (file://run/ready)
		// would be read by some as the relative run/ready and by others
		// as /ready on a host named run: refuse to guess.
		if !strings.HasPrefix(after, "/") {
			return "", fmt.Errorf("%q: want %s:PATH or %s:///ABSOLUTE/PATH (no host)", s, scheme, scheme)
		}
		rest = after
	}
	switch {
	case rest == "":
		return "", fmt.Errorf("%q: empty path: want %s:PATH", s, scheme)
	case strings.IndexByte(rest, 0) >= 0:
		return "", fmt.Errorf("%q: the path has a NUL byte", s)
	case scheme == "unix" && rest[0] == '@', filepath.IsAbs(rest), dir == "":
		return rest, nil
	}
	return filepath.Join(dir, rest), nil
}

// WaitStatus is one target's state in the current (or last) round.
type WaitStatus struct {
	Target string // as given
	Held   bool   // it held in this round, and is not tried again
	// Err says why the last attempt failed: a reason as a check's
	// ("connection refused", "status 503", "timed out after 1s"),
	// "not tried yet" before the first attempt has ended, "" once held.
	Err string
}

// WaitResult is a snapshot of a Wait for the handlers.
type WaitResult struct {
	// Targets has one entry per target, in the order given (a target
	// given twice, once). Result returns a copy of its own.
	Targets []WaitStatus
	Start   time.Time // when the current or last round started; zero before the first
	End     time.Time // when it ended, every target held or Stop; zero while it runs
}

// Wait tries the --wait-for targets until each has held once. Start and
// Stop belong to the supervisor loop; Failing and Result may be called
// from anywhere.
//
// A round runs one goroutine per target, which tries the target at once,
// then WaitEvery after each attempt began (at once when the attempt took
// longer), each attempt bounded by WaitAttempt, until the target holds or
// Stop. Sockets and timers are on the network poller and hold no thread.
// A file: attempt stats in a goroutine of its own, through the stat gate
// (see Checks.stat and ShareStat), so that the attempt can give up after
// WaitAttempt: that goroutine ends with the attempt, unless it is the one
// stat(2) in progress, hung on a dead mount, which ends when the stat
// does.
type Wait struct {
	targets []WaitTarget
	clock   Clock
	every   time.Duration // WaitEvery; shorter in tests
	attempt time.Duration // WaitAttempt; shorter in tests

	ctl sync.Mutex // serialises Start and Stop

	mu    sync.Mutex
	stat  chan struct{} // the stat gate, w's own or shared (ShareStat)
	round *waitRound    // the current or last round; nil before the first
	res   WaitResult
}

// waitRound is one round's goroutines and what is left of it.
type waitRound struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed when left reaches 0
	left   int           // targets not held yet
}

// NewWait returns a Wait for targets; a target given twice (the same
// string) is tried once. A nil clock is the system clock; it dates the
// rounds, while the pace of attempts is real time.
func NewWait(targets []WaitTarget, clock Clock) *Wait {
	w := &Wait{clock: orSystem(clock), every: WaitEvery, attempt: WaitAttempt, stat: make(chan struct{}, 1)}
	for _, t := range targets {
		if !slices.ContainsFunc(w.targets, func(o WaitTarget) bool { return o.given == t.given }) {
			w.targets = append(w.targets, t)
		}
	}
	w.res.Targets = w.fresh()
	return w
}

// fresh is every target untried.
func (w *Wait) fresh() []WaitStatus {
	st := make([]WaitStatus, len(w.targets))
	for i, t := range w.targets {
		st[i] = WaitStatus{Target: t.given, Err: notTriedYet}
	}
	return st
}

// ShareStat makes w's file: targets stat through c's gate, so that the
// app checks and the wait together have at most one stat(2) at a time,
// and one hung mount holds one thread, not two (cmd/tinit's thread
// budget counts one). It takes effect from w's next Start. A nil c or w
// changes nothing.
func (c *Checks) ShareStat(w *Wait) {
	if c == nil || w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stat = c.stat
}

// Start begins a round: every target untried, each tried at once and then
// every WaitEvery, each attempt bounded by WaitAttempt; a target that
// held is not tried again. The channel returned is closed once every
// target has held; a round ended by Stop never closes it. Starting again
// (a restart with --wait-on-restart) stops the current round and begins a
// new one from scratch. With no targets, the channel is closed already.
func (w *Wait) Start() <-chan struct{} {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	w.stop()

	r := &waitRound{done: make(chan struct{}), left: len(w.targets)}
	if r.left == 0 {
		close(r.done)
		return r.done
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel

	w.mu.Lock()
	defer w.mu.Unlock()
	w.round = r
	w.res = WaitResult{Targets: w.fresh(), Start: w.clock.Now()}
	for i, t := range w.targets {
		r.wg.Add(1)
		go w.try(ctx, r, i, t, w.stat)
	}
	return r.done
}

// Stop ends the current round (a timeout, a stop signal) and returns once
// its goroutines have, but for a stat(2) hung on a dead mount, which
// cannot be interrupted. Result and Failing stay readable and keep the
// round's last word. Stopping a round that ended, or none, does nothing.
func (w *Wait) Stop() {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	w.stop()
}

// stop is Stop with w.ctl held.
func (w *Wait) stop() {
	w.mu.Lock()
	r := w.round
	w.mu.Unlock()
	if r == nil {
		return
	}
	r.cancel()
	r.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.res.End.IsZero() {
		w.res.End = w.clock.Now()
	}
}

// try tries target i of round r until it holds or ctx ends.
func (w *Wait) try(ctx context.Context, r *waitRound, i int, t WaitTarget, stat chan struct{}) {
	defer r.wg.Done()
	next := time.NewTimer(w.every) // reset before each use
	defer next.Stop()
	for {
		began := time.Now()
		err := w.attemptOnce(ctx, t, stat)
		if ctx.Err() != nil {
			// Cut short by Stop: the failure is tinit's, not the
			// target's, and the last finished attempt's error stands.
			w.cutShort(i, time.Since(began))
			return
		}
		if w.record(r, i, err) {
			return
		}
		next.Reset(max(w.every-time.Since(began), 0))
		select {
		case <-ctx.Done():
			return
		case <-next.C:
		}
	}
}

// attemptOnce tries t once, within w.attempt.
func (w *Wait) attemptOnce(ctx context.Context, t WaitTarget, stat chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, w.attempt)
	defer cancel()
	switch t.kind {
	case waitTCP:
		return dial(ctx, "tcp", t.addr)
	case waitUnix:
		// A socket file nobody accepts on refuses the connect: the server
		// is not up, however long its file has been there.
		return dial(ctx, "unix", t.addr)
	case waitHTTP:
		code, _, err := get(ctx, t.addr)
		if err != nil {
			return err
		}
		// 2xx only, unlike --check-http's 2xx or 3xx: a dependency that
		// redirects its readiness URL (to a login page, to https) is
		// answering something, not saying it is ready.
		if code < 200 || code > 299 {
			return fmt.Errorf("status %d", code)
		}
		return nil
	case waitFile:
		done := make(chan error, 1) // buffered: a stat that outlives the attempt can still send and end
		go func() { done <- statGated(ctx, stat, t.addr) }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("unknown kind of target %q", t.given)
}

// record publishes an attempt's outcome for target i of round r and says
// whether the target held. The last target to hold ends the round.
func (w *Wait) record(r *waitRound, i int, err error) (held bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := &w.res.Targets[i]
	if err != nil {
		st.Err = reason(err, w.attempt)
		return false
	}
	st.Held, st.Err = true, ""
	if r.left--; r.left == 0 {
		w.res.End = w.clock.Now()
		close(r.done)
	}
	return true
}

// cutShort notes an attempt Stop interrupted after d: a target whose first
// attempt had not ended says it has not answered in d rather than that it
// was never tried (a dropped SYN with --wait-timeout under a second).
func (w *Wait) cutShort(i int, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st := &w.res.Targets[i]; st.Err == notTriedYet {
		st.Err = fmt.Sprintf("no answer after %v", d.Round(time.Millisecond))
	}
}

// Failing lists, for each target that has not held in the current (or
// last) round, one line "TARGET: last error", in the order given:
// "tcp://127.0.0.1:5432: connection refused".
func (w *Wait) Failing() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lines []string
	for _, st := range w.res.Targets {
		if !st.Held {
			lines = append(lines, st.Target+": "+st.Err)
		}
	}
	return lines
}

// Result returns a snapshot of the current (or last) round.
func (w *Wait) Result() WaitResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.res
	r.Targets = slices.Clone(r.Targets)
	return r
}

// awaited is the targets that have not held, as given, or nil when there
// is no target or every one held.
func (r WaitResult) awaited() []string {
	var names []string
	for _, st := range r.Targets {
		if !st.Held {
			names = append(names, st.Target)
		}
	}
	return names
}
