package supervise

import (
	"maps"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/signals"
)

// TestLogLinesCarryTheirDataAsFields checks the fields of the lines a
// user filters on: the names the package doc lists, and nothing internal.
func TestLogLinesCarryTheirDataAsFields(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []func(*Config)
		event func(h *harness)
		level logrus.Level
		msg   string
		want  logrus.Fields
	}{
		{
			name:  "a rewritten signal names what came and what was sent",
			opts:  []func(*Config){func(c *Config) { c.Rewrite = signals.Rewrite{unix.SIGHUP: unix.SIGUSR1} }},
			event: func(h *harness) { h.m.onSignal(unix.SIGHUP) },
			level: logrus.DebugLevel,
			msg:   "forwarded to the main child's group",
			want:  logrus.Fields{"signal": "SIGHUP", "to": "SIGUSR1", "pid": 100},
		},
		{
			name:  "a signal forwarded as itself has no to",
			opts:  []func(*Config){singleChild},
			event: func(h *harness) { h.m.onSignal(unix.SIGUSR2) },
			level: logrus.DebugLevel,
			msg:   "forwarded to the main child",
			want:  logrus.Fields{"signal": "SIGUSR2", "pid": 100},
		},
		{
			name:  "a stop signal under --drain names the signal and the delay",
			opts:  []func(*Config){withDrain},
			event: func(h *harness) { h.m.onSignal(unix.SIGTERM) },
			level: logrus.InfoLevel,
			msg:   "stop signal: not ready, forwarding it after --drain",
			want:  logrus.Fields{"signal": "SIGTERM", "delay": "2s"},
		},
		{
			name:  "the restart warning has the code, the restart and the delay, and no goroutine count",
			opts:  []func(*Config){restartOnFailure},
			event: func(h *harness) { h.ops.exit(100, 3); h.m.onChild() },
			level: logrus.WarnLevel,
			msg:   "main child exited 3: restarting (--restart on-failure)",
			want:  logrus.Fields{"code": 3, "restarts": 1, "delay": "100ms"},
		},
		{
			name:  "a child killed by a signal: its exit names the signal",
			event: func(h *harness) { h.ops.exit(100, -int(unix.SIGSEGV)); h.m.onChild() },
			level: logrus.InfoLevel,
			msg:   "main child was killed by SIGSEGV after 0s",
			want:  logrus.Fields{"pid": 100, "code": 139, "signal": "SIGSEGV"},
		},
		{
			name:  "the next child's start counts the restart",
			opts:  []func(*Config){restartOnFailure},
			event: func(h *harness) { h.ops.exit(100, 3); h.m.onChild(); h.advance() },
			level: logrus.InfoLevel,
			msg:   `started "app"`,
			want:  logrus.Fields{"pid": 200, "foreground": true, "restarts": 1},
		},
		{
			name:  "the end of the grace period names SIGKILL, the group and the grace",
			event: func(h *harness) { h.m.onSignal(unix.SIGTERM); h.advance() },
			level: logrus.WarnLevel,
			msg:   "grace period after SIGTERM is over: killing the main child's group",
			want:  logrus.Fields{"signal": "SIGKILL", "group": 100, "grace": "8s"},
		},
		{
			name:  "the crashed group's SIGTERM names the signal, the group and the grace",
			opts:  []func(*Config){restartOnFailure},
			event: func(h *harness) { h.ops.alive[150] = 100; h.ops.exit(100, 1); h.m.onChild() },
			level: logrus.InfoLevel,
			msg:   "stopping the crashed child's group; restarting once it is empty, SIGKILL after the grace period",
			want:  logrus.Fields{"signal": "SIGTERM", "group": 100, "grace": "8s"},
		},
		{
			name:  "a stop signal while restarting names the signal",
			opts:  []func(*Config){restartOnFailure},
			event: func(h *harness) { h.ops.exit(100, 1); h.m.onChild(); h.m.onSignal(unix.SIGINT) },
			level: logrus.InfoLevel,
			msg:   "stop signal while restarting: no new child; exiting",
			want:  logrus.Fields{"signal": "SIGINT"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, tc.opts...)
			hook := logtest.NewLocal(h.m.log)
			tc.event(h)
			var got []string
			for _, e := range hook.AllEntries() {
				if e.Message != tc.msg {
					got = append(got, e.Message)
					continue
				}
				if e.Level != tc.level {
					t.Errorf("%q at level %v, want %v", tc.msg, e.Level, tc.level)
				}
				if !maps.Equal(e.Data, tc.want) {
					t.Errorf("%q has fields %v, want %v", tc.msg, e.Data, tc.want)
				}
				return
			}
			t.Fatalf("no line %q; lines: %q", tc.msg, got)
		})
	}
}
