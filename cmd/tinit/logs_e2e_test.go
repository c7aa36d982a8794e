package main_test

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// milliTime is RFC 3339 with exactly three decimals, as tinit writes it.
var milliTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`)

// textLine is one line of the text format: the marker, then logrus's
// fields with the time first.
var textLine = regexp.MustCompile(`^tinit: time="([^"]+)" level=(trace|debug|info|warning|error) msg=`)

// verboseRun runs a child that logs most of what tinit logs: a start, an
// orphan reaped, a forwarded signal, a crash and a restart, the restart
// limit, the exit. It returns tinit's stderr, which the child leaves
// alone.
func verboseRun(t *testing.T, format string) string {
	t.Helper()
	r := startTinit(t, nil, "-vv", "--log-format", format, "--restart", "on-failure", "--max-restarts", "1", "--backoff", "10ms", "--",
		"/bin/sh", "-c", `(sleep 0.05 &); echo ready; sleep 0.5; exit 3`)
	if got := r.line(10 * time.Second); got != "ready" {
		t.Fatalf("child said %q", got)
	}
	r.signal(syscall.SIGWINCH) // its default is to ignore: nobody writes to stderr
	if got := r.exitCode(20 * time.Second); got != 3 {
		t.Fatalf("exit %d, want 3", got)
	}
	return r.stderr.String()
}

func TestEveryLogLineIsMarked(t *testing.T) {
	t.Run("text", func(t *testing.T) {
		out := verboseRun(t, "text")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) < 6 {
			t.Fatalf("only %d lines:\n%s", len(lines), out)
		}
		for _, line := range lines {
			m := textLine.FindStringSubmatch(line)
			if m == nil || !milliTime.MatchString(m[1]) {
				t.Errorf("not a tinit line with a millisecond time: %q", line)
			}
			if strings.Contains(line, "goroutines=") {
				t.Errorf("an internal field: %q", line)
			}
		}
		if !strings.Contains(out, "signal=SIGWINCH") {
			t.Errorf("no line with the forwarded signal as a field:\n%s", out)
		}
	})
	t.Run("json", func(t *testing.T) {
		out := verboseRun(t, "json")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) < 6 {
			t.Fatalf("only %d lines:\n%s", len(lines), out)
		}
		var signal, restarts bool
		for _, line := range lines {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Errorf("not JSON: %q: %v", line, err)
				continue
			}
			if e["logger"] != "tinit" {
				t.Errorf(`no "logger":"tinit": %q`, line)
			}
			if ts, _ := e["time"].(string); !milliTime.MatchString(ts) {
				t.Errorf("time %q: want RFC 3339 with milliseconds: %q", ts, line)
			}
			if _, ok := e["goroutines"]; ok {
				t.Errorf("an internal field: %q", line)
			}
			signal = signal || e["signal"] == "SIGWINCH"
			_, ok := e["restarts"]
			restarts = restarts || ok
		}
		if !signal || !restarts {
			t.Errorf("want a line with \"signal\":\"SIGWINCH\" and one with \"restarts\":\n%s", out)
		}
	})
}

func TestJSONUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"a bad value", nil, []string{"--log-format", "json", "--grace", "5", "--", "true"}, "--grace"},
		{"an unknown flag after --log-format json", nil, []string{"--log-format=json", "--nope", "true"}, "--nope"},
		{"TINIT_LOG_FORMAT=json and a bad variable", []string{"TINIT_LOG_FORMAT=json", "DUMB_INIT_SETSID=2"}, []string{"true"}, "DUMB_INIT_SETSID"},
		{"an unknown flag before --log-format json", nil, []string{"--bogus", "--log-format", "json", "--", "true"}, "--bogus"},
		{"--install with --log-format json", nil, []string{"--log-format", "json", "--install", ""}, "--install"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startTinit(t, tt.env, tt.args...)
			if got := r.exitCode(10 * time.Second); got != 2 {
				t.Fatalf("exit %d, want 2", got)
			}
			out := strings.TrimSpace(r.stderr.String())
			for _, line := range strings.Split(out, "\n") {
				var e map[string]any
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("not JSON: %q: %v", line, err)
				}
				msg, _ := e["msg"].(string)
				if e["logger"] != "tinit" || e["level"] != "error" || !strings.Contains(msg, tt.want) {
					t.Errorf("line %q: want an error naming %s", line, tt.want)
				}
			}
		})
	}
	t.Run("--help stays text", func(t *testing.T) {
		out, err := exec.Command(tinitBin, "--log-format", "json", "--help").Output()
		if err != nil || !strings.HasPrefix(string(out), "Usage: tinit") {
			t.Fatalf("%v: %q", err, out)
		}
	})
}

func TestDropInModes(t *testing.T) {
	out := func(args ...string) string {
		t.Helper()
		b, err := exec.Command(tinitBin, args...).Output()
		if err != nil {
			t.Fatalf("tinit %v: %v", args, err)
		}
		return string(b)
	}
	if v, V := out("--version"), out("-V"); v != V {
		t.Errorf("-V printed %q, --version %q", V, v)
	}
	if l := out("-l"); !strings.Contains(l, "Apache License, Version 2.0") {
		t.Errorf("-l printed %q", l)
	}
}
