package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/supervise"
	"github.com/tinit/tinit/signals"
)

// settings is the validated configuration. The embedded supervise.Config
// is filled here and handed to the supervisor as it is, less what only
// main knows (the environment, the directory, the log).
type settings struct {
	supervise.Config
	mode       string // "", "help", "version", "license", "install" or "healthcheck"
	asJSON     bool   // --version --json
	subreaper  *bool  // nil: automatic (on unless tinit is PID 1)
	pdeathsig  unix.Signal
	level      logrus.Level
	json       bool
	termLog    string
	health     input // the address and where it came from; src "" when off
	checks     healthz.CheckConfig
	installDir string
	// notifySocket is --notify-socket's path; src "" for the abstract
	// socket.
	notifySocket input
	// waitFor is --wait-for as given, waitTargets its parsed targets.
	waitFor     input
	waitTargets []healthz.WaitTarget
	// reloadOn is --reload-on's paths, made absolute; src "" when off.
	reloadOn       input
	reloadDebounce time.Duration
}

// origin is where an input came from.
type origin uint8

const (
	fromDefault origin = iota
	fromEnv
	fromFlag
)

// input is one setting's raw values and where they came from ("--rewrite",
// "TINIT_REWRITE", "default").
type input struct {
	src  string
	vals []string
	from origin
}

// readEnv reads the variables that the options table names and the
// environment sets, through envconfig: a struct of *string fields is built
// for them, one per variable, each tagged with the variable's full name.
// Parsing happens in validate, for variables and flags alike, so that
// every problem is reported at once and names where the value came from.
//
// Only those that are set: envconfig finds nothing in the others, and the
// struct costs by its size. With a field for each of the 37 variables,
// reflect.StructOf and envconfig's pass over them cost about 130 kB of
// tinit's RSS when none is set (64 kB of it a block of reflect's code),
// and about 35 kB more than a one-field struct when one is
// (docs/performance.md).
//
// Full names, with no prefix: with a prefix, envconfig falls back to the
// bare tag name when PREFIX_NAME is unset, and an app's own LOG_LEVEL must
// never configure tinit. split_words would derive the names too, but runs
// a regexp over every field name on every start: about 0.25 ms of tinit's
// start-up, measured.
func readEnv() (map[string]string, error) {
	var names []string
	for _, n := range variables() {
		// The name envconfig looks up for the tag.
		if _, ok := os.LookupEnv(strings.ToUpper(n)); ok {
			names = append(names, n)
		}
	}
	out := make(map[string]string)
	if len(names) == 0 {
		return out, nil
	}
	fields := make([]reflect.StructField, len(names))
	for i, n := range names {
		fields[i] = reflect.StructField{
			Name: "V" + strconv.Itoa(i),
			Type: reflect.TypeFor[*string](),
			Tag:  reflect.StructTag(`envconfig:"` + n + `"`),
		}
	}
	v := reflect.New(reflect.StructOf(fields))
	// Fields are strings: envconfig cannot fail on a value, only on the
	// struct itself.
	if err := envconfig.Process("", v.Interface()); err != nil {
		return nil, fmt.Errorf("read TINIT_* variables: %w", err)
	}
	for i, n := range names {
		if p := v.Elem().Field(i).Interface().(*string); p != nil {
			out[n] = *p
		}
	}
	return out, nil
}

// load reads the command line and the environment into settings.
func load(args []string) (*settings, []error) {
	cl, err := parseArgs(args)
	if err != nil {
		return nil, []error{err}
	}
	env, err := readEnv()
	if err != nil {
		return nil, []error{err}
	}
	return validate(cl, env)
}

// conf is validate's working state.
type conf struct {
	s    *settings
	cl   *cmdline
	env  map[string]string // the variables that are set
	errs []error
	// alarmUses names where SIGALRM was asked for: it is the heartbeat's
	// tick while the heartbeat runs, which is only known at the end.
	alarmUses []string
	// heartbeatWhy says why the heartbeat runs, for those messages.
	heartbeatWhy string
	// checkSrc maps "--check-http" to where its values came from.
	checkSrc map[string]string
	// notifyUses names the --notify-* options given, which need --notify.
	notifyUses []string
	// waitUses and reloadUses name the --wait-* options given, which need
	// --wait-for, and the --reload-* ones, which need --reload-on.
	waitUses, reloadUses []string
	// restartSrc and reloadSrc name where --restart-signal and
	// --reload-signal came from.
	restartSrc, reloadSrc string
}

// waitUse notes a --wait-* option given, for the check that --wait-for
// is.
func (c *conf) waitUse(in input) {
	if in.from != fromDefault {
		c.waitUses = append(c.waitUses, in.src)
	}
}

// reloadUse notes a --reload-* option given, for the check that
// --reload-on is.
func (c *conf) reloadUse(in input) {
	if in.from != fromDefault {
		c.reloadUses = append(c.reloadUses, in.src)
	}
}

// notifyUse notes a --notify-* option given, for the check that --notify
// is on.
func (c *conf) notifyUse(in input) {
	if in.from != fromDefault {
		c.notifyUses = append(c.notifyUses, in.src)
	}
}

func (c *conf) bad(src, format string, a ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: "+format, append([]any{src}, a...)...))
}

// pick finds o's input: the flag, else its variable, else another init's
// variable. An empty variable is unset, as Compose and Kubernetes use it;
// a list variable holding only commas and spaces is not empty, so not
// unset, yet lists nothing: a typo to report, not a silent no-op.
func (c *conf) pick(o *option) (input, bool) {
	if c.cl.has(o.long) {
		return input{src: c.cl.spelled[o.long], vals: c.cl.values[o.long], from: fromFlag}, true
	}
	if o.yieldsTo != "" && c.cl.has(o.yieldsTo) {
		return input{}, false
	}
	if v, ok := c.env[o.env]; ok && o.env != "" && strings.TrimSpace(v) != "" {
		if o.kind != list {
			return input{src: o.env, vals: []string{v}, from: fromEnv}, true
		}
		if items := splitList(v); len(items) > 0 {
			return input{src: o.env, vals: items, from: fromEnv}, true
		}
		c.bad(o.env, "%q: an empty list: unset it, or give at least one item", v)
		return input{}, false
	}
	for _, a := range o.alias {
		raw, ok := c.env[a.name]
		if !ok {
			continue
		}
		v, err := a.read(raw)
		if err != nil {
			c.bad(a.name, "%v", err)
			return input{}, false
		}
		if v != "" {
			return input{src: a.name, vals: []string{v}, from: fromEnv}, true
		}
	}
	return input{}, false
}

func (c *conf) boolean(in input) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(in.vals[0]))
	if err != nil {
		c.bad(in.src, "%q: want true or false", in.vals[0])
	}
	return b
}

// duration parses in into *into when it is within lim.
func (c *conf) duration(in input, into *time.Duration, lim span) bool {
	d, err := time.ParseDuration(strings.TrimSpace(in.vals[0]))
	if err != nil || !lim.allows(d) {
		c.bad(in.src, "%q: %s", in.vals[0], lim.want())
		return false
	}
	*into = d
	return true
}

// alarm notes a use of SIGALRM, refused at the end if the heartbeat runs.
func (c *conf) alarm(sig unix.Signal, in input, v string) {
	if sig == unix.SIGALRM && in.from != fromDefault {
		c.alarmUses = append(c.alarmUses, in.src+" "+strconv.Quote(v))
	}
}

// checkList records where an app check's values came from, by the flag
// healthz.ValidateChecks names it with.
func (c *conf) checkList(long string, in input) []string {
	c.checkSrc["--"+long] = in.src
	return in.vals
}

// validate merges flags over variables over defaults and checks every
// value. It returns every problem found, each naming its flag or variable.
func validate(cl *cmdline, env map[string]string) (*settings, []error) {
	c := &conf{
		s:        &settings{level: logrus.WarnLevel},
		cl:       cl,
		env:      env,
		checkSrc: map[string]string{},
	}
	s := c.s
	s.Group = true
	s.ExitMap = supervise.ExitMap{}
	s.Heartbeat = -1 // 1s with --health-addr, else off: decided below

	// --json only shapes --version's output: given alone it would do
	// nothing, and a user who typed it expected something.
	if cl.has("json") && !cl.has("version") {
		return nil, []error{errors.New("--json goes with --version only: tinit --version --json")}
	}
	for i := range options {
		if o := &options[i]; o.mode && cl.has(o.long) {
			o.set(c, input{src: cl.spelled[o.long], vals: cl.values[o.long], from: fromFlag})
			if s.mode == "healthcheck" {
				// Only the address matters; a problem elsewhere is not
				// the probe's business.
				if in, ok := c.pick(lookupLong("health-addr")); ok {
					s.health = input{src: in.src, vals: []string{strings.TrimSpace(in.vals[0])}}
				}
			}
			if s.mode != "" {
				return s, c.errs
			}
		}
	}

	for i := range options {
		o := &options[i]
		if o.mode {
			continue
		}
		if o.def != "" {
			o.set(c, input{src: "default", vals: []string{o.def}, from: fromDefault})
		}
		if in, ok := c.pick(o); ok {
			o.set(c, in)
		} else if o.kind == count && cl.verbose > 0 {
			o.set(c, input{src: "-v", from: fromFlag})
		}
	}
	c.spanningChecks()

	s.Argv = cl.argv
	if len(s.Argv) == 0 {
		c.errs = append(c.errs, errors.New("no PROGRAM given: usage is tinit [OPTIONS] [--] PROGRAM [ARGS...]"))
	}
	return s, c.errs
}

// spanningChecks are the checks of one option against another.
func (c *conf) spanningChecks() {
	s := c.s
	if s.Heartbeat < 0 {
		// The heartbeat is for the health endpoint. Without one, nobody
		// reads it, and SIGALRM is forwarded as tini and dumb-init do.
		// (A bad --heartbeat value, reported already, lands here too.)
		s.Heartbeat = 0
		if s.health.src != "" {
			s.Heartbeat = defaultHeartbeat
			c.heartbeatWhy = fmt.Sprintf("%v by default with %s", defaultHeartbeat, s.health.src)
		}
	}
	if s.Heartbeat > 0 {
		for _, use := range c.alarmUses {
			// signals.Register routes SIGALRM to the heartbeat's channel
			// while it runs: nothing else would ever see it.
			c.errs = append(c.errs, fmt.Errorf("%s: SIGALRM is the heartbeat's tick while the heartbeat runs (%s), so this would do nothing: give --heartbeat 0 to turn the heartbeat off and SIGALRM back into a signal", use, c.heartbeatWhy))
		}
	}
	// A value from TINIT_CHECK_HTTP is named by that variable, as every
	// other bad value is.
	c.errs = append(c.errs, healthz.ValidateChecks(s.checks, func(flag string) string {
		if src, ok := c.checkSrc[flag]; ok {
			return src
		}
		return flag
	})...)
	if len(c.checkSrc) > 0 && s.health.src == "" {
		var srcs []string
		for _, src := range c.checkSrc {
			srcs = append(srcs, src)
		}
		sort.Strings(srcs)
		c.errs = append(c.errs, fmt.Errorf("%s: app checks need --health-addr (TINIT_HEALTH_ADDR) to report to", strings.Join(srcs, ", ")))
	}
	if s.notifySocket.src != "" {
		c.notifyUse(s.notifySocket)
	}
	if !s.Notify.On && len(c.notifyUses) > 0 {
		// Nothing would listen: the setting would silently do nothing.
		c.errs = append(c.errs, fmt.Errorf("%s: needs --notify (TINIT_NOTIFY) to be on", strings.Join(c.notifyUses, ", ")))
	}
	if s.waitFor.src == "" && len(c.waitUses) > 0 {
		c.errs = append(c.errs, fmt.Errorf("%s: needs --wait-for (TINIT_WAIT_FOR) to be given", strings.Join(c.waitUses, ", ")))
	}
	if s.reloadOn.src == "" && len(c.reloadUses) > 0 {
		c.errs = append(c.errs, fmt.Errorf("%s: needs --reload-on (TINIT_RELOAD_ON) to be given", strings.Join(c.reloadUses, ", ")))
	}
	if sig := s.Reload.RestartSignal; sig != 0 && s.StopSignals[sig] {
		// A stop must stop: turning it into a restart would leave
		// docker stop and the kubelet nothing but SIGKILL.
		c.errs = append(c.errs, fmt.Errorf("%s: %s is a stop signal (--stop-signals), so it cannot ask for a restart: want USR1, USR2 or HUP, say", c.restartSrc, signals.Name(sig)))
	}
	if sig := s.Reload.Signal; sig != 0 && s.StopSignals[sig] && s.reloadOn.src != "" {
		// It would stop the child, not reload it, and tinit would count
		// the death as a crash.
		c.errs = append(c.errs, fmt.Errorf("%s: %s is a stop signal (--stop-signals): it would stop the child, not reload it: give restart for a graceful restart", c.reloadSrc, signals.Name(sig)))
	}
	if sig := s.Reload.RestartSignal; sig != 0 {
		if _, ok := s.Rewrite[sig]; ok {
			c.errs = append(c.errs, fmt.Errorf("%s: --rewrite maps %s too, which would never apply: give one", c.restartSrc, signals.Name(sig)))
		}
		if s.pdeathsig == sig {
			c.errs = append(c.errs, fmt.Errorf("%s: %s is also --parent-death-signal: the parent's death would restart the child, not stop it", c.restartSrc, signals.Name(sig)))
		}
	}
	s.Reload.On = s.reloadOn.src != "" || s.Reload.RestartSignal != 0
	if s.Restart.BackoffMax < s.Restart.Backoff {
		c.errs = append(c.errs, fmt.Errorf("--backoff-max (TINIT_BACKOFF_MAX) %v is shorter than --backoff (TINIT_BACKOFF) %v", s.Restart.BackoffMax, s.Restart.Backoff))
	}
}

// validAddr reports whether addr is HOST:PORT or :PORT with a real port.
func validAddr(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && validPort(port)
}

// absolute makes a relative path absolute against the working directory
// tinit started in, before it leaves it.
func absolute(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func hasKey(m map[int]int, k int) bool { _, ok := m[k]; return ok }

// defaultHeartbeat is the heartbeat with --health-addr: /healthz fails
// after three missed ticks, well inside the kubelet's default 1 s probe
// period times its failure threshold of 3.
const defaultHeartbeat = time.Second

// minHeartbeat: faster ticks are a flood of SIGALRM, and below a
// microsecond setitimer reads the period as "off". Issue 12 suggested 1ms;
// the stricter 10ms stays, as every tick also sweeps for zombies.
const minHeartbeat = 10 * time.Millisecond

// minCheckInterval: a round of app checks costs goroutines, sockets and
// stats; at 1ns they kept 1.8 cores busy.
const minCheckInterval = 10 * time.Millisecond

// maxDuration bounds every duration setting. A day is longer than any
// probe period, grace period or backoff a container is given, and keeps
// every sum and product that the supervisor and the health endpoint form
// far from overflowing int64 nanoseconds (about 292 years): 3 x heartbeat
// (liveness), drain + grace (the SIGKILL deadline), 2 x backoff-max (the
// doubling), now - restart-window.
const maxDuration = 24 * time.Hour

// maxText is maxDuration as the messages spell it: "24h", not "24h0m0s".
const maxText = "24h"

// maxWindow bounds --restart-window, which enters no sum: "at most 3
// restarts a week" is a policy people write. now - a year cannot
// overflow either.
const maxWindow = 365 * 24 * time.Hour

// span is the range a duration setting accepts: 0 (when zero says what
// it means), or min to maxDuration.
type span struct {
	min     time.Duration // smallest value above 0; 0: any
	max     time.Duration // largest value; 0: maxDuration
	zero    string        // what 0 means; "": 0 is refused
	example string        // a typical value, for the message
}

func (l span) allows(d time.Duration) bool {
	if d == 0 {
		return l.zero != ""
	}
	return d >= max(l.min, 1) && d <= l.maximum()
}

func (l span) maximum() time.Duration {
	if l.max > 0 {
		return l.max
	}
	return maxDuration
}

// maxText spells the maximum as people write it: "24h", "8760h".
func (l span) maxText() string {
	if l.max > 0 {
		return strings.TrimSuffix(strings.TrimSuffix(l.max.String(), "0s"), "0m")
	}
	return maxText
}

// want is the hint for a refused value, naming this setting's range.
func (l span) want() string {
	switch {
	case l.zero == "":
		return fmt.Sprintf("want a duration from %v to %s, such as %s", l.min, l.maxText(), l.example)
	case l.min > 0:
		return fmt.Sprintf("want 0 (%s) or a duration from %v to %s, such as %s", l.zero, l.min, l.maxText(), l.example)
	}
	return fmt.Sprintf("want a duration from 0 (%s) to %s, such as %s", l.zero, l.maxText(), l.example)
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// exitCode reads an exit code, 0 to 255.
func exitCode(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil && n >= 0 && n <= 255
}

// splitList reads a comma-separated variable; empty items are skipped.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
