package healthz

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Defaults for CheckConfig. A check's timeout defaults to at most one
// second because a round must finish before the next one is due, and an
// application that takes longer than that to accept a connection on
// loopback is not healthy anyway.
const (
	defaultInterval   = 2 * time.Second
	maxDefaultTimeout = time.Second
)

// firstPassRetry is how soon a round follows a failing one until the
// checks have passed once. An app is usually started a moment after tinit
// and is not listening at the first round; waiting a whole Interval for the
// second kept /readyz at 503 for up to 2 s after the port opened (a
// kubelet then sees Ready a probe period later still). 50 ms keeps
// readiness within about 100 ms of the app, and a refused loopback connect
// costs microseconds. Once the checks have passed, rounds come every
// Interval: a failure then is news about a running app, not a start.
const firstPassRetry = 50 * time.Millisecond

// CheckConfig says which application checks to run and how often.
type CheckConfig struct {
	TCP       []string      // HOST:PORT, pass = connect succeeds
	HTTP      []string      // http:// URL, pass = GET answers 2xx or 3xx (redirects are not followed)
	File      []string      // path, pass = exists
	Interval  time.Duration // default 2s when 0
	Timeout   time.Duration // per check; default min(Interval, 1s) when 0
	FailAfter time.Duration // liveness fails when checks failed without a break this long; 0 = checks never affect liveness
	// StartPeriod is the application's time to start, counted from
	// NewChecks: failing rounds in it do not count toward FailAfter
	// (readiness still follows them), as Docker's HEALTHCHECK
	// --start-period.
	StartPeriod time.Duration
}

// Count is the number of checks configured.
func (c CheckConfig) Count() int { return len(c.TCP) + len(c.HTTP) + len(c.File) }

// CheckResult is the outcome of the last finished round.
type CheckResult struct {
	Configured   bool      // any check configured
	OK           bool      // all passed in the last round; false until the first round passes
	Detail       string    // one line naming the first failing check and why
	FailingSince time.Time // zero while OK
	// Checks has one entry per configured check, TCP, then HTTP, then
	// file, each in the order given. A round publishes a new slice and
	// never changes one it published, so copies of a CheckResult may
	// share it.
	Checks []CheckStatus
}

// CheckStatus is one check's outcome in the last finished round.
type CheckStatus struct {
	// Target names the check as a URL: "tcp://HOST:PORT", the http://
	// URL as given, "file:///path".
	Target string
	OK     bool // passed in the last round; false until it first passes
}

// notRunYet is the Detail before the first round has finished: readiness
// must not claim the application is up before anyone has looked.
const notRunYet = "checks have not run yet"

// Checks runs the configured checks in its own goroutine (Run) and
// publishes the result for the handlers (Result).
type Checks struct {
	cfg   CheckConfig
	clock Clock
	// counted is when failing rounds start to count toward FailAfter:
	// the end of the start period.
	counted time.Time
	// stat is held by the one file check in a stat(2) at a time. A stat
	// cannot be cancelled, and each one blocked on a hung mount holds an
	// OS thread: one at a time keeps tinit within its thread budget
	// (cmd/tinit reserves the threads it can ever need). --wait-for's
	// file: targets take it too, given ShareStat.
	stat chan struct{}

	mu  sync.Mutex
	res CheckResult
}

// NewChecks fills in the defaults of cfg. A nil clock is the system clock.
// cfg should have passed ValidateChecks; an invalid check simply fails.
func NewChecks(cfg CheckConfig, clock Clock) *Checks {
	if cfg.Interval <= 0 {
		cfg.Interval = defaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = min(cfg.Interval, maxDefaultTimeout)
	}
	c := &Checks{cfg: cfg, clock: orSystem(clock), stat: make(chan struct{}, 1)}
	c.counted = c.clock.Now().Add(cfg.StartPeriod)
	c.res.Configured = cfg.Count() > 0
	if c.res.Configured {
		c.res.Detail = notRunYet
		for _, ch := range c.list() {
			c.res.Checks = append(c.res.Checks, CheckStatus{Target: ch.target})
		}
	}
	return c
}

// Result returns the outcome of the last finished round.
func (c *Checks) Result() CheckResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.res
}

// Run runs a round at once, then one firstPassRetry after each failing
// round until a round passes, then one every Interval, until ctx is done.
// It returns at once when no check is configured.
func (c *Checks) Run(ctx context.Context) {
	if !c.res.Configured || !c.firstPass(ctx) {
		return
	}
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.round(ctx)
	}
}

// firstPass runs rounds firstPassRetry apart (Interval apart when that is
// shorter) until one passes. It returns false when ctx ended first.
func (c *Checks) firstPass(ctx context.Context) bool {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		c.round(ctx)
		if c.Result().OK {
			return true
		}
		retry.Reset(min(c.cfg.Interval, firstPassRetry))
		select {
		case <-ctx.Done():
			return false
		case <-retry.C:
		}
	}
}

// check is one configured check, ready to run.
type check struct {
	name   string // "tcp 127.0.0.1:8080", as it appears in Detail
	target string // "tcp://127.0.0.1:8080", as CheckStatus.Target
	run    func(ctx context.Context) error
}

// list returns the checks in the order of CheckResult.Checks.
func (c *Checks) list() []check {
	var cs []check
	for _, a := range c.cfg.TCP {
		cs = append(cs, check{"tcp " + a, "tcp://" + a, func(ctx context.Context) error { return c.dialTCP(ctx, a) }})
	}
	for _, u := range c.cfg.HTTP {
		cs = append(cs, check{"http " + u, u, func(ctx context.Context) error { return c.get(ctx, u) }})
	}
	for _, p := range c.cfg.File {
		// File paths are absolute (ValidateChecks), so this is file:///path.
		cs = append(cs, check{"file " + p, "file://" + p, func(ctx context.Context) error { return c.statFile(ctx, p) }})
	}
	return cs
}

// round runs every check concurrently, each bounded by Timeout, and
// publishes the result. A round cut short because ctx ended publishes
// nothing: its failures say that tinit is stopping, not that the app is
// sick.
func (c *Checks) round(ctx context.Context) {
	cs := c.list()
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	type outcome struct {
		i   int
		err error
	}
	// Buffered for every check: one that overruns the deadline (a stat on
	// a hung network mount) can still send and exit, not leak blocked.
	done := make(chan outcome, len(cs))
	for i, ch := range cs {
		go func() { done <- outcome{i, ch.run(rctx)} }()
	}
	errs := make([]error, len(cs))
	reported := make([]bool, len(cs))
	timedOut := fmt.Errorf("timed out after %v", c.cfg.Timeout)
collect:
	for range cs {
		select {
		case o := <-done:
			errs[o.i], reported[o.i] = o.err, true
		case <-rctx.Done():
			break collect
		}
	}
	if ctx.Err() != nil {
		return
	}
	reasons := make([]string, len(cs))
	for i := range cs {
		err := errs[i]
		if !reported[i] {
			err = timedOut
		}
		if err != nil {
			reasons[i] = reason(err, c.cfg.Timeout)
		}
	}
	c.publish(reasons)
}

// publish records a finished round: reasons[i] says why check i of list
// failed, "" when it passed.
func (c *Checks) publish(reasons []string) {
	cs := c.list()
	statuses := make([]CheckStatus, len(cs))
	detail := ""
	for i, ch := range cs {
		statuses[i] = CheckStatus{Target: ch.target, OK: reasons[i] == ""}
		if reasons[i] != "" && detail == "" {
			detail = ch.name + ": " + reasons[i]
		}
	}
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Checks = statuses
	if detail == "" {
		c.res.OK, c.res.Detail, c.res.FailingSince = true, "", time.Time{}
		return
	}
	// FailingSince marks the start of an unbroken run of failing rounds,
	// so it is only set by the first of them, and never before the start
	// period ends: an app still starting has not failed yet.
	if c.res.OK || c.res.FailingSince.IsZero() {
		c.res.FailingSince = now
		if now.Before(c.counted) {
			c.res.FailingSince = c.counted
		}
	}
	c.res.OK, c.res.Detail = false, detail
}

func (c *Checks) dialTCP(ctx context.Context, addr string) error {
	return dial(ctx, "tcp", addr)
}

// dial passes when a connection to addr on network ("tcp", "unix") is
// made, and closes it at once. It waits on the network poller, not in a
// thread, and gives up when ctx ends.
func dial(ctx context.Context, network, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// get passes when GET u answers 2xx or 3xx. Each round opens a fresh
// connection (the check is whether the app accepts one) and a 3xx is not
// followed: it is an answer, so the app is up, and following it could
// lead off the host or to a login page that is down for reasons of its
// own.
func (c *Checks) get(ctx context.Context, u string) error {
	code, _, err := get(ctx, u)
	if err != nil {
		return err
	}
	if code < 200 || code > 399 {
		return fmt.Errorf("status %d", code)
	}
	return nil
}

// statFile checks that p exists, one stat(2) at a time (see Checks.stat):
// a check that waits longer than its round times out, and a stat hung on
// a dead mount fails every file check after it the same way, without
// another thread.
func (c *Checks) statFile(ctx context.Context, p string) error {
	return statGated(ctx, c.stat, p)
}

// statGated stats p once it holds gate, a channel with room for one: the
// one-stat-at-a-time rule of Checks.stat, shared with --wait-for's file:
// targets (ShareStat). It gives up waiting for the gate when ctx ends, but
// a stat(2) once begun runs to its end.
func statGated(ctx context.Context, gate chan struct{}, p string) error {
	select {
	case gate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-gate }()
	_, err := os.Stat(p)
	return err
}

// reason shortens a check's error to the part a reader needs: "connection
// refused", not "dial tcp 127.0.0.1:8080: connect: connection refused",
// since Detail already names the check and its target.
func reason(err error, timeout time.Duration) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("timed out after %v", timeout)
	}
	err = innermost(err)
	var (
		se *os.SyscallError
		pe *os.PathError
	)
	switch {
	case errors.As(err, &se):
		err = se.Err
	case errors.As(err, &pe):
		err = pe.Err
	}
	return err.Error()
}

// ValidateChecks returns every problem in cfg, each one line naming where
// the value came from and the value. source maps a flag ("--check-http")
// to that name, a variable such as TINIT_CHECK_HTTP when the value came
// from one; nil names the flag.
func ValidateChecks(cfg CheckConfig, source func(flag string) string) []error {
	if source == nil {
		source = func(flag string) string { return flag }
	}
	var errs []error
	for _, a := range cfg.TCP {
		if !validHostPort(a) {
			errs = append(errs, fmt.Errorf("%s %q: want HOST:PORT", source("--check-tcp"), a))
		}
	}
	for _, s := range cfg.HTTP {
		u, err := url.Parse(s)
		switch {
		case err == nil && u.Scheme == "https":
			// crypto/tls would add most of a binary again (docs/performance.md).
			errs = append(errs, fmt.Errorf("%s %q: https is not supported (tinit has no TLS): use an http:// URL or --check-tcp HOST:PORT", source("--check-http"), s))
		case err != nil || u.Scheme != "http" || u.Host == "":
			errs = append(errs, fmt.Errorf("%s %q: want an http:// URL", source("--check-http"), s))
		case u.Port() != "" && !validPort(u.Port()):
			// As --check-tcp: port 0 or 99999 can never answer.
			errs = append(errs, fmt.Errorf("%s %q: want a port from 1 to 65535 (or none, for 80)", source("--check-http"), s))
		}
	}
	for _, p := range cfg.File {
		// Relative paths would resolve against tinit's working directory,
		// which need not be the application's.
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("%s %q: want an absolute path", source("--check-file"), p))
		}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"--check-interval", cfg.Interval},
		{"--check-fail-after", cfg.FailAfter},
		{"--check-start-period", cfg.StartPeriod},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %q: want a duration of 0 or more", source(d.flag), d.v))
		}
	}
	return errs
}

// validHostPort accepts HOST:PORT with a numeric port; the host may be
// empty, which dials the local system.
func validHostPort(a string) bool {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return false
	}
	return validPort(port)
}

// validPort accepts a decimal TCP port a connection can be made to.
func validPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}
