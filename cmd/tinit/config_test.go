package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/init/supervise"
)

// loadWith runs the whole parse with a fake environment.
func loadWith(t *testing.T, env map[string]string, args ...string) (*settings, []error) {
	t.Helper()
	// The developer's own TINIT_* and TINI_* variables must not leak in.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TINIT_") || strings.HasPrefix(k, "TINI_") || strings.HasPrefix(k, "DUMB_INIT_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	return load(args)
}

func TestParseArgsGetoptStyle(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		argv    []string
		verbose int
		values  map[string][]string
	}{
		{"PROGRAM after --", []string{"--", "sh", "-c", "x"}, []string{"sh", "-c", "x"}, 0, nil},
		{"parsing stops at PROGRAM", []string{"-s", "sh", "-c", "x"}, []string{"sh", "-c", "x"}, 0, map[string][]string{"subreaper": {"true"}}},
		{"clustered switches", []string{"-svvg", "--", "a"}, []string{"a"}, 2, map[string][]string{"subreaper": {"true"}, "process-group": {"true"}}},
		{"attached short value", []string{"-pKILL", "a"}, []string{"a"}, 0, map[string][]string{"parent-death-signal": {"KILL"}}},
		{"separate short value", []string{"-p", "KILL", "a"}, []string{"a"}, 0, map[string][]string{"parent-death-signal": {"KILL"}}},
		{"switch then value in a cluster", []string{"-we", "143", "a"}, []string{"a"}, 0, map[string][]string{"warn-on-reap": {"true"}, "expect-exit": {"143"}}},
		{"long with =", []string{"--rewrite=TERM:QUIT", "a"}, []string{"a"}, 0, map[string][]string{"rewrite": {"TERM:QUIT"}}},
		{"long repeated", []string{"--rewrite", "TERM:QUIT", "--rewrite", "HUP:0", "a"}, []string{"a"}, 0, map[string][]string{"rewrite": {"TERM:QUIT", "HUP:0"}}},
		{"a lone dash is PROGRAM", []string{"-"}, []string{"-"}, 0, nil},
		{"dumb-init's -c and -r", []string{"-c", "-r", "15:3", "--", "a"}, []string{"a"}, 0, map[string][]string{"single-child": {"true"}, "rewrite": {"15:3"}}},
		{"a switch given twice is once", []string{"--single-child", "--single-child", "-ss", "a"}, []string{"a"}, 0, map[string][]string{"single-child": {"true"}, "subreaper": {"true"}}},
		{"a value given twice alike is once", []string{"--grace", "5s", "--grace=5s", "a"}, []string{"a"}, 0, map[string][]string{"grace": {"5s"}}},
		{"dumb-init's -V", []string{"-V"}, nil, 0, map[string][]string{"version": {"true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseArgs(tt.args)
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.args, err)
			}
			if strings.Join(c.argv, " ") != strings.Join(tt.argv, " ") {
				t.Errorf("argv = %q, want %q", c.argv, tt.argv)
			}
			if c.verbose != tt.verbose {
				t.Errorf("verbose = %d, want %d", c.verbose, tt.verbose)
			}
			for k, want := range tt.values {
				if got := strings.Join(c.values[k], ","); got != strings.Join(want, ",") {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestBadInputNamesItsSource(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // must appear in the one error
	}{
		{"unknown long flag", nil, []string{"--nope", "a"}, "--nope"},
		{"unknown short flag", nil, []string{"-x", "a"}, "-x"},
		{"missing value", nil, []string{"--rewrite"}, "--rewrite needs a value"},
		{"switch with a value", nil, []string{"--verbose=3", "a"}, "--verbose takes no value"},
		{"switch given twice", nil, []string{"-p", "KILL", "-p", "TERM", "a"}, "-p given twice with different values"},
		{"a boolean given twice with different values", nil, []string{"-s", "--subreaper=false", "a"}, `--subreaper given twice with different values: "true" and "false"`},
		{"DUMB_INIT_SETSID neither 0 nor 1", map[string]string{"DUMB_INIT_SETSID": "no"}, []string{"a"}, `DUMB_INIT_SETSID: "no": want 0 or 1`},
		{"DUMB_INIT_DEBUG neither 0 nor 1", map[string]string{"DUMB_INIT_DEBUG": "yes"}, []string{"a"}, `DUMB_INIT_DEBUG: "yes": want 0 or 1`},
		{"-c and -g", nil, []string{"-c", "-g", "a"}, "-g and -c contradict"},
		{"-l with a value", nil, []string{"--license=1"}, "--license takes no value"},
		{"--notify-timeout without --notify", nil, []string{"--notify-timeout", "5s", "a"}, "--notify-timeout: needs --notify (TINIT_NOTIFY) to be on"},
		{"TINIT_NOTIFY_WATCHDOG without --notify", map[string]string{"TINIT_NOTIFY_WATCHDOG": "5s"}, []string{"a"}, "TINIT_NOTIFY_WATCHDOG: needs --notify"},
		{"--notify-socket without --notify", nil, []string{"--notify-socket", "/run/n", "a"}, "--notify-socket: needs --notify"},
		{"a relative --notify-socket", nil, []string{"--notify", "--notify-socket", "run/n", "a"}, `--notify-socket: "run/n": want an absolute path`},
		{"a bad --notify-access", map[string]string{"TINIT_NOTIFY": "1"}, []string{"--notify-access", "all", "a"}, `--notify-access: "all": want tree or main`},
		{"a watchdog too fast", nil, []string{"--notify", "--notify-watchdog", "1ms", "a"}, "--notify-watchdog"},
		{"no PROGRAM", nil, []string{"-s"}, "no PROGRAM"},
		{"bad rewrite flag", nil, []string{"--rewrite", "TERM", "a"}, "--rewrite"},
		{"rewrite of SIGCHLD", nil, []string{"--rewrite", "CHLD:TERM", "a"}, "never forwarded"},
		{"same signal rewritten twice", nil, []string{"--rewrite", "TERM:QUIT", "--rewrite", "TERM:INT", "a"}, "SIGTERM rewritten twice"},
		{"bad rewrite variable", map[string]string{"TINIT_REWRITE": "TERM:NOPE"}, []string{"a"}, "TINIT_REWRITE"},
		{"exit code out of range", nil, []string{"-e", "256", "a"}, "-e"},
		{"bad remap", nil, []string{"--remap-exit", "1-2", "a"}, "--remap-exit"},
		{"remap conflicts with -e", nil, []string{"-e", "1", "--remap-exit", "1:3", "a"}, "already mapped"},
		{"bad boolean variable", map[string]string{"TINIT_SINGLE_CHILD": "maybe"}, []string{"a"}, "TINIT_SINGLE_CHILD"},
		{"bad parent death signal", nil, []string{"-p", "NOPE", "a"}, "-p"},
		{"bad log level variable", map[string]string{"TINIT_LOG_LEVEL": "loud"}, []string{"a"}, "TINIT_LOG_LEVEL"},
		{"panic is not a log level", nil, []string{"--log-level", "panic", "a"}, "--log-level"},
		{"bad log format", nil, []string{"--log-format", "xml", "a"}, "--log-format"},
		{"bad tini verbosity", map[string]string{"TINI_VERBOSITY": "lots"}, []string{"a"}, "TINI_VERBOSITY"},
		{"-g and --single-child", nil, []string{"-g", "--single-child", "a"}, "contradict"},
		{"--help with a value", nil, []string{"--help=no"}, "--help takes no value"},
		{"--version with a value", nil, []string{"--version=false"}, "--version takes no value"},
		{"--json with a value", nil, []string{"--version", "--json=true"}, "--json takes no value"},
		{"--json without --version", nil, []string{"--json", "a"}, "--json goes with --version only"},
		{"--json alone", nil, []string{"--json"}, "--json goes with --version only"},
		{"--json with --install", nil, []string{"--install", "/tmp", "--json"}, "--json goes with --version only"},
		{"--json with --healthcheck", nil, []string{"--healthcheck", "--json"}, "--json goes with --version only"},
		{"-g with a value", nil, []string{"--process-group=false", "a"}, "takes no value"},
		{"-p with a signal tinit never sees", nil, []string{"-p", "URG", "a"}, "no effect"},
		{"-p with a dropped signal", nil, []string{"-p", "PIPE", "a"}, "no effect"},
		{"a job-control stop signal", nil, []string{"--stop-signals", "TERM,TSTP", "a"}, "job control"},
		{"SIGCONT as a stop signal", map[string]string{"TINIT_STOP_SIGNALS": "CONT"}, []string{"a"}, "TINIT_STOP_SIGNALS"},
		{"a non-ASCII short flag", nil, []string{"-\xc3\xa9", "a"}, `"-\xc3"`},
		{"bad health address", nil, []string{"--health-addr", "8080", "a"}, "--health-addr"},
		{"health port out of range", map[string]string{"TINIT_HEALTH_ADDR": ":70000"}, []string{"a"}, "TINIT_HEALTH_ADDR"},
		{"app checks without an endpoint", nil, []string{"--check-tcp", "127.0.0.1:80", "a"}, "need --health-addr"},
		{"bad check-tcp", nil, []string{"--health-addr", ":8080", "--check-tcp", "nope", "a"}, "--check-tcp"},
		{"bad check-http variable", map[string]string{"TINIT_HEALTH_ADDR": ":8080", "TINIT_CHECK_HTTP": "ftp://x"}, []string{"a"}, `TINIT_CHECK_HTTP "ftp://x": want an http:// URL`},
		{"bad check-http flag", nil, []string{"--health-addr", ":8080", "--check-http", "https://x/", "a"}, `--check-http "https://x/": https is not supported`},
		{"zero check interval", nil, []string{"--check-interval", "0", "a"}, "--check-interval"},
		{"bad heartbeat", nil, []string{"--heartbeat", "fast", "a"}, "--heartbeat"},
		{"a heartbeat too fast", nil, []string{"--heartbeat", "500ns", "a"}, `--heartbeat: "500ns": want 0 (off) or a duration from 10ms to 24h`},
		{"a 1ms heartbeat: the stricter 10ms minimum stays", nil, []string{"--heartbeat", "1ms", "a"}, "from 10ms"},
		{"a heartbeat whose 3 x overflows", nil, []string{"--heartbeat", "1000000h", "a"}, `--heartbeat: "1000000h"`},
		{"a heartbeat above a day", map[string]string{"TINIT_HEARTBEAT": "25h"}, []string{"a"}, `TINIT_HEARTBEAT: "25h"`},
		{"a check interval of 1ns", nil, []string{"--check-interval", "1ns", "a"}, `--check-interval: "1ns": want a duration from 10ms to 24h`},
		{"a bad check interval is not hinted 0", nil, []string{"--check-interval", "abc", "a"}, `--check-interval: "abc": want a duration from 10ms to 24h, such as 2s`},
		{"a check interval above a day", map[string]string{"TINIT_CHECK_INTERVAL": "48h"}, []string{"a"}, "TINIT_CHECK_INTERVAL"},
		{"drain + grace that overflows", nil, []string{"--drain", "1s", "--grace", "2562047h47m16s", "a"}, `--grace: "2562047h47m16s": want a duration from 0 (SIGKILL at once) to 24h`},
		{"a drain above a day", map[string]string{"TINIT_DRAIN": "25h"}, []string{"a"}, `TINIT_DRAIN: "25h"`},
		{"a backoff above a day", nil, []string{"--backoff", "25h", "a"}, `--backoff: "25h": want a duration from 0 (restart at once) to 24h`},
		{"a backoff-max above a day", nil, []string{"--backoff-max", "1000h", "a"}, `--backoff-max: "1000h"`},
		{"a backoff-reset above a day", map[string]string{"TINIT_BACKOFF_RESET": "48h"}, []string{"a"}, "TINIT_BACKOFF_RESET"},
		{"a restart window above a year", nil, []string{"--restart-window", "8761h", "a"}, "--restart-window"},
		{"a restart window above a year, from its variable", map[string]string{"TINIT_RESTART_WINDOW": "9000h"}, []string{"a"}, "TINIT_RESTART_WINDOW"},
		{"a check-fail-after above a day", nil, []string{"--check-fail-after", "25h", "a"}, "--check-fail-after"},
		{"a check-start-period above a day", map[string]string{"TINIT_CHECK_START_PERIOD": "25h"}, []string{"a"}, "TINIT_CHECK_START_PERIOD"},
		{"a negative check-start-period", nil, []string{"--check-start-period", "-1s", "a"}, "--check-start-period"},
		{"an empty --stop-signals", nil, []string{"--stop-signals", "", "a"}, `--stop-signals: "": no signal: want at least one`},
		{"a --stop-signals of commas", nil, []string{"--stop-signals", " , ", "a"}, "--stop-signals"},
		{"a TINIT_STOP_SIGNALS of commas and spaces", map[string]string{"TINIT_STOP_SIGNALS": " ,, "}, []string{"a"}, "TINIT_STOP_SIGNALS"},
		{"a TINIT_REWRITE of commas", map[string]string{"TINIT_REWRITE": ","}, []string{"a"}, `TINIT_REWRITE: ",": an empty list`},
		{"a TINIT_EXPECT_EXIT of commas", map[string]string{"TINIT_EXPECT_EXIT": " , "}, []string{"a"}, "TINIT_EXPECT_EXIT"},
		{"-p ALRM while the heartbeat runs", nil, []string{"-p", "ALRM", "--health-addr", ":8081", "a"}, `-p "ALRM": SIGALRM is the heartbeat's tick while the heartbeat runs (1s by default with --health-addr)`},
		{"ALRM as a stop signal with --heartbeat", nil, []string{"--stop-signals", "TERM,ALRM", "--heartbeat", "2s", "a"}, `--stop-signals "ALRM": SIGALRM is the heartbeat's tick while the heartbeat runs (--heartbeat 2s)`},
		{"ALRM rewritten while the heartbeat runs", map[string]string{"TINIT_HEALTH_ADDR": ":8081"}, []string{"--rewrite", "ALRM:USR1", "a"}, "give --heartbeat 0"},
		{"TINIT_PARENT_DEATH_SIGNAL=14 with TINIT_HEARTBEAT", map[string]string{"TINIT_PARENT_DEATH_SIGNAL": "14", "TINIT_HEARTBEAT": "1s"}, []string{"a"}, "TINIT_PARENT_DEATH_SIGNAL"},
		{"--install with an empty directory", nil, []string{"--install", ""}, `--install "": want the directory`},
		{"--install= with nothing", nil, []string{"--install="}, "--install"},
		{"--install with a PROGRAM after --", nil, []string{"--install", "/tmp", "--", "prog"}, `--install copies tinit and exits: PROGRAM "prog" would never run`},
		{"--install with a PROGRAM", nil, []string{"--install", "/tmp", "prog"}, "PROGRAM"},
		{"--check-http on port 0", nil, []string{"--health-addr", ":8080", "--check-http", "http://127.0.0.1:0/", "a"}, `--check-http "http://127.0.0.1:0/": want a port from 1 to 65535`},
		{"--check-http on port 99999", map[string]string{"TINIT_HEALTH_ADDR": ":8080", "TINIT_CHECK_HTTP": "http://x:99999/"}, []string{"a"}, `TINIT_CHECK_HTTP "http://x:99999/": want a port`},
		{"a huge signal number", nil, []string{"-p", "99999999999999999999", "a"}, "out of range"},
		{"a stop signal number out of range", nil, []string{"--stop-signals", "TERM,65", "a"}, "out of range"},
		{"-s=true", nil, []string{"-s=true", "a"}, `"-s=true": a short flag takes no "=": give -s alone, or --subreaper=true`},
		{"-p=KILL", nil, []string{"-p=KILL", "a"}, `"-p=KILL": a short flag takes no "=": give -p SIGNAL, -pSIGNAL or --parent-death-signal=SIGNAL`},
		{"-v=3", nil, []string{"-v=3", "a"}, `give -v alone`},
		{"= after the last switch of a cluster", nil, []string{"-sw=1", "a"}, `"-sw=1": a short flag takes no "=": give -w alone`},
		{"a relative --termination-log", nil, []string{"--termination-log", "log/term", "a"}, `--termination-log: "log/term": want an absolute path`},
		{"a relative TINIT_TERMINATION_LOG", map[string]string{"TINIT_TERMINATION_LOG": "term.log"}, []string{"a"}, "TINIT_TERMINATION_LOG"},
		{"an empty --termination-log", nil, []string{"--termination-log", "", "a"}, "--termination-log"},
		{"bad drain", map[string]string{"TINIT_DRAIN": "5"}, []string{"a"}, "TINIT_DRAIN"},
		{"bad restart policy", nil, []string{"--restart", "sometimes", "a"}, "never, on-failure or always"},
		{"bad restart variable", map[string]string{"TINIT_RESTART": "yes"}, []string{"a"}, "TINIT_RESTART"},
		{"duration without a unit", nil, []string{"--grace", "8", "a"}, "--grace"},
		{"negative duration", map[string]string{"TINIT_BACKOFF": "-1s"}, []string{"a"}, "TINIT_BACKOFF"},
		{"backoff-max below backoff", nil, []string{"--backoff", "2s", "--backoff-max", "1s", "a"}, "--backoff-max"},
		{"negative max restarts", nil, []string{"--max-restarts", "-1", "a"}, "--max-restarts"},
		{"unknown stop signal", nil, []string{"--stop-signals", "TERM,NOPE", "a"}, "--stop-signals"},
		{"SIGCHLD as a stop signal", map[string]string{"TINIT_STOP_SIGNALS": "CHLD"}, []string{"a"}, "never forwarded"},
		{"--wait-timeout without --wait-for", nil, []string{"--wait-timeout", "5s", "a"}, "--wait-timeout: needs --wait-for (TINIT_WAIT_FOR)"},
		{"TINIT_WAIT_ON_RESTART without --wait-for", map[string]string{"TINIT_WAIT_ON_RESTART": "1"}, []string{"a"}, "TINIT_WAIT_ON_RESTART: needs --wait-for"},
		{"a bad --wait-timeout", nil, []string{"--wait-for", "tcp://127.0.0.1:5432", "--wait-timeout", "5", "a"}, `--wait-timeout: "5"`},
		{"an https --wait-for", nil, []string{"--wait-for", "https://db:443/", "a"}, `--wait-for: "https://db:443/": https is not supported (tinit carries no TLS)`},
		{"an unknown --wait-for scheme", map[string]string{"TINIT_WAIT_FOR": "ftp://x"}, []string{"a"}, `TINIT_WAIT_FOR: "ftp://x": want tcp://HOST:PORT`},
		{"--reload-on a missing path", nil, []string{"--reload-on", "/nonexistent/tinit.conf", "a"}, `--reload-on: "/nonexistent/tinit.conf": no such file or directory`},
		{"TINIT_RELOAD_ON a missing path", map[string]string{"TINIT_RELOAD_ON": "/etc,/nonexistent"}, []string{"a"}, `TINIT_RELOAD_ON: "/nonexistent"`},
		{"--reload-signal without --reload-on", nil, []string{"--reload-signal", "USR1", "a"}, "--reload-signal: needs --reload-on (TINIT_RELOAD_ON)"},
		{"TINIT_RELOAD_DEBOUNCE without --reload-on", map[string]string{"TINIT_RELOAD_DEBOUNCE": "2s"}, []string{"a"}, "TINIT_RELOAD_DEBOUNCE: needs --reload-on"},
		{"an unknown --reload-signal", nil, []string{"--reload-on", "/etc", "--reload-signal", "reload", "a"}, "--reload-signal"},
		{"a job-control --reload-signal", nil, []string{"--reload-on", "/etc", "--reload-signal", "TSTP", "a"}, "--reload-signal: SIGTSTP is job control"},
		{"SIGKILL as --reload-signal", nil, []string{"--reload-on", "/etc", "--reload-signal", "KILL", "a"}, "--reload-signal: SIGKILL cannot be sent"},
		{"a stop signal as --restart-signal", nil, []string{"--restart-signal", "TERM", "a"}, "--restart-signal: SIGTERM is a stop signal"},
		{"a custom stop signal as --restart-signal", map[string]string{"TINIT_STOP_SIGNALS": "TERM,USR2"}, []string{"--restart-signal", "USR2", "a"}, "--restart-signal: SIGUSR2 is a stop signal"},
		{"TSTP as --restart-signal", map[string]string{"TINIT_RESTART_SIGNAL": "TSTP"}, []string{"a"}, "TINIT_RESTART_SIGNAL: SIGTSTP is job control"},
		{"CONT as --restart-signal", nil, []string{"--restart-signal", "CONT", "a"}, "--restart-signal: SIGCONT is job control"},
		{"CHLD as --restart-signal", nil, []string{"--restart-signal", "CHLD", "a"}, "--restart-signal: SIGCHLD never reaches"},
		{"ALRM as --restart-signal with the heartbeat", nil, []string{"--health-addr", ":8081", "--restart-signal", "ALRM", "a"}, "SIGALRM is the heartbeat's tick"},
		{"a stop signal as --reload-signal", nil, []string{"--reload-on", "/etc", "--reload-signal", "TERM", "a"}, "--reload-signal: SIGTERM is a stop signal"},
		{"the default --reload-signal when HUP is a stop signal", map[string]string{"TINIT_STOP_SIGNALS": "TERM,HUP"}, []string{"--reload-on", "/etc", "a"}, "--reload-signal (TINIT_RELOAD_SIGNAL), by default: SIGHUP is a stop signal"},
		{"--restart-signal also rewritten", nil, []string{"--rewrite", "USR2:USR1", "--restart-signal", "USR2", "a"}, "--restart-signal: --rewrite maps SIGUSR2 too"},
		{"--restart-signal also the parent-death signal", nil, []string{"-p", "USR2", "--restart-signal", "USR2", "a"}, "--restart-signal: SIGUSR2 is also --parent-death-signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := loadWith(t, tt.env, tt.args...)
			if len(errs) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(errs), errs)
			}
			msg := errs[0].Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line containing %q", msg, tt.want)
			}
		})
	}
}

func TestEveryProblemIsReported(t *testing.T) {
	_, errs := loadWith(t, map[string]string{"TINIT_LOG_FORMAT": "xml"}, "-e", "999", "--rewrite", "X:Y", "prog")
	if len(errs) != 3 {
		t.Fatalf("got %v, want 3 errors", errs)
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(*settings) bool
	}{
		{"group by default", nil, []string{"a"}, func(s *settings) bool { return s.Group }},
		{"TINIT_SINGLE_CHILD turns the group off", map[string]string{"TINIT_SINGLE_CHILD": "true"}, []string{"a"}, func(s *settings) bool { return !s.Group }},
		{"-g wins over TINIT_SINGLE_CHILD", map[string]string{"TINIT_SINGLE_CHILD": "true"}, []string{"-g", "a"}, func(s *settings) bool { return s.Group }},
		{"--single-child=false wins over the variable", map[string]string{"TINIT_SINGLE_CHILD": "1"}, []string{"--single-child=false", "a"}, func(s *settings) bool { return s.Group }},
		{"rewrite flag replaces the variable's list", map[string]string{"TINIT_REWRITE": "HUP:0,USR1:USR2"}, []string{"--rewrite", "TERM:QUIT", "a"}, func(s *settings) bool {
			return len(s.Rewrite) == 1 && s.Rewrite[unix.SIGTERM] == unix.SIGQUIT
		}},
		{"rewrite variable is a comma list", map[string]string{"TINIT_REWRITE": "HUP:0, USR1:USR2"}, []string{"a"}, func(s *settings) bool {
			return len(s.Rewrite) == 2 && s.Rewrite[unix.SIGHUP] == 0 && s.Rewrite[unix.SIGUSR1] == unix.SIGUSR2
		}},
		{"-e and --remap-exit build one map", nil, []string{"-e", "143", "-e", "1", "--remap-exit", "3:4", "a"}, func(s *settings) bool {
			return len(s.ExitMap) == 3 && s.ExitMap.Apply(143) == 0 && s.ExitMap.Apply(3) == 4
		}},
		{"TINIT_EXPECT_EXIT is a comma list", map[string]string{"TINIT_EXPECT_EXIT": "143,130"}, []string{"a"}, func(s *settings) bool {
			return s.ExitMap.Apply(130) == 0 && s.ExitMap.Apply(143) == 0
		}},
		{"subreaper is automatic", nil, []string{"a"}, func(s *settings) bool { return s.subreaper == nil }},
		{"TINI_SUBREAPER set means on", map[string]string{"TINI_SUBREAPER": ""}, []string{"a"}, func(s *settings) bool { return s.subreaper != nil && *s.subreaper }},
		{"--subreaper=false turns it off", map[string]string{"TINI_SUBREAPER": "1"}, []string{"--subreaper=false", "a"}, func(s *settings) bool { return s.subreaper != nil && !*s.subreaper }},
		{"warn level by default", nil, []string{"a"}, func(s *settings) bool { return s.level == logrus.WarnLevel }},
		{"-vv is debug", nil, []string{"-vv", "a"}, func(s *settings) bool { return s.level == logrus.DebugLevel }},
		{"-vvvvv stops at trace", nil, []string{"-vvvvv", "a"}, func(s *settings) bool { return s.level == logrus.TraceLevel }},
		{"-v wins over TINIT_LOG_LEVEL", map[string]string{"TINIT_LOG_LEVEL": "error"}, []string{"-v", "a"}, func(s *settings) bool { return s.level == logrus.InfoLevel }},
		{"--log-level wins over -v", nil, []string{"-v", "--log-level", "error", "a"}, func(s *settings) bool { return s.level == logrus.ErrorLevel }},
		{"TINI_VERBOSITY 2 is info, as in tini", map[string]string{"TINI_VERBOSITY": "2"}, []string{"a"}, func(s *settings) bool { return s.level == logrus.InfoLevel }},
		{"TINIT_LOG_LEVEL wins over TINI_VERBOSITY", map[string]string{"TINI_VERBOSITY": "3", "TINIT_LOG_LEVEL": "debug"}, []string{"a"}, func(s *settings) bool { return s.level == logrus.DebugLevel }},
		{"json format", map[string]string{"TINIT_LOG_FORMAT": "json"}, []string{"a"}, func(s *settings) bool { return s.json }},
		{"-p takes a name", nil, []string{"-p", "SIGKILL", "a"}, func(s *settings) bool { return s.pdeathsig == unix.SIGKILL }},
		{"restart defaults", nil, []string{"a"}, func(s *settings) bool {
			r := s.Restart
			return r.Policy == supervise.RestartNever && r.Backoff == 100*time.Millisecond && r.BackoffMax == 30*time.Second &&
				r.BackoffReset == 10*time.Second && r.MaxRestarts == 0 && r.Window == 0 && s.Grace == 8*time.Second &&
				len(s.StopSignals) == 3 && s.StopSignals[unix.SIGTERM] && s.StopSignals[unix.SIGINT] && s.StopSignals[unix.SIGQUIT]
		}},
		{"restart settings from variables", map[string]string{
			"TINIT_RESTART": "on-failure", "TINIT_BACKOFF": "1ms", "TINIT_BACKOFF_MAX": "1s", "TINIT_BACKOFF_RESET": "1m",
			"TINIT_MAX_RESTARTS": "5", "TINIT_RESTART_WINDOW": "1h", "TINIT_GRACE": "0", "TINIT_TERMINATION_LOG": "/dev/termination-log",
		}, []string{"a"}, func(s *settings) bool {
			r := s.Restart
			return r.Policy == supervise.RestartOnFailure && r.Backoff == time.Millisecond && r.BackoffMax == time.Second &&
				r.BackoffReset == time.Minute && r.MaxRestarts == 5 && r.Window == time.Hour && s.Grace == 0 &&
				s.termLog == "/dev/termination-log"
		}},
		{"--restart wins over TINIT_RESTART", map[string]string{"TINIT_RESTART": "always"}, []string{"--restart", "never", "a"}, func(s *settings) bool {
			return s.Restart.Policy == supervise.RestartNever
		}},
		{"stop signals are a comma list", map[string]string{"TINIT_STOP_SIGNALS": "TERM, USR2"}, []string{"a"}, func(s *settings) bool {
			return len(s.StopSignals) == 2 && s.StopSignals[unix.SIGTERM] && s.StopSignals[unix.SIGUSR2]
		}},
		{"health defaults: no endpoint, so no heartbeat, no drain", nil, []string{"a"}, func(s *settings) bool {
			return s.Heartbeat == 0 && s.health.src == "" && s.Drain == 0 && s.checks.Interval == 2*time.Second
		}},
		{"the heartbeat is 1s with a health endpoint", nil, []string{"--health-addr", ":8081", "a"}, func(s *settings) bool {
			return s.Heartbeat == time.Second
		}},
		{"the heartbeat is 1s with TINIT_HEALTH_ADDR", map[string]string{"TINIT_HEALTH_ADDR": ":8081"}, []string{"a"}, func(s *settings) bool {
			return s.Heartbeat == time.Second
		}},
		{"an explicit heartbeat wins without an endpoint", nil, []string{"--heartbeat", "2s", "a"}, func(s *settings) bool {
			return s.Heartbeat == 2*time.Second
		}},
		{"an explicit heartbeat 0 wins with an endpoint", nil, []string{"--heartbeat", "0", "--health-addr", ":8081", "a"}, func(s *settings) bool {
			return s.Heartbeat == 0
		}},
		{"a relative --check-file is taken from the starting directory", nil,
			[]string{"--health-addr", ":8081", "--check-file", "ready", "--termination-log", "/var/log/term", "a"}, func(s *settings) bool {
				wd, _ := os.Getwd()
				return s.checks.File[0] == filepath.Join(wd, "ready") && s.termLog == "/var/log/term"
			}},
		{"-p ' TERM ' and -p '15 ' are the same signal", nil, []string{"-p", " TERM ", "a"}, func(s *settings) bool { return s.pdeathsig == unix.SIGTERM }},
		{"-p '15 ' is SIGTERM", nil, []string{"-p", "15 ", "a"}, func(s *settings) bool { return s.pdeathsig == unix.SIGTERM }},
		{"-p ALRM without the heartbeat", nil, []string{"-p", "ALRM", "a"}, func(s *settings) bool { return s.pdeathsig == unix.SIGALRM }},
		{"ALRM everywhere with --heartbeat 0 and an endpoint", nil, []string{"-p", "ALRM", "--stop-signals", "ALRM", "--rewrite", "ALRM:TERM", "--health-addr", ":8081", "--heartbeat", "0", "a"}, func(s *settings) bool {
			return s.pdeathsig == unix.SIGALRM && s.StopSignals[unix.SIGALRM] && s.Rewrite[unix.SIGALRM] == unix.SIGTERM && s.Heartbeat == 0
		}},
		{"the limits themselves are accepted", nil, []string{"--heartbeat", "24h", "--check-interval", "10ms", "--drain", "24h", "--grace", "24h",
			"--backoff", "24h", "--backoff-max", "24h", "--backoff-reset", "24h", "--restart-window", "168h", "--check-fail-after", "24h", "a"}, func(s *settings) bool {
			return s.Heartbeat == 24*time.Hour && s.checks.Interval == 10*time.Millisecond && s.Drain+s.Grace == 48*time.Hour
		}},
		{"the smallest heartbeat is 10ms", nil, []string{"--heartbeat", "10ms", "a"}, func(s *settings) bool { return s.Heartbeat == 10*time.Millisecond }},
		{"an empty TINIT_STOP_SIGNALS is unset", map[string]string{"TINIT_STOP_SIGNALS": ""}, []string{"a"}, func(s *settings) bool { return len(s.StopSignals) == 3 }},
		{"--install DIR with nothing after --", nil, []string{"--install", "/tmp", "--"}, func(s *settings) bool { return s.mode == "install" && s.installDir == "/tmp" }},
		{"health settings from variables", map[string]string{
			"TINIT_HEALTH_ADDR": ":8081", "TINIT_CHECK_TCP": "127.0.0.1:80,127.0.0.1:81", "TINIT_CHECK_FILE": "/tmp/ok",
			"TINIT_CHECK_INTERVAL": "500ms", "TINIT_CHECK_FAIL_AFTER": "30s", "TINIT_DRAIN": "5s", "TINIT_HEARTBEAT": "0",
		}, []string{"a"}, func(s *settings) bool {
			return s.health.vals[0] == ":8081" && s.health.src == "TINIT_HEALTH_ADDR" && len(s.checks.TCP) == 2 &&
				len(s.checks.File) == 1 && s.checks.Interval == 500*time.Millisecond && s.checks.FailAfter == 30*time.Second &&
				s.Drain == 5*time.Second && s.Heartbeat == 0
		}},
		{"--healthcheck needs no PROGRAM and ignores other settings", map[string]string{"TINIT_RESTART": "bogus", "TINIT_HEALTH_ADDR": ":9"}, []string{"--healthcheck"}, func(s *settings) bool {
			return s.mode == "healthcheck" && s.health.vals[0] == ":9"
		}},
		{"--help needs no PROGRAM", nil, []string{"--help"}, func(s *settings) bool { return s.mode == "help" }},
		{"--version needs no PROGRAM", nil, []string{"--version"}, func(s *settings) bool { return s.mode == "version" }},
		{"--version alone prints text", nil, []string{"--version"}, func(s *settings) bool { return !s.asJSON }},
		{"--version --json prints JSON", nil, []string{"--version", "--json"}, func(s *settings) bool { return s.mode == "version" && s.asJSON }},
		{"--json may come first", nil, []string{"--json", "--version"}, func(s *settings) bool { return s.mode == "version" && s.asJSON }},
		{"--version --json ignores PROGRAM and bad variables", map[string]string{"TINIT_RESTART": "bogus"}, []string{"--version", "--json", "--", "a"}, func(s *settings) bool {
			return s.mode == "version" && s.asJSON
		}},
		{"an app's own LOG_LEVEL, REWRITE and RESTART are not tinit's", map[string]string{"LOG_LEVEL": "verbose", "REWRITE": "x", "RESTART": "always", "SINGLE_CHILD": "true"}, []string{"a"}, func(s *settings) bool {
			return s.level == logrus.WarnLevel && s.Rewrite == nil && s.Restart.Policy == supervise.RestartNever && s.Group
		}},
		{"an empty variable is unset", map[string]string{"TINIT_SINGLE_CHILD": "", "TINIT_GRACE": " ", "TINIT_RESTART": ""}, []string{"a"}, func(s *settings) bool {
			return s.Group && s.Grace == 8*time.Second
		}},
		{"-c is --single-child", nil, []string{"-c", "a"}, func(s *settings) bool { return !s.Group }},
		{"DUMB_INIT_SETSID=0 is --single-child", map[string]string{"DUMB_INIT_SETSID": "0"}, []string{"a"}, func(s *settings) bool { return !s.Group }},
		{"DUMB_INIT_SETSID=1 is the group", map[string]string{"DUMB_INIT_SETSID": "1"}, []string{"a"}, func(s *settings) bool { return s.Group }},
		{"TINIT_SINGLE_CHILD wins over DUMB_INIT_SETSID", map[string]string{"DUMB_INIT_SETSID": "0", "TINIT_SINGLE_CHILD": "false"}, []string{"a"}, func(s *settings) bool { return s.Group }},
		{"-g wins over DUMB_INIT_SETSID=0", map[string]string{"DUMB_INIT_SETSID": "0"}, []string{"-g", "a"}, func(s *settings) bool { return s.Group }},
		{"TINI_KILL_PROCESS_GROUP does not outvote TINIT_SINGLE_CHILD", map[string]string{"TINI_KILL_PROCESS_GROUP": "1", "TINIT_SINGLE_CHILD": "1"}, []string{"a"}, func(s *settings) bool { return !s.Group }},
		{"an empty DUMB_INIT_SETSID is unset", map[string]string{"DUMB_INIT_SETSID": ""}, []string{"a"}, func(s *settings) bool { return s.Group }},
		{"-r 15:3 rewrites TERM to QUIT", nil, []string{"-r", "15:3", "a"}, func(s *settings) bool { return s.Rewrite[unix.SIGTERM] == unix.SIGQUIT }},
		{"DUMB_INIT_DEBUG=1 is debug", map[string]string{"DUMB_INIT_DEBUG": "1"}, []string{"a"}, func(s *settings) bool { return s.level == logrus.DebugLevel }},
		{"DUMB_INIT_DEBUG=0 is the default", map[string]string{"DUMB_INIT_DEBUG": "0"}, []string{"a"}, func(s *settings) bool { return s.level == logrus.WarnLevel }},
		{"TINI_VERBOSITY wins over DUMB_INIT_DEBUG", map[string]string{"DUMB_INIT_DEBUG": "1", "TINI_VERBOSITY": "2"}, []string{"a"}, func(s *settings) bool { return s.level == logrus.InfoLevel }},
		{"-v wins over DUMB_INIT_DEBUG", map[string]string{"DUMB_INIT_DEBUG": "1"}, []string{"-v", "a"}, func(s *settings) bool { return s.level == logrus.InfoLevel }},
		{"-V is --version", nil, []string{"-V"}, func(s *settings) bool { return s.mode == "version" }},
		{"-l prints the licence", nil, []string{"-l"}, func(s *settings) bool { return s.mode == "license" }},
		{"TINI_VERBOSITY 1, tini's default, is warn", map[string]string{"TINI_VERBOSITY": "1"}, []string{"a"}, func(s *settings) bool { return s.level == logrus.WarnLevel }},
		{"-v: a bad TINI_VERBOSITY is not read", map[string]string{"TINI_VERBOSITY": "abc", "DUMB_INIT_DEBUG": "2"}, []string{"-v", "a"}, func(s *settings) bool { return s.level == logrus.InfoLevel }},
		{"-g: a bad DUMB_INIT_SETSID is not read", map[string]string{"DUMB_INIT_SETSID": "bogus"}, []string{"-g", "a"}, func(s *settings) bool { return s.Group }},
		{"a boolean twice in two spellings is once", nil, []string{"-c", "--single-child=1", "a"}, func(s *settings) bool { return !s.Group }},
		{"the same rewrite twice is once, as in dumb-init", nil, []string{"-r", "15:3", "-r", "15:3", "a"}, func(s *settings) bool { return s.Rewrite[unix.SIGTERM] == unix.SIGQUIT }},
		{"--single-child twice is once", nil, []string{"--single-child", "-c", "a"}, func(s *settings) bool { return !s.Group }},
		{"--notify and its settings", nil, []string{"--notify", "--notify-access", "main", "--notify-timeout", "1m", "--notify-watchdog", "30s", "--notify-socket", "/run/n", "a"}, func(s *settings) bool {
			return s.Notify == supervise.Notify{On: true, MainOnly: true, Timeout: time.Minute, Watchdog: 30 * time.Second} && s.notifySocket.vals[0] == "/run/n"
		}},
		{"notify is off by default, the socket abstract", nil, []string{"a"}, func(s *settings) bool { return s.Notify == supervise.Notify{} && s.notifySocket.src == "" }},
		{"TINIT_NOTIFY with the defaults", map[string]string{"TINIT_NOTIFY": "true"}, []string{"a"}, func(s *settings) bool { return s.Notify == supervise.Notify{On: true} }},
		{"a variable cannot select a mode", map[string]string{"TINIT_VERSION": "1", "TINIT_HELP": "1", "TINIT_JSON": "1"}, []string{"a"}, func(s *settings) bool { return s.mode == "" }},
		{"--wait-for and its settings", nil, []string{"--wait-for", "tcp://127.0.0.1:5432", "--wait-for", "file:ready", "--wait-timeout", "1m", "--wait-on-restart", "a"}, func(s *settings) bool {
			return len(s.waitTargets) == 2 && s.waitTargets[0].String() == "tcp://127.0.0.1:5432" && s.Wait.Timeout == time.Minute && s.Wait.OnRestart
		}},
		{"TINIT_WAIT_FOR is comma-separated", map[string]string{"TINIT_WAIT_FOR": "tcp://db:5432, http://127.0.0.1:15021/healthz/ready"}, []string{"a"}, func(s *settings) bool {
			return len(s.waitTargets) == 2 && s.waitTargets[1].String() == "http://127.0.0.1:15021/healthz/ready" && s.waitFor.src == "TINIT_WAIT_FOR"
		}},
		{"--reload-on and its defaults", nil, []string{"--reload-on", "/etc", "a"}, func(s *settings) bool {
			return s.reloadOn.vals[0] == "/etc" && s.reloadDebounce == time.Second && s.Reload == supervise.Reload{On: true, Signal: unix.SIGHUP}
		}},
		{"--reload-signal restart", map[string]string{"TINIT_RELOAD_ON": "/etc", "TINIT_RELOAD_SIGNAL": "restart", "TINIT_RELOAD_DEBOUNCE": "250ms"}, []string{"a"}, func(s *settings) bool {
			return s.Reload == supervise.Reload{On: true, Restart: true} && s.reloadDebounce == 250*time.Millisecond
		}},
		{"--reload-signal USR1", nil, []string{"--reload-on", "/etc", "--reload-signal", "SIGUSR1", "a"}, func(s *settings) bool {
			return s.Reload == supervise.Reload{On: true, Signal: unix.SIGUSR1}
		}},
		{"ALRM as --reload-signal with the heartbeat (tinit sends it)", nil, []string{"--health-addr", ":8081", "--reload-on", "/etc", "--reload-signal", "ALRM", "a"}, func(s *settings) bool {
			return s.Reload.Signal == unix.SIGALRM && s.Heartbeat > 0
		}},
		{"--restart-signal alone", nil, []string{"--restart-signal", "USR2", "a"}, func(s *settings) bool {
			return s.Reload.On && s.Reload.RestartSignal == unix.SIGUSR2 && s.reloadOn.src == ""
		}},
		{"a relative --reload-on is taken from the working directory", nil, []string{"--reload-on", ".", "a"}, func(s *settings) bool {
			wd, _ := os.Getwd()
			return s.reloadOn.vals[0] == wd
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, errs := loadWith(t, tt.env, tt.args...)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !tt.check(s) {
				t.Fatalf("settings %+v", *s)
			}
		})
	}
}

// FuzzParse feeds arbitrary command lines and TINIT_* (and TINI_*)
// variables to the whole parser. The input is the arguments, NUL-separated,
// then optionally "\x01" and the variables as NUL-separated NAME=VALUE.
// For any input, validate either yields settings that hold (sane(), so
// nothing tinit computes from them overflows) or reports problems, each
// one non-empty line; it never panics. (A value given twice is two
// problems, so the same line may come twice.)
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"-svvg\x00--\x00sh", "-pKILL\x00a", "--rewrite=TERM:QUIT\x00a", "-e\x00143\x00a",
		"--remap-exit\x001:2\x00a", "--log-level\x00debug\x00a", "-", "--", "-p", "--rewrite=RTMIN+3:0\x00x",
		"-s=true\x00a", "--install\x00\x00--\x00p", "--stop-signals\x00\x00a", "-p\x00ALRM\x00a\x01TINIT_HEALTH_ADDR=:80",
		"--drain\x001s\x00--grace\x002562047h47m16s\x00a", "--heartbeat\x001000000h\x00a",
		"a\x01TINIT_STOP_SIGNALS=,\x00TINIT_CHECK_INTERVAL=1ns\x00TINIT_TERMINATION_LOG=rel",
		"a\x01TINIT_HEALTH_ADDR=:1\x00TINIT_CHECK_HTTP=http://x:0/\x00TINI_VERBOSITY=9\x00TINIT_BACKOFF_MAX=24h",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		argPart, envPart, _ := strings.Cut(in, "\x01")
		args := strings.Split(argPart, "\x00")
		env := map[string]string{}
		if envPart != "" {
			for _, kv := range strings.Split(envPart, "\x00") {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
		cl, err := parseArgs(args)
		if err != nil {
			checkOneLine(t, err)
			return
		}
		st, errs := validate(cl, env)
		for _, err := range errs {
			checkOneLine(t, err)
		}
		if len(errs) == 0 {
			if msg := sane(st); msg != "" {
				t.Fatalf("%q with %q: accepted, but %s: %+v", args, env, msg, *st)
			}
		}
	})
}

// sane says what is wrong with settings validate accepted, or "".
func sane(s *settings) string {
	switch s.mode {
	case "help", "version", "license", "healthcheck":
		return ""
	case "install":
		if strings.TrimSpace(s.installDir) == "" || len(s.Argv) > 0 {
			return "--install without a directory or with a PROGRAM"
		}
		return ""
	}
	r := s.Restart
	for name, d := range map[string]time.Duration{
		"backoff": r.Backoff, "backoff-max": r.BackoffMax, "backoff-reset": r.BackoffReset,
		"restart-window": r.Window, "grace": s.Grace, "heartbeat": s.Heartbeat, "drain": s.Drain,
		"check-interval": s.checks.Interval, "check-fail-after": s.checks.FailAfter,
		"check-start-period": s.checks.StartPeriod,
	} {
		limit := maxDuration
		if name == "restart-window" {
			limit = maxWindow
		}
		if d < 0 || d > limit {
			return fmt.Sprintf("--%s %v is outside 0 to %v", name, d, limit)
		}
	}
	const maxInt64 = time.Duration(1<<63 - 1)
	switch {
	case s.Heartbeat != 0 && s.Heartbeat < minHeartbeat:
		return "the heartbeat is below its minimum"
	case s.Heartbeat > maxInt64/3:
		return "3 x heartbeat overflows"
	case s.checks.Interval < minCheckInterval:
		return "the check interval is below its minimum"
	case s.Drain > maxInt64-s.Grace:
		return "drain + grace overflows"
	case r.BackoffMax > maxInt64/2:
		return "doubling the backoff overflows"
	case r.BackoffMax < r.Backoff:
		return "backoff-max is below backoff"
	case len(s.StopSignals) == 0:
		return "no stop signal"
	case s.termLog != "" && !filepath.IsAbs(s.termLog):
		return "a relative termination log"
	case len(s.Argv) == 0:
		return "no PROGRAM"
	case s.Heartbeat > 0 && (s.pdeathsig == unix.SIGALRM || s.StopSignals[unix.SIGALRM] || hasSignal(s.Rewrite, unix.SIGALRM)):
		return "SIGALRM is used while the heartbeat runs"
	}
	return ""
}

func hasSignal(r map[unix.Signal]unix.Signal, sig unix.Signal) bool { _, ok := r[sig]; return ok }

func checkOneLine(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if msg == "" || strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error %q is not one non-empty line", msg)
	}
}

// TestOnlySetVariablesAreRead checks readEnv with none of the options
// table's variables set, and with some: set but empty is still set, as
// envconfig reads it (pick then takes an empty variable for unset).
func TestOnlySetVariablesAreRead(t *testing.T) {
	unsetAll := func(t *testing.T) {
		for _, name := range variables() {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Run("none set reads nothing", func(t *testing.T) {
		unsetAll(t)
		env, err := readEnv()
		if err != nil || len(env) != 0 {
			t.Fatalf("readEnv gave %v, %v; want nothing", env, err)
		}
	})
	t.Run("a variable set to nothing is read as empty, beside one with a value", func(t *testing.T) {
		unsetAll(t)
		t.Setenv("TINIT_LOG_LEVEL", "")
		t.Setenv("TINI_SUBREAPER", "1")
		env, err := readEnv()
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := env["TINIT_LOG_LEVEL"]; len(env) != 2 || !ok || v != "" || env["TINI_SUBREAPER"] != "1" {
			t.Fatalf("readEnv gave %v; want TINIT_LOG_LEVEL empty and TINI_SUBREAPER 1", env)
		}
	})
}

// TestEveryVariableIsRead sets each variable the options table names in
// turn and checks that readEnv, through envconfig, reads it, and only it.
func TestEveryVariableIsRead(t *testing.T) {
	for _, name := range variables() {
		t.Run(name, func(t *testing.T) {
			for _, other := range variables() {
				t.Setenv(other, "")
				os.Unsetenv(other)
			}
			t.Setenv(name, "x")
			env, err := readEnv()
			if err != nil {
				t.Fatal(err)
			}
			if len(env) != 1 || env[name] != "x" {
				t.Errorf("%s=x: readEnv gave %v", name, env)
			}
		})
	}
}
