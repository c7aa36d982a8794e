package main_test

// End-to-end tests of the faults of issue 19: each test names the item of
// the issue it covers, and says what a user saw before the fix.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Item 1: a --notify failure gives the child's group the stop signal once.
// Before the fix the group had SIGTERM from the failure, then a second one
// from the drain (--restart never) or from the restart (on-failure).
func TestNotifyFailureStopsTheGroupOnce(t *testing.T) {
	for _, tt := range []struct {
		name     string
		flags    []string
		children int // main children started, each with its worker
	}{
		{"with --restart never, the worker in the group of a child not ready by --notify-timeout gets one SIGTERM and none from the drain",
			[]string{"--restart", "never"}, 1},
		{"with --restart on-failure, the worker in the group of a child not ready by --notify-timeout gets one SIGTERM and none from the restart",
			[]string{"--restart", "on-failure", "--max-restarts", "1", "--backoff", "10ms"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// Each main child starts a count-term worker in its group (it
			// records every SIGTERM and exits 0.5 s after the first), with
			// files named by the child's pid, and never sends READY=1. Its
			// shell exits 0 on the SIGTERM: a failure all the same.
			script := fmt.Sprintf(`trap "exit 0" TERM; %[1]s %[2]s/terms.$$ %[2]s/ready.$$ &
while [ ! -e %[2]s/ready.$$ ]; do sleep 0.01; done; echo ready; while :; do sleep 0.02; done`, selfBin, dir)
			// --grace well past the worker's 0.5 s: no SIGKILL in the way.
			args := append([]string{"--notify", "--notify-timeout", "1s", "--grace", "5s"}, tt.flags...)
			r := startTinit(t, []string{helperEnv + "=count-term"}, append(args, "--", "/bin/sh", "-c", script)...)
			code := r.exitCode(30 * time.Second)
			terms, _ := filepath.Glob(filepath.Join(dir, "terms.*"))
			ready, _ := filepath.Glob(filepath.Join(dir, "ready.*"))
			got := map[string]int{}
			bad := code != 1 || len(terms) != tt.children
			for _, f := range terms {
				n := len(lines(f))
				got[strings.TrimPrefix(filepath.Base(f), "terms.")] = n
				bad = bad || n != 1
			}
			if bad {
				t.Fatalf("exit %d; SIGTERMs per worker, by its main child's pid: %v (%d workers ready); want exit 1 and %d workers with exactly 1 SIGTERM each; stderr:\n%s",
					code, got, len(ready), tt.children, r.stderr)
			}
		})
	}
}
