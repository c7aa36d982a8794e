package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/supervise"
	"github.com/tinit/tinit/signals"
)

// kind is how an option is given on the command line.
type kind uint8

const (
	// bare: a switch that takes no =value (the modes, -g, -l).
	bare kind = iota
	// boolean: a switch alone, or --long=true/false/1/0.
	boolean
	// value: one value; given twice it must be the same value.
	value
	// list: repeatable; its variable is a comma-separated list.
	list
	// count: counted, not set (-v, -vv, -vvv).
	count
)

// alias is another init's variable that an option honours too. read
// turns its value into one of the option's values; "" leaves the option
// unset, and an error is reported naming the variable.
type alias struct {
	name string
	read func(v string) (string, error)
}

// option is one row of the options table: the only place that defines a
// setting. The parser, the variables envconfig reads, the defaults, the
// validation, --help and the README's table all come from these rows.
type option struct {
	long  string // without dashes; the key of every parsed value
	short byte   // 0 when there is none
	env   string // its TINIT_* variable; "" for the modes
	alias []alias
	kind  kind
	mode  bool   // selects a mode that starts no child
	value string // the value's name in help, such as DURATION
	// def is the default, given to set before any flag or variable
	// ("" when there is none, or when it depends on other options).
	def string
	// defNote is shown beside def, or instead of it when def is "".
	// Backquotes mark code for the README; --help drops them.
	defNote string
	help    string // one line for --help (backquotes as above)
	more    string // what the README adds to help
	// set parses and checks one input into c.s; every problem goes to
	// c.bad, naming in.src.
	set func(c *conf, in input)
	// yieldsTo is a flag that, given, wins over this option's variables:
	// they are not read at all then.
	yieldsTo string
}

// options lists every flag. Mode flags have no variable: a stray variable
// in an app's environment must never turn tinit into something else.
var options = []option{
	{long: "help", short: 'h', kind: bare, mode: true, help: "print this help and exit 0",
		set: func(c *conf, in input) { c.s.mode = "help" }},
	{long: "version", short: 'V', kind: bare, mode: true,
		help: "print the version, commit and Go version on one line and exit 0",
		more: "(`tinit v1.2.0 (commit 0123abc…, go1.26.8, linux/arm64)`); `-V` is dumb-init's spelling",
		set: func(c *conf, in input) {
			c.s.mode = "version"
			c.s.asJSON = c.cl.has("json")
		}},
	{long: "json", kind: bare, mode: true, help: "with --version: print them as one JSON object",
		more: "(`version`, `commit`, `go`, `os`, `arch`) for tooling; an error (exit 2) without `--version`",
		// The check is validate's: it comes before every mode.
		set: func(c *conf, in input) {}},
	{long: "license", short: 'l', kind: bare, mode: true, help: "print the licence notice (Apache-2.0) and exit 0",
		more: "(tini's `-l`)",
		set:  func(c *conf, in input) { c.s.mode = "license" }},
	{long: "install", kind: value, mode: true, value: "DIR",
		help: "copy tinit's own binary to DIR/tinit (for images without cp) and exit",
		more: "(0, or 1 when DIR is missing or cannot be written. An empty DIR, or a PROGRAM after it, is a usage error (exit 2)",
		set:  setInstall},
	{long: "healthcheck", kind: bare, mode: true,
		help: "query the health endpoint (`TINIT_HEALTH_ADDR`): exit 0 when healthy, else 1",
		more: "(within 2 s; never 2, which Docker reserves). It reads no other setting",
		set:  func(c *conf, in input) { c.s.mode = "healthcheck" }},
	{long: "single-child", short: 'c', env: "TINIT_SINGLE_CHILD", kind: boolean, def: "false",
		alias:    []alias{{"DUMB_INIT_SETSID", zeroOrOne("true", "false")}},
		help:     "forward signals to the child alone, not its process group",
		more:     "(dumb-init's `-c`; `DUMB_INIT_SETSID=0` too)",
		yieldsTo: "process-group",
		set: func(c *conf, in input) {
			if c.cl.has("process-group") && in.from == fromDefault {
				return
			}
			if c.cl.has("process-group") {
				c.errs = append(c.errs, fmt.Errorf("-g and %s contradict each other: give one", in.src))
				return
			}
			c.s.Group = !c.boolean(in)
		}},
	{long: "process-group", short: 'g', kind: bare, defNote: "on",
		alias: []alias{{"TINI_KILL_PROCESS_GROUP", func(string) (string, error) { return "true", nil }}},
		help:  "forward signals to the child's process group (the default; tini's -g)",
		more:  "cannot be combined with `--single-child`",
		set: func(c *conf, in input) {
			// tini's variable asks for the group, which is the default:
			// it must not outvote TINIT_SINGLE_CHILD.
			if in.from == fromFlag {
				c.s.Group = true
			}
		}},
	{long: "rewrite", short: 'r', env: "TINIT_REWRITE", kind: list, value: "FROM:TO", defNote: "none",
		help: "forward signal FROM as TO (TO=0 drops it), e.g. TERM:QUIT or 15:3",
		more: "(`--rewrite TERM:QUIT` for nginx's graceful stop; dumb-init's `-r 15:3`). Names (`TERM`, `SIGTERM`, `RTMIN+2`) or numbers. FROM `ALRM` is refused while the heartbeat runs. Repeatable",
		set:  setRewrite},
	{long: "expect-exit", short: 'e', env: "TINIT_EXPECT_EXIT", kind: list, value: "N", defNote: "none",
		help: "exit 0 when the child's code is N, after 128+signal (tini's -e)", more: "Repeatable",
		set: func(c *conf, in input) {
			for _, v := range in.vals {
				if n, ok := exitCode(v); !ok {
					c.bad(in.src, "%q: want an exit code from 0 to 255", v)
				} else {
					c.s.ExitMap[n] = 0
				}
			}
		}},
	{long: "remap-exit", env: "TINIT_REMAP_EXIT", kind: list, value: "N:M", defNote: "none",
		help: "exit M when the child's code is N", more: "Repeatable",
		set: setRemapExit},
	{long: "subreaper", short: 's', env: "TINIT_SUBREAPER", kind: boolean, defNote: "automatic",
		// tini enables it when the variable is set at all.
		alias: []alias{{"TINI_SUBREAPER", func(string) (string, error) { return "true", nil }}},
		help:  "register as a child subreaper (automatic when not PID 1)",
		more:  "`--subreaper=false` turns that off (short flags take no `=`: `-s=true` is an error)",
		set: func(c *conf, in input) {
			b := c.boolean(in)
			c.s.subreaper = &b
		}},
	{long: "parent-death-signal", short: 'p', env: "TINIT_PARENT_DEATH_SIGNAL", kind: value, value: "SIGNAL", defNote: "none",
		help: "signal tinit gets when its parent dies (tini's -p)",
		more: "a name or number, spaces around it ignored. `ALRM` is refused while the heartbeat runs (it would be taken for a tick): give `--heartbeat 0`",
		set: func(c *conf, in input) {
			sig, err := signals.Parse(in.vals[0])
			switch {
			case err != nil:
				c.bad(in.src, "%v", err)
			case sig != unix.SIGKILL && signals.Classify(sig) != signals.Forward:
				// tinit drops or never sees these: the setting would do nothing.
				c.bad(in.src, "%s would have no effect: want SIGKILL or a signal tinit forwards, such as TERM", signals.Name(sig))
			default:
				c.s.pdeathsig = sig
				c.alarm(sig, in, in.vals[0])
			}
		}},
	{long: "warn-on-reap", short: 'w', env: "TINIT_WARN_ON_REAP", kind: boolean, def: "false",
		help: "log a warning for each orphan reaped (tini's -w)",
		set:  func(c *conf, in input) { c.s.WarnOnReap = c.boolean(in) }},
	{long: "restart", env: "TINIT_RESTART", kind: value, value: "POLICY", def: "never",
		help: "restart the child: never, on-failure or always",
		more: "see [Shutdown and restarts](#shutdown-and-restarts)",
		set: func(c *conf, in input) {
			p, err := supervise.ParseRestartPolicy(strings.TrimSpace(in.vals[0]))
			if err != nil {
				c.bad(in.src, "%v", err)
			}
			c.s.Restart.Policy = p
		}},
	{long: "backoff", env: "TINIT_BACKOFF", kind: value, value: "DURATION", def: "100ms",
		help: "first restart delay, doubling on each restart", more: "At most `24h`, as every duration here",
		set: durationInto(func(s *settings) *time.Duration { return &s.Restart.Backoff }, span{zero: "restart at once", example: "100ms"})},
	{long: "backoff-max", env: "TINIT_BACKOFF_MAX", kind: value, value: "DURATION", def: "30s",
		help: "longest restart delay",
		set:  durationInto(func(s *settings) *time.Duration { return &s.Restart.BackoffMax }, span{zero: "no delay", example: "30s"})},
	{long: "backoff-reset", env: "TINIT_BACKOFF_RESET", kind: value, value: "DURATION", def: "10s",
		help: "a child that ran this long resets the delay to --backoff",
		set:  durationInto(func(s *settings) *time.Duration { return &s.Restart.BackoffReset }, span{zero: "every restart resets the delay", example: "10s"})},
	{long: "max-restarts", env: "TINIT_MAX_RESTARTS", kind: value, value: "N", def: "0", defNote: "no limit",
		help: "stop restarting after N restarts",
		set: func(c *conf, in input) {
			n, err := strconv.Atoi(strings.TrimSpace(in.vals[0]))
			if err != nil || n < 0 {
				c.bad(in.src, "%q: want a number of restarts, 0 for no limit", in.vals[0])
			}
			c.s.Restart.MaxRestarts = n
		}},
	{long: "restart-window", env: "TINIT_RESTART_WINDOW", kind: value, value: "DURATION", def: "0", defNote: "since start",
		help: "count --max-restarts within this window", more: "At most `8760h`, a year",
		set: durationInto(func(s *settings) *time.Duration { return &s.Restart.Window }, span{zero: "since start", example: "1h", max: maxWindow})},
	{long: "stop-signals", env: "TINIT_STOP_SIGNALS", kind: value, value: "LIST", def: "TERM,INT,QUIT",
		help: "received signals (before --rewrite) that mean stop",
		more: "the first starts the grace period; all are forwarded. Job-control signals (TSTP, TTIN, TTOU, CONT) are refused, and so is an empty list and `ALRM` while the heartbeat runs",
		set:  setStopSignals},
	{long: "grace", env: "TINIT_GRACE", kind: value, value: "DURATION", def: "8s",
		help: "time from the first stop signal (or the main child's last exit) to SIGKILL",
		more: "Below `docker stop`'s 10 s",
		set:  durationInto(func(s *settings) *time.Duration { return &s.Grace }, span{zero: "SIGKILL at once", example: "8s"})},
	{long: "termination-log", env: "TINIT_TERMINATION_LOG", kind: value, value: "PATH", defNote: "off",
		help: "write why tinit exited to PATH (e.g. /dev/termination-log)",
		more: "PATH must be absolute. Opened without blocking: a FIFO nobody reads is a warning, not a hang, and the write is given at most 1 s",
		set: func(c *conf, in input) {
			// Refused rather than resolved: written at exit, a relative
			// path would land wherever tinit was started, which in a
			// container is rarely where anyone looks (Kubernetes reads
			// /dev/termination-log).
			if p := strings.TrimSpace(in.vals[0]); filepath.IsAbs(p) {
				c.s.termLog = p
			} else {
				c.bad(in.src, "%q: want an absolute path, such as /dev/termination-log", in.vals[0])
			}
		}},
	{long: "heartbeat", env: "TINIT_HEARTBEAT", kind: value, value: "DURATION", defNote: "`1s` with `--health-addr`, else `0`",
		help: "setitimer heartbeat proving the event loop alive to /healthz; 0 turns it off and forwards SIGALRM",
		more: "(as tini and dumb-init do). `0`, or `10ms` to `24h` (liveness allows 3 heartbeats)",
		set: func(c *conf, in input) {
			if c.duration(in, &c.s.Heartbeat, span{min: minHeartbeat, zero: "off", example: "1s"}) {
				c.heartbeatWhy = fmt.Sprintf("%s %v", in.src, c.s.Heartbeat)
			}
		}},
	{long: "health-addr", env: "TINIT_HEALTH_ADDR", kind: value, value: "HOST:PORT", defNote: "off",
		help: "serve /healthz, /readyz and /metrics here",
		more: "`:PORT` listens on every address (what the kubelet probes)",
		set: func(c *conf, in input) {
			addr := strings.TrimSpace(in.vals[0])
			if !validAddr(addr) {
				c.bad(in.src, "%q: want HOST:PORT or :PORT with a port from 1 to 65535", in.vals[0])
			}
			c.s.health = input{src: in.src, vals: []string{addr}}
		}},
	{long: "check-tcp", env: "TINIT_CHECK_TCP", kind: list, value: "HOST:PORT", defNote: "none",
		help: "app check: a TCP connect succeeds", more: "Repeatable",
		set: func(c *conf, in input) { c.s.checks.TCP = c.checkList("check-tcp", in) }},
	{long: "check-http", env: "TINIT_CHECK_HTTP", kind: list, value: "URL", defNote: "none",
		help: "app check: GET of an http:// URL answers 2xx or 3xx",
		more: "(redirects not followed, no proxy). Repeatable. No `https://`: tinit carries no TLS; use `--check-tcp` for a TLS-only app",
		set:  func(c *conf, in input) { c.s.checks.HTTP = c.checkList("check-http", in) }},
	{long: "check-file", env: "TINIT_CHECK_FILE", kind: list, value: "PATH", defNote: "none",
		help: "app check: the file exists", more: "(a relative path is taken from the directory tinit started in). Repeatable",
		set: func(c *conf, in input) {
			c.s.checks.File = c.checkList("check-file", in)
			for i, f := range c.s.checks.File {
				c.s.checks.File[i] = absolute(f)
			}
		}},
	{long: "check-interval", env: "TINIT_CHECK_INTERVAL", kind: value, value: "DURATION", def: "2s",
		help: "how often app checks run once they have passed (every 50ms before)", more: "each with a timeout: `10ms` to `24h`",
		set: durationInto(func(s *settings) *time.Duration { return &s.checks.Interval }, span{min: minCheckInterval, example: "2s"})},
	{long: "check-fail-after", env: "TINIT_CHECK_FAIL_AFTER", kind: value, value: "DURATION", def: "0", defNote: "never",
		help: "liveness fails after app checks fail this long",
		set:  durationInto(func(s *settings) *time.Duration { return &s.checks.FailAfter }, span{zero: "never", example: "30s"})},
	{long: "check-start-period", env: "TINIT_CHECK_START_PERIOD", kind: value, value: "DURATION", def: "0",
		help: "app checks failing this long after start do not count toward --check-fail-after",
		more: "(readiness still follows them), as Docker's `HEALTHCHECK --start-period`",
		set:  durationInto(func(s *settings) *time.Duration { return &s.checks.StartPeriod }, span{zero: "none", example: "30s"})},
	{long: "drain", env: "TINIT_DRAIN", kind: value, value: "DURATION", def: "0",
		help: "on a stop signal, readiness off this long before forwarding it",
		more: "`/readyz` turns 503 at once; the SIGKILL deadline is drain + grace",
		set:  durationInto(func(s *settings) *time.Duration { return &s.Drain }, span{zero: "none", example: "5s"})},
	{long: "wait-for", env: "TINIT_WAIT_FOR", kind: list, value: "TARGET", defNote: "none",
		help: "start the child only once TARGET holds: tcp://HOST:PORT, http://HOST[:PORT]/PATH (2xx), unix:PATH or file:PATH",
		more: "Each is tried every 500 ms (1 s a try) until it has held once; `/readyz` is 503 meanwhile. No `https://` (tinit carries no TLS): use `tcp://`. Relative paths are taken from the directory tinit started in. Repeatable; a URL with a comma cannot go in `TINIT_WAIT_FOR`, which is comma-separated. See [Waiting for dependencies](#waiting-for-dependencies)",
		set:  setWaitFor},
	{long: "wait-timeout", env: "TINIT_WAIT_TIMEOUT", kind: value, value: "DURATION", def: "0", defNote: "wait for ever",
		help: "with --wait-for: exit 124, starting no child, when the targets have not all held this long",
		set: func(c *conf, in input) {
			c.duration(in, &c.s.Wait.Timeout, span{zero: "wait for ever", example: "2m"})
			c.waitUse(in)
		}},
	{long: "wait-on-restart", env: "TINIT_WAIT_ON_RESTART", kind: boolean, def: "false",
		help: "with --wait-for: wait for the targets again before each restart",
		set: func(c *conf, in input) {
			c.s.Wait.OnRestart = c.boolean(in)
			c.waitUse(in)
		}},
	{long: "reload-on", env: "TINIT_RELOAD_ON", kind: list, value: "PATH", defNote: "none",
		help: "when the file or directory PATH changes, send --reload-signal to the child",
		more: "PATH must exist. In a mounted ConfigMap or Secret (a directory with `..data`) a change is the kubelet's swap; the kubelet never updates one mounted with `subPath`. Repeatable. See [Reloading on change](#reloading-on-change)",
		set:  setReloadOn},
	{long: "reload-debounce", env: "TINIT_RELOAD_DEBOUNCE", kind: value, value: "DURATION", def: "1s",
		help: "with --reload-on: changes closer together than this are one, acted on this long after the last",
		set: func(c *conf, in input) {
			c.duration(in, &c.s.reloadDebounce, span{min: minCheckInterval, example: "1s"})
			c.reloadUse(in)
		}},
	{long: "reload-signal", env: "TINIT_RELOAD_SIGNAL", kind: value, value: "SIGNAL", def: "SIGHUP",
		help: "with --reload-on: the signal sent to the child's group on a change (no --rewrite), or `restart` to restart the child gracefully",
		more: "A stop signal is refused (it would stop the child: use `restart`). An ignored SIGHUP that tinit inherited (`nohup`) stays ignored in the child",
		set:  setReloadSignal},
	{long: "restart-signal", env: "TINIT_RESTART_SIGNAL", kind: value, value: "SIGNAL", defNote: "none",
		help: "restart the child gracefully when tinit receives SIGNAL, which never reaches the child",
		more: "SIGTERM (after `--rewrite`) to its group, SIGKILL after `--grace`, the next child at once; not counted as a restart. A stop signal, job control, `CHLD`, `ALRM` while the heartbeat runs, a signal `--rewrite` maps and the `--parent-death-signal` are refused",
		set:  setRestartSignal},
	{long: "notify", env: "TINIT_NOTIFY", kind: boolean, def: "false",
		help: "readiness from the app: open a notify socket (sd_notify) for the child and wait for its READY=1",
		more: "See [Readiness from the app](#readiness-from-the-app)",
		set:  func(c *conf, in input) { c.s.Notify.On = c.boolean(in) }},
	{long: "notify-socket", env: "TINIT_NOTIFY_SOCKET", kind: value, value: "PATH", defNote: "abstract, `@tinit-notify-` and a random name",
		help: "with --notify: the socket is a file at PATH (mode 0666) instead",
		more: "for a child that cannot reach the abstract namespace",
		set: func(c *conf, in input) {
			p := strings.TrimSpace(in.vals[0])
			if !filepath.IsAbs(p) {
				c.bad(in.src, "%q: want an absolute path, such as /run/tinit/notify", in.vals[0])
			}
			c.s.notifySocket = input{src: in.src, vals: []string{p}, from: in.from}
		}},
	{long: "notify-access", env: "TINIT_NOTIFY_ACCESS", kind: value, value: "WHO", def: "tree",
		help: "with --notify: who may speak for the child: tree (the main child and its descendants) or main (the main child, or its MAINPID)",
		more: "without a /proc of tinit's own, tree is every process in tinit's pid namespace",
		set: func(c *conf, in input) {
			switch strings.TrimSpace(in.vals[0]) {
			case "tree":
				c.s.Notify.MainOnly = false
			case "main":
				c.s.Notify.MainOnly = true
			default:
				c.bad(in.src, "%q: want tree or main", in.vals[0])
			}
			c.notifyUse(in)
		}},
	{long: "notify-timeout", env: "TINIT_NOTIFY_TIMEOUT", kind: value, value: "DURATION", def: "0", defNote: "wait for ever",
		help: "with --notify: a child not ready this long after its start has failed: SIGTERM, and --restart decides",
		set: func(c *conf, in input) {
			c.duration(in, &c.s.Notify.Timeout, span{zero: "wait for ever", example: "1m"})
			c.notifyUse(in)
		}},
	{long: "notify-watchdog", env: "TINIT_NOTIFY_WATCHDOG", kind: value, value: "DURATION", def: "0", defNote: "off",
		help: "with --notify: a ready child silent this long (no WATCHDOG=1) is hung: SIGABRT, and --restart decides",
		more: "The child gets `WATCHDOG_USEC`. `0`, or `10ms` to `24h`",
		set: func(c *conf, in input) {
			c.duration(in, &c.s.Notify.Watchdog, span{min: minHeartbeat, zero: "off", example: "30s"})
			c.notifyUse(in)
		}},
	{long: "verbose", short: 'v', kind: count,
		help: "log more: -v info, -vv debug, -vvv trace",
		set: func(c *conf, in input) {
			c.s.level = min(logrus.WarnLevel+logrus.Level(c.cl.verbose), logrus.TraceLevel)
		}},
	{long: "log-level", env: "TINIT_LOG_LEVEL", kind: value, value: "LEVEL", def: "warn",
		alias:    []alias{{"TINI_VERBOSITY", tiniVerbosity}, {"DUMB_INIT_DEBUG", zeroOrOne("", "debug")}},
		help:     "error, warn, info, debug or trace",
		more:     "See [Logs](#logs) for the order of `-v` and the variables",
		yieldsTo: "verbose", // -v comes between the flag and the variables
		set: func(c *conf, in input) {
			if c.cl.verbose > 0 && in.from == fromDefault {
				return
			}
			lvl, err := logrus.ParseLevel(strings.TrimSpace(in.vals[0]))
			if err != nil || lvl < logrus.ErrorLevel {
				c.bad(in.src, "%q: want error, warn, info, debug or trace", in.vals[0])
			}
			c.s.level = lvl
		}},
	{long: "log-format", env: "TINIT_LOG_FORMAT", kind: value, value: "FORMAT", def: "text",
		help: "text or json", more: "(logrus, on stderr; see [Logs](#logs))",
		set: func(c *conf, in input) {
			switch strings.TrimSpace(in.vals[0]) {
			case "text":
				c.s.json = false
			case "json":
				c.s.json = true
			default:
				c.bad(in.src, "%q: want text or json", in.vals[0])
			}
		}},
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

// variables lists every variable the rows read: each option's TINIT_*
// one, then the other inits' it honours.
func variables() []string {
	var out []string
	for i := range options {
		out = append(out, options[i].variables()...)
	}
	return out
}

// variables lists o's variable and the other inits' it honours.
func (o *option) variables() []string {
	var out []string
	if o.env != "" {
		out = append(out, o.env)
	}
	for _, a := range o.alias {
		out = append(out, a.name)
	}
	return out
}

// defaultText is the default as the README shows it, with its
// backquotes ("`0` (no limit)"), or as --help does ("0: no limit").
func (o *option) defaultText(readme bool) string {
	switch {
	case o.def == "":
		return o.defNote
	case o.defNote == "" && readme:
		return "`" + o.def + "`"
	case o.defNote == "":
		return o.def
	case readme:
		return "`" + o.def + "` (" + o.defNote + ")"
	}
	return o.def + ": " + o.defNote
}

// zeroOrOne reads dumb-init's 0/1 variables: "0" is zero, "1" is one,
// empty is unset.
func zeroOrOne(zero, one string) func(string) (string, error) {
	return func(v string) (string, error) {
		switch strings.TrimSpace(v) {
		case "":
			return "", nil
		case "0":
			return zero, nil
		case "1":
			return one, nil
		}
		return "", fmt.Errorf("%q: want 0 or 1", v)
	}
}

// tiniVerbosity reads TINI_VERBOSITY as tini does: 0 prints fatal errors
// only, 1 (its default) warnings too, 2 info, 3 debug, 4 trace. Empty is
// unset.
func tiniVerbosity(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return "", fmt.Errorf("%q: want a number from 0 to 4", v)
	}
	return []string{"error", "warn", "info", "debug", "trace"}[min(n, 4)], nil
}

// durationInto is the set of a duration option: every duration is within
// its span, so that no sum or product the supervisor and the health
// endpoint form can overflow.
func durationInto(field func(*settings) *time.Duration, lim span) func(*conf, input) {
	return func(c *conf, in input) { c.duration(in, field(c.s), lim) }
}

func setInstall(c *conf, in input) {
	c.s.mode = "install"
	c.s.installDir = in.vals[0]
	if strings.TrimSpace(c.s.installDir) == "" {
		// os.CreateTemp reads "" as the working directory: an empty
		// variable in a chart would write ./tinit and exit 0.
		c.errs = append(c.errs, fmt.Errorf("%s %q: want the directory to write tinit into, such as /tinit-bin", in.src, c.s.installDir))
	}
	if len(c.cl.argv) > 0 {
		c.errs = append(c.errs, fmt.Errorf("%s copies tinit and exits: PROGRAM %q would never run; start DIR/tinit with it instead", in.src, c.cl.argv[0]))
	}
}

func setRewrite(c *conf, in input) {
	c.s.Rewrite = signals.Rewrite{}
	for _, v := range in.vals {
		from, to, err := signals.ParseRewrite(v)
		if err != nil {
			c.bad(in.src, "%v", err)
			continue
		}
		if old, dup := c.s.Rewrite[from]; dup && old == to {
			continue // said twice, as dumb-init takes it
		} else if dup {
			c.bad(in.src, "%s rewritten twice", signals.Name(from))
			continue
		}
		c.alarm(from, in, v)
		c.s.Rewrite[from] = to
	}
}

func setRemapExit(c *conf, in input) {
	for _, v := range in.vals {
		from, to, found := strings.Cut(v, ":")
		n, okN := exitCode(from)
		m, okM := exitCode(to)
		switch {
		case !found || !okN || !okM:
			c.bad(in.src, "%q: want N:M, two exit codes from 0 to 255", v)
		case c.s.ExitMap[n] != m && hasKey(c.s.ExitMap, n):
			c.bad(in.src, "%q: exit code %d is already mapped to %d (by -e or an earlier --remap-exit)", v, n, c.s.ExitMap[n])
		default:
			c.s.ExitMap[n] = m
		}
	}
}

func setStopSignals(c *conf, in input) {
	c.s.StopSignals = map[unix.Signal]bool{}
	before := len(c.errs)
	for _, v := range splitList(in.vals[0]) {
		sig, err := signals.Parse(v)
		switch {
		case err != nil:
			c.bad(in.src, "%v", err)
		case signals.Classify(sig) != signals.Forward:
			c.bad(in.src, "%s is never forwarded, so it cannot be a stop signal", signals.Name(sig))
		case signals.JobControl(sig) || sig == unix.SIGCONT:
			c.bad(in.src, "%s is job control (it stops or continues the child), so it cannot be a stop signal", signals.Name(sig))
		default:
			c.s.StopSignals[sig] = true
			c.alarm(sig, in, v)
		}
	}
	if len(c.s.StopSignals) == 0 && len(c.errs) == before {
		// Nothing would ever start the grace period: no stop, no
		// SIGKILL, on any signal.
		c.bad(in.src, "%q: no signal: want at least one, such as TERM (the default is TERM,INT,QUIT)", in.vals[0])
	}
}

func setWaitFor(c *conf, in input) {
	dir, _ := os.Getwd() // the directory tinit started in; "" leaves paths as given
	c.s.waitFor = input{src: in.src, vals: in.vals, from: in.from}
	c.s.waitTargets = nil
	for _, v := range in.vals {
		t, err := healthz.ParseWaitTarget(strings.TrimSpace(v), dir)
		if err != nil {
			c.bad(in.src, "%v", err)
			continue
		}
		c.s.waitTargets = append(c.s.waitTargets, t)
	}
}

func setReloadOn(c *conf, in input) {
	c.s.reloadOn = input{src: in.src, from: in.from}
	for _, v := range in.vals {
		p := absolute(strings.TrimSpace(v))
		if _, err := os.Stat(p); err != nil {
			// Watched from the start or not at all: a path that is not
			// there yet would never be reloaded on, silently.
			c.bad(in.src, "%q: %v: want an existing file or directory", v, errors.Unwrap(err))
			continue
		}
		c.s.reloadOn.vals = append(c.s.reloadOn.vals, p)
	}
}

func setReloadSignal(c *conf, in input) {
	c.reloadUse(in)
	if strings.TrimSpace(in.vals[0]) == "restart" {
		c.s.Reload.Signal, c.s.Reload.Restart = 0, true
		return
	}
	sig, err := signals.Parse(in.vals[0])
	switch {
	case err != nil:
		c.bad(in.src, "%v (or restart)", err)
	case signals.Classify(sig) != signals.Forward:
		c.bad(in.src, "%s cannot be sent as a reload signal: want a signal the app handles, such as HUP or USR1, or restart", signals.Name(sig))
	case signals.JobControl(sig) || sig == unix.SIGCONT:
		c.bad(in.src, "%s is job control (it stops or continues the child), not a reload: want HUP, USR1 or restart, say", signals.Name(sig))
	default:
		c.s.Reload.Signal, c.s.Reload.Restart = sig, false
		// Sent by tinit, never received: the heartbeat does not mind
		// an ALRM here.
		c.reloadSrc = in.src
		if in.from == fromDefault {
			c.reloadSrc = "--reload-signal (TINIT_RELOAD_SIGNAL), by default"
		}
	}
}

func setRestartSignal(c *conf, in input) {
	sig, err := signals.Parse(in.vals[0])
	switch {
	case err != nil:
		c.bad(in.src, "%v", err)
	case signals.Classify(sig) != signals.Forward:
		c.bad(in.src, "%s never reaches tinit's loop, so it cannot ask for a restart: want USR1, USR2 or HUP, say", signals.Name(sig))
	case signals.JobControl(sig) || sig == unix.SIGCONT:
		c.bad(in.src, "%s is job control, which tinit passes on to the child: want USR1, USR2 or HUP, say", signals.Name(sig))
	default:
		// Whether it is a stop signal is known once --stop-signals is
		// read: spanningChecks.
		c.s.Reload.RestartSignal = sig
		c.restartSrc = in.src
		c.alarm(sig, in, in.vals[0])
	}
}
