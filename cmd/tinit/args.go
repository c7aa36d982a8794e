package main

import (
	"fmt"
	"strings"
)

// option is one command-line flag.
type option struct {
	long    string // without dashes; the key of every parsed value
	short   byte   // 0 when there is none
	env     string // its TINIT_* variable; "" for mode flags
	value   string // the value's name in help; "" for a switch
	repeat  bool   // may be given more than once
	help    string
	compat  string // the tini variable honoured too, for the flag table
	noValue bool   // counted, not set (-v)
	bare    bool   // a switch that takes no =value either (modes, -g)
}

// options lists every flag. Mode flags (help, version, json) have no
// variable: a stray variable in an app's environment must never turn tinit
// into something else.
var options = []option{
	{long: "help", short: 'h', bare: true, help: "print this help and exit 0"},
	{long: "version", bare: true, help: "print the version, commit and Go version on one line and exit 0"},
	{long: "json", bare: true, help: "with --version: print them as one JSON object"},
	{long: "install", value: "DIR", help: "copy tinit's own binary to DIR/tinit (for images without cp) and exit"},
	{long: "healthcheck", bare: true, help: "query the health endpoint (TINIT_HEALTH_ADDR): exit 0 when healthy, else 1"},
	{long: "single-child", env: "TINIT_SINGLE_CHILD", help: "forward signals to the child alone, not its process group"},
	{long: "process-group", short: 'g', bare: true, help: "forward signals to the child's process group (the default; tini's -g)", compat: "TINI_KILL_PROCESS_GROUP"},
	{long: "rewrite", env: "TINIT_REWRITE", value: "FROM:TO", repeat: true, help: "forward signal FROM as TO (TO=0 drops it), e.g. TERM:QUIT"},
	{long: "expect-exit", short: 'e', env: "TINIT_EXPECT_EXIT", value: "N", repeat: true, help: "exit 0 when the child's code is N (tini's -e)"},
	{long: "remap-exit", env: "TINIT_REMAP_EXIT", value: "N:M", repeat: true, help: "exit M when the child's code is N"},
	{long: "subreaper", short: 's', env: "TINIT_SUBREAPER", help: "register as a child subreaper (automatic when not PID 1)", compat: "TINI_SUBREAPER"},
	{long: "parent-death-signal", short: 'p', env: "TINIT_PARENT_DEATH_SIGNAL", value: "SIGNAL", help: "signal tinit gets when its parent dies (tini's -p)"},
	{long: "warn-on-reap", short: 'w', env: "TINIT_WARN_ON_REAP", help: "log a warning for each orphan reaped (tini's -w)"},
	{long: "restart", env: "TINIT_RESTART", value: "POLICY", help: "restart the child: never (default), on-failure or always"},
	{long: "backoff", env: "TINIT_BACKOFF", value: "DURATION", help: "first restart delay, doubling on each restart (default 100ms)"},
	{long: "backoff-max", env: "TINIT_BACKOFF_MAX", value: "DURATION", help: "longest restart delay (default 30s)"},
	{long: "backoff-reset", env: "TINIT_BACKOFF_RESET", value: "DURATION", help: "a child that ran this long resets the delay (default 10s)"},
	{long: "max-restarts", env: "TINIT_MAX_RESTARTS", value: "N", help: "stop restarting after N restarts (default 0: no limit)"},
	{long: "restart-window", env: "TINIT_RESTART_WINDOW", value: "DURATION", help: "count --max-restarts within this window (default 0: since start)"},
	{long: "stop-signals", env: "TINIT_STOP_SIGNALS", value: "LIST", help: "received signals that mean stop (default TERM,INT,QUIT)"},
	{long: "grace", env: "TINIT_GRACE", value: "DURATION", help: "time from the first stop signal to SIGKILL (default 8s)"},
	{long: "termination-log", env: "TINIT_TERMINATION_LOG", value: "PATH", help: "write why tinit exited to PATH (e.g. /dev/termination-log)"},
	{long: "heartbeat", env: "TINIT_HEARTBEAT", value: "DURATION", help: "setitimer heartbeat proving the event loop alive (default 1s with --health-addr, else 0: off, SIGALRM forwarded)"},
	{long: "health-addr", env: "TINIT_HEALTH_ADDR", value: "HOST:PORT", help: "serve /healthz, /readyz and /metrics here (default off)"},
	{long: "check-tcp", env: "TINIT_CHECK_TCP", value: "HOST:PORT", repeat: true, help: "app check: a TCP connect succeeds"},
	{long: "check-http", env: "TINIT_CHECK_HTTP", value: "URL", repeat: true, help: "app check: GET of an http:// URL answers 2xx or 3xx"},
	{long: "check-file", env: "TINIT_CHECK_FILE", value: "PATH", repeat: true, help: "app check: the file exists"},
	{long: "check-interval", env: "TINIT_CHECK_INTERVAL", value: "DURATION", help: "how often app checks run (default 2s)"},
	{long: "check-fail-after", env: "TINIT_CHECK_FAIL_AFTER", value: "DURATION", help: "liveness fails after app checks fail this long (default 0: never)"},
	{long: "check-start-period", env: "TINIT_CHECK_START_PERIOD", value: "DURATION", help: "app checks failing this long after start do not count toward --check-fail-after (default 0)"},
	{long: "drain", env: "TINIT_DRAIN", value: "DURATION", help: "on a stop signal, readiness off this long before forwarding it (default 0)"},
	{long: "verbose", short: 'v', noValue: true, help: "log more: -v info, -vv debug, -vvv trace", compat: "TINI_VERBOSITY"},
	{long: "log-level", env: "TINIT_LOG_LEVEL", value: "LEVEL", help: "error, warn (default), info, debug or trace"},
	{long: "log-format", env: "TINIT_LOG_FORMAT", value: "FORMAT", help: "text (default) or json"},
}

func lookupLong(name string) *option {
	for i := range options {
		if options[i].long == name {
			return &options[i]
		}
	}
	return nil
}

func lookupShort(c byte) *option {
	for i := range options {
		if options[i].short == c && c != 0 {
			return &options[i]
		}
	}
	return nil
}

// flagName is how a user spelled the option, for error messages.
func (o *option) names() string {
	if o.short != 0 {
		return fmt.Sprintf("-%c/--%s", o.short, o.long)
	}
	return "--" + o.long
}

// shortHint spells the ways to give short flag spelled that parseArgs
// accepts, with the value's name from the help rather than the user's
// text, which may hold anything.
func (o *option) shortHint(spelled string) string {
	switch {
	case o.noValue || o.bare:
		return spelled + " alone"
	case o.value == "":
		return fmt.Sprintf("%s alone, or --%s=true or =false", spelled, o.long)
	}
	return fmt.Sprintf("%s %s, %s%s or --%s=%s", spelled, o.value, spelled, o.value, o.long, o.value)
}

// cmdline is what parseArgs found.
type cmdline struct {
	values  map[string][]string // by long name, in order given
	spelled map[string]string   // by long name: "-s" or "--subreaper"
	verbose int
	argv    []string // PROGRAM and its arguments
}

func (c *cmdline) has(long string) bool { _, ok := c.values[long]; return ok }

// parseArgs reads options in getopt style, as tini does, so tini command
// lines keep working: clustered switches (-vvv, -sg), values attached or
// separate (-pSIGKILL, -p SIGKILL, --rewrite=TERM:QUIT, --rewrite TERM:QUIT).
// Parsing stops at "--" or at the first argument that is not an option,
// which is PROGRAM: "tinit sh -c ..." gives -c to sh.
func parseArgs(args []string) (*cmdline, error) {
	c := &cmdline{values: map[string][]string{}, spelled: map[string]string{}}
	set := func(o *option, spelled, v string) error {
		if _, dup := c.values[o.long]; dup && !o.repeat {
			return fmt.Errorf("%s given twice", spelled)
		}
		c.values[o.long] = append(c.values[o.long], v)
		c.spelled[o.long] = spelled
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			c.argv = args[i+1:]
			return c, nil
		case strings.HasPrefix(a, "--"):
			name, v, hasV := strings.Cut(a[2:], "=")
			o := lookupLong(name)
			if o == nil {
				return nil, fmt.Errorf("unknown flag %q", "--"+name)
			}
			spelled := "--" + name
			switch {
			case (o.noValue || o.bare) && hasV:
				return nil, fmt.Errorf("%s takes no value", spelled)
			case o.noValue:
				c.verbose++
				continue
			case o.value == "":
				if !hasV {
					v = "true"
				}
			case !hasV:
				if i+1 >= len(args) {
					return nil, fmt.Errorf("%s needs a value (%s)", spelled, o.value)
				}
				i++
				v = args[i]
			}
			if err := set(o, spelled, v); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := lookupShort(a[j])
				if o == nil {
					return nil, fmt.Errorf("unknown flag %q", "-"+string([]byte{a[j]}))
				}
				spelled := "-" + string(a[j])
				if j+1 < len(a) && a[j+1] == '=' {
					// getopt would read "-s=true" as -s then an unknown
					// -=, and "-p=KILL" as the signal "=KILL"; tini has
					// no such form. Either way the user meant a value:
					// say how to give one.
					return nil, fmt.Errorf("%q: a short flag takes no \"=\": give %s", a, o.shortHint(spelled))
				}
				if o.noValue {
					c.verbose++
					continue
				}
				v := "true"
				if o.value != "" {
					if j+1 < len(a) {
						v = a[j+1:]
					} else if i+1 < len(args) {
						i++
						v = args[i]
					} else {
						return nil, fmt.Errorf("%s needs a value (%s)", spelled, o.value)
					}
					j = len(a)
				}
				if err := set(o, spelled, v); err != nil {
					return nil, err
				}
			}
		default:
			c.argv = args[i:]
			return c, nil
		}
	}
	return c, nil
}
