package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
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

// envVars holds the TINIT_* variables as envconfig reads them. Every field
// is a *string: nil means unset, and parsing happens in validate, for
// variables and flags alike, so that every problem is reported at once and
// names where the value came from.
//
// Each tag is the variable's full name and Process runs with no prefix.
// With a prefix, envconfig falls back to the bare tag name when
// PREFIX_NAME is unset, and an app's own LOG_LEVEL must never configure
// tinit; with full names the fallback is the same variable. split_words
// would derive the names too, but runs a regexp over every field name on
// every start: about 0.25 ms of tinit's start-up, measured.
type envVars struct {
	SingleChild       *string `envconfig:"TINIT_SINGLE_CHILD"`
	Rewrite           *string `envconfig:"TINIT_REWRITE"`
	ExpectExit        *string `envconfig:"TINIT_EXPECT_EXIT"`
	RemapExit         *string `envconfig:"TINIT_REMAP_EXIT"`
	Subreaper         *string `envconfig:"TINIT_SUBREAPER"`
	ParentDeathSignal *string `envconfig:"TINIT_PARENT_DEATH_SIGNAL"`
	WarnOnReap        *string `envconfig:"TINIT_WARN_ON_REAP"`
	LogLevel          *string `envconfig:"TINIT_LOG_LEVEL"`
	LogFormat         *string `envconfig:"TINIT_LOG_FORMAT"`
	Restart           *string `envconfig:"TINIT_RESTART"`
	Backoff           *string `envconfig:"TINIT_BACKOFF"`
	BackoffMax        *string `envconfig:"TINIT_BACKOFF_MAX"`
	BackoffReset      *string `envconfig:"TINIT_BACKOFF_RESET"`
	MaxRestarts       *string `envconfig:"TINIT_MAX_RESTARTS"`
	RestartWindow     *string `envconfig:"TINIT_RESTART_WINDOW"`
	StopSignals       *string `envconfig:"TINIT_STOP_SIGNALS"`
	Grace             *string `envconfig:"TINIT_GRACE"`
	TerminationLog    *string `envconfig:"TINIT_TERMINATION_LOG"`
	Heartbeat         *string `envconfig:"TINIT_HEARTBEAT"`
	HealthAddr        *string `envconfig:"TINIT_HEALTH_ADDR"`
	CheckTCP          *string `envconfig:"TINIT_CHECK_TCP"`
	CheckHTTP         *string `envconfig:"TINIT_CHECK_HTTP"`
	CheckFile         *string `envconfig:"TINIT_CHECK_FILE"`
	CheckInterval     *string `envconfig:"TINIT_CHECK_INTERVAL"`
	CheckFailAfter    *string `envconfig:"TINIT_CHECK_FAIL_AFTER"`
	CheckStartPeriod  *string `envconfig:"TINIT_CHECK_START_PERIOD"`
	Drain             *string `envconfig:"TINIT_DRAIN"`
}

// byFlag maps a flag's long name to its variable's value.
func (e *envVars) byFlag() map[string]*string {
	return map[string]*string{
		"single-child": e.SingleChild, "rewrite": e.Rewrite,
		"expect-exit": e.ExpectExit, "remap-exit": e.RemapExit,
		"subreaper": e.Subreaper, "parent-death-signal": e.ParentDeathSignal,
		"warn-on-reap": e.WarnOnReap, "log-level": e.LogLevel, "log-format": e.LogFormat,
		"restart": e.Restart, "backoff": e.Backoff, "backoff-max": e.BackoffMax,
		"backoff-reset": e.BackoffReset, "max-restarts": e.MaxRestarts,
		"restart-window": e.RestartWindow, "stop-signals": e.StopSignals,
		"grace": e.Grace, "termination-log": e.TerminationLog,
		"heartbeat": e.Heartbeat, "health-addr": e.HealthAddr,
		"check-tcp": e.CheckTCP, "check-http": e.CheckHTTP, "check-file": e.CheckFile,
		"check-interval": e.CheckInterval, "check-fail-after": e.CheckFailAfter,
		"check-start-period": e.CheckStartPeriod,
		"drain":              e.Drain,
	}
}

// settings is the validated configuration.
type settings struct {
	mode       string // "", "help", "version", "install" or "healthcheck"
	asJSON     bool   // --version --json
	argv       []string
	group      bool
	rewrite    signals.Rewrite
	exitMap    supervise.ExitMap
	subreaper  *bool // nil: automatic (on unless tinit is PID 1)
	pdeathsig  unix.Signal
	warnOnReap bool
	level      logrus.Level
	json       bool
	restart    supervise.Restart
	stop       map[unix.Signal]bool
	grace      time.Duration
	termLog    string
	heartbeat  time.Duration
	drain      time.Duration
	health     input // the address and where it came from; src "" when off
	checks     healthz.CheckConfig
	installDir string
}

// input is one setting's raw values and where they came from ("--rewrite",
// "TINIT_REWRITE").
type input struct {
	src  string
	vals []string
}

// load reads the command line and the environment into settings.
func load(args []string) (*settings, []error) {
	cl, err := parseArgs(args)
	if err != nil {
		return nil, []error{err}
	}
	var env envVars
	// Fields are strings: envconfig cannot fail on a value, only on the
	// struct itself.
	if err := envconfig.Process("", &env); err != nil {
		return nil, []error{fmt.Errorf("read TINIT_* variables: %w", err)}
	}
	return validate(cl, &env, os.LookupEnv)
}

// validate merges flags over variables over defaults and checks every
// value. It returns every problem found, each naming its flag or variable.
func validate(cl *cmdline, env *envVars, lookup func(string) (string, bool)) (*settings, []error) {
	s := &settings{
		group: true,
		level: logrus.WarnLevel,
		restart: supervise.Restart{
			Backoff:      100 * time.Millisecond,
			BackoffMax:   30 * time.Second,
			BackoffReset: 10 * time.Second,
		},
		stop:      map[unix.Signal]bool{unix.SIGTERM: true, unix.SIGINT: true, unix.SIGQUIT: true},
		grace:     8 * time.Second,
		heartbeat: -1, // 1s with --health-addr, else off: decided below
		checks:    healthz.CheckConfig{Interval: 2 * time.Second},
	}
	var errs []error
	bad := func(src, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{src}, a...)...))
	}
	vars := env.byFlag()
	pick := func(long string) (input, bool) {
		if cl.has(long) {
			return input{src: cl.spelled[long], vals: cl.values[long]}, true
		}
		o := lookupLong(long)
		// Empty is unset, as Compose and Kubernetes use it.
		if v := vars[long]; v != nil && strings.TrimSpace(*v) != "" {
			if o.repeat {
				return input{src: o.env, vals: splitList(*v)}, true
			}
			return input{src: o.env, vals: []string{*v}}, true
		}
		return input{}, false
	}
	boolean := func(in input) bool {
		b, err := strconv.ParseBool(strings.TrimSpace(in.vals[0]))
		if err != nil {
			bad(in.src, "%q: want true or false", in.vals[0])
		}
		return b
	}

	// --json only shapes --version's output: given alone it would do
	// nothing, and a user who typed it expected something.
	if cl.has("json") && !cl.has("version") {
		return nil, []error{errors.New("--json goes with --version only: tinit --version --json")}
	}
	switch {
	case cl.has("help"):
		s.mode = "help"
		return s, nil
	case cl.has("version"):
		s.mode = "version"
		s.asJSON = cl.has("json")
		return s, nil
	case cl.has("install"):
		s.mode = "install"
		s.installDir = cl.values["install"][0]
		src := cl.spelled["install"]
		if strings.TrimSpace(s.installDir) == "" {
			// os.CreateTemp reads "" as the working directory: an empty
			// variable in a chart would write ./tinit and exit 0.
			errs = append(errs, fmt.Errorf("%s %q: want the directory to write tinit into, such as /tinit-bin", src, s.installDir))
		}
		if len(cl.argv) > 0 {
			errs = append(errs, fmt.Errorf("%s copies tinit and exits: PROGRAM %q would never run; start DIR/tinit with it instead", src, cl.argv[0]))
		}
		return s, errs
	case cl.has("healthcheck"):
		// Only the address matters; a problem elsewhere is not the
		// probe's business.
		s.mode = "healthcheck"
		if in, ok := pick("health-addr"); ok {
			s.health = input{src: in.src, vals: []string{strings.TrimSpace(in.vals[0])}}
		}
		return s, nil
	}

	// Forwarding target: -g and --single-child are two sides of one switch.
	if cl.has("process-group") && cl.has("single-child") {
		errs = append(errs, errors.New("-g and --single-child contradict each other: give one"))
	} else if cl.has("process-group") {
		s.group = true
	} else if in, ok := pick("single-child"); ok {
		s.group = !boolean(in)
	}
	// TINI_KILL_PROCESS_GROUP asks for the group, which is the default.

	// A list variable holding only commas and spaces is not empty, so not
	// unset, yet lists nothing: a typo to report, not a silent no-op.
	for _, o := range options {
		if v := vars[o.long]; o.repeat && !cl.has(o.long) && v != nil && strings.TrimSpace(*v) != "" && len(splitList(*v)) == 0 {
			bad(o.env, "%q: an empty list: unset it, or give at least one item", *v)
		}
	}

	// SIGALRM is the heartbeat's tick while the heartbeat runs, which is
	// only known further down: these name where it was asked for.
	var alarmUses []string

	if in, ok := pick("rewrite"); ok {
		s.rewrite = signals.Rewrite{}
		for _, v := range in.vals {
			from, to, err := signals.ParseRewrite(v)
			if err != nil {
				bad(in.src, "%v", err)
				continue
			}
			if _, dup := s.rewrite[from]; dup {
				bad(in.src, "%s rewritten twice", signals.Name(from))
				continue
			}
			if from == unix.SIGALRM {
				alarmUses = append(alarmUses, in.src+" "+strconv.Quote(v))
			}
			s.rewrite[from] = to
		}
	}

	s.exitMap = supervise.ExitMap{}
	if in, ok := pick("expect-exit"); ok {
		for _, v := range in.vals {
			if n, ok := exitCode(v); !ok {
				bad(in.src, "%q: want an exit code from 0 to 255", v)
			} else {
				s.exitMap[n] = 0
			}
		}
	}
	if in, ok := pick("remap-exit"); ok {
		for _, v := range in.vals {
			from, to, found := strings.Cut(v, ":")
			n, okN := exitCode(from)
			m, okM := exitCode(to)
			switch {
			case !found || !okN || !okM:
				bad(in.src, "%q: want N:M, two exit codes from 0 to 255", v)
			case s.exitMap[n] != m && hasKey(s.exitMap, n):
				bad(in.src, "%q: exit code %d is already mapped to %d (by -e or an earlier --remap-exit)", v, n, s.exitMap[n])
			default:
				s.exitMap[n] = m
			}
		}
	}

	if in, ok := pick("subreaper"); ok {
		b := boolean(in)
		s.subreaper = &b
	} else if _, ok := lookup("TINI_SUBREAPER"); ok {
		// tini enables it when the variable is set at all.
		b := true
		s.subreaper = &b
	}

	if in, ok := pick("parent-death-signal"); ok {
		sig, err := signals.Parse(in.vals[0])
		switch {
		case err != nil:
			bad(in.src, "%v", err)
		case sig != unix.SIGKILL && signals.Classify(sig) != signals.Forward:
			// tinit drops or never sees these: the setting would do nothing.
			bad(in.src, "%s would have no effect: want SIGKILL or a signal tinit forwards, such as TERM", signals.Name(sig))
		default:
			s.pdeathsig = sig
			if sig == unix.SIGALRM {
				alarmUses = append(alarmUses, in.src+" "+strconv.Quote(in.vals[0]))
			}
		}
	}

	if in, ok := pick("warn-on-reap"); ok {
		s.warnOnReap = boolean(in)
	}

	// Log level: --log-level, then -v, then TINIT_LOG_LEVEL, then tini's
	// TINI_VERBOSITY, then warn.
	switch in, ok := pick("log-level"); {
	case ok && (cl.has("log-level") || cl.verbose == 0):
		lvl, err := logrus.ParseLevel(strings.TrimSpace(in.vals[0]))
		if err != nil || lvl < logrus.ErrorLevel {
			bad(in.src, "%q: want error, warn, info, debug or trace", in.vals[0])
		}
		s.level = lvl
	case cl.verbose > 0:
		s.level = min(logrus.WarnLevel+logrus.Level(cl.verbose), logrus.TraceLevel)
	default:
		if v, ok := lookup("TINI_VERBOSITY"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				bad("TINI_VERBOSITY", "%q: want a number from 0 to 5", v)
			}
			// tini: 1 (its default) prints fatal errors, 2 warnings, and
			// so on up to 5, trace.
			s.level = max(min(logrus.ErrorLevel+logrus.Level(max(n, 1)-1), logrus.TraceLevel), logrus.ErrorLevel)
		}
	}

	if in, ok := pick("log-format"); ok {
		switch strings.TrimSpace(in.vals[0]) {
		case "text":
		case "json":
			s.json = true
		default:
			bad(in.src, "%q: want text or json", in.vals[0])
		}
	}

	if in, ok := pick("restart"); ok {
		p, err := supervise.ParseRestartPolicy(strings.TrimSpace(in.vals[0]))
		if err != nil {
			bad(in.src, "%v", err)
		}
		s.restart.Policy = p
	}
	// Every duration is at most maxDuration, so that no sum or product
	// the supervisor and the health endpoint form can overflow.
	duration := func(long string, into *time.Duration, lim span) (input, bool) {
		in, ok := pick(long)
		if !ok {
			return in, false
		}
		d, err := time.ParseDuration(strings.TrimSpace(in.vals[0]))
		if err != nil || !lim.allows(d) {
			bad(in.src, "%q: %s", in.vals[0], lim.want())
			return in, false
		}
		*into = d
		return in, true
	}
	duration("backoff", &s.restart.Backoff, span{zero: "restart at once", example: "100ms"})
	duration("backoff-max", &s.restart.BackoffMax, span{zero: "no delay", example: "30s"})
	duration("backoff-reset", &s.restart.BackoffReset, span{zero: "every restart resets the delay", example: "10s"})
	duration("restart-window", &s.restart.Window, span{zero: "since start", example: "1h", max: maxWindow})
	duration("grace", &s.grace, span{zero: "SIGKILL at once", example: "8s"})
	hbIn, hbGiven := duration("heartbeat", &s.heartbeat, span{min: minHeartbeat, zero: "off", example: "1s"})
	duration("drain", &s.drain, span{zero: "none", example: "5s"})
	duration("check-interval", &s.checks.Interval, span{min: minCheckInterval, example: "2s"})
	duration("check-fail-after", &s.checks.FailAfter, span{zero: "never", example: "30s"})
	duration("check-start-period", &s.checks.StartPeriod, span{zero: "none", example: "30s"})
	// Why the heartbeat runs, for the messages that depend on it.
	heartbeatWhy := ""
	if hbGiven {
		heartbeatWhy = fmt.Sprintf("%s %v", hbIn.src, s.heartbeat)
	}
	if s.heartbeat < 0 {
		// The heartbeat is for the health endpoint. Without one, nobody
		// reads it, and SIGALRM is forwarded as tini and dumb-init do.
		// (A bad --heartbeat value, reported above, lands here too.)
		s.heartbeat = 0
		if in, ok := pick("health-addr"); ok {
			s.heartbeat = defaultHeartbeat
			heartbeatWhy = fmt.Sprintf("%v by default with %s", defaultHeartbeat, in.src)
		}
	}
	if in, ok := pick("health-addr"); ok {
		addr := strings.TrimSpace(in.vals[0])
		if _, port, err := net.SplitHostPort(addr); err != nil || !validPort(port) {
			bad(in.src, "%q: want HOST:PORT or :PORT with a port from 1 to 65535", in.vals[0])
		}
		s.health = input{src: in.src, vals: []string{addr}}
	}
	var checkSrc []string
	srcOf := map[string]string{} // "--check-http" -> where its values came from
	for long, list := range map[string]*[]string{"check-tcp": &s.checks.TCP, "check-http": &s.checks.HTTP, "check-file": &s.checks.File} {
		if in, ok := pick(long); ok {
			*list = in.vals
			checkSrc = append(checkSrc, in.src)
			srcOf["--"+long] = in.src
		}
	}
	for i, f := range s.checks.File {
		s.checks.File[i] = absolute(f)
	}
	// A value from TINIT_CHECK_HTTP is named by that variable, as every
	// other bad value is.
	errs = append(errs, healthz.ValidateChecks(s.checks, func(flag string) string {
		if src, ok := srcOf[flag]; ok {
			return src
		}
		return flag
	})...)
	if len(checkSrc) > 0 && s.health.src == "" {
		sort.Strings(checkSrc)
		errs = append(errs, fmt.Errorf("%s: app checks need --health-addr (TINIT_HEALTH_ADDR) to report to", strings.Join(checkSrc, ", ")))
	}
	if s.restart.BackoffMax < s.restart.Backoff {
		errs = append(errs, fmt.Errorf("--backoff-max (TINIT_BACKOFF_MAX) %v is shorter than --backoff (TINIT_BACKOFF) %v", s.restart.BackoffMax, s.restart.Backoff))
	}
	if in, ok := pick("max-restarts"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(in.vals[0]))
		if err != nil || n < 0 {
			bad(in.src, "%q: want a number of restarts, 0 for no limit", in.vals[0])
		}
		s.restart.MaxRestarts = n
	}
	if in, ok := pick("stop-signals"); ok {
		s.stop = map[unix.Signal]bool{}
		before := len(errs)
		for _, v := range splitList(in.vals[0]) {
			sig, err := signals.Parse(v)
			switch {
			case err != nil:
				bad(in.src, "%v", err)
			case signals.Classify(sig) != signals.Forward:
				bad(in.src, "%s is never forwarded, so it cannot be a stop signal", signals.Name(sig))
			case signals.JobControl(sig) || sig == unix.SIGCONT:
				bad(in.src, "%s is job control (it stops or continues the child), so it cannot be a stop signal", signals.Name(sig))
			default:
				s.stop[sig] = true
				if sig == unix.SIGALRM {
					alarmUses = append(alarmUses, in.src+" "+strconv.Quote(v))
				}
			}
		}
		if len(s.stop) == 0 && len(errs) == before {
			// Nothing would ever start the grace period: no stop, no
			// SIGKILL, on any signal.
			bad(in.src, "%q: no signal: want at least one, such as TERM (the default is TERM,INT,QUIT)", in.vals[0])
		}
	}
	if s.heartbeat > 0 {
		for _, use := range alarmUses {
			// signals.Register routes SIGALRM to the heartbeat's channel
			// while it runs: nothing else would ever see it.
			errs = append(errs, fmt.Errorf("%s: SIGALRM is the heartbeat's tick while the heartbeat runs (%s), so this would do nothing: give --heartbeat 0 to turn the heartbeat off and SIGALRM back into a signal", use, heartbeatWhy))
		}
	}
	if in, ok := pick("termination-log"); ok {
		// Refused rather than resolved: written at exit, a relative path
		// would land wherever tinit was started, which in a container is
		// rarely where anyone looks (Kubernetes reads
		// /dev/termination-log).
		if p := strings.TrimSpace(in.vals[0]); filepath.IsAbs(p) {
			s.termLog = p
		} else {
			bad(in.src, "%q: want an absolute path, such as /dev/termination-log", in.vals[0])
		}
	}

	s.argv = cl.argv
	if len(s.argv) == 0 {
		errs = append(errs, errors.New("no PROGRAM given: usage is tinit [OPTIONS] [--] PROGRAM [ARGS...]"))
	}
	return s, errs
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
