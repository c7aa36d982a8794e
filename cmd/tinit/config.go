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
		"drain": e.Drain,
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
		return s, nil
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
	duration := func(long string, into *time.Duration) {
		in, ok := pick(long)
		if !ok {
			return
		}
		v := strings.TrimSpace(in.vals[0])
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			bad(in.src, "%q: want a duration such as 500ms, 8s or 1m (0 for none)", in.vals[0])
			return
		}
		*into = d
	}
	duration("backoff", &s.restart.Backoff)
	duration("backoff-max", &s.restart.BackoffMax)
	duration("backoff-reset", &s.restart.BackoffReset)
	duration("restart-window", &s.restart.Window)
	duration("grace", &s.grace)
	duration("heartbeat", &s.heartbeat)
	duration("drain", &s.drain)
	duration("check-interval", &s.checks.Interval)
	duration("check-fail-after", &s.checks.FailAfter)
	if s.heartbeat < 0 {
		// The heartbeat is for the health endpoint. Without one, nobody
		// reads it, and SIGALRM is forwarded as tini and dumb-init do.
		s.heartbeat = 0
		if _, ok := pick("health-addr"); ok {
			s.heartbeat = defaultHeartbeat
		}
	}
	if s.heartbeat > 0 && s.heartbeat < minHeartbeat {
		errs = append(errs, fmt.Errorf("--heartbeat (TINIT_HEARTBEAT) %v: want 0 (off) or at least %v", s.heartbeat, minHeartbeat))
	}
	if s.checks.Interval == 0 {
		errs = append(errs, errors.New("--check-interval (TINIT_CHECK_INTERVAL) must be above 0"))
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
			}
		}
	}
	if in, ok := pick("termination-log"); ok {
		// tinit leaves its working directory before the child starts:
		// relative paths keep the meaning they had where it started.
		s.termLog = absolute(strings.TrimSpace(in.vals[0]))
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
// microsecond setitimer reads the period as "off".
const minHeartbeat = 10 * time.Millisecond

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
