package main_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// forkToTheLimit forks until fork fails, says how many it made, and exits
// 0 on SIGTERM (its children die of it: the whole group gets it).
const forkToTheLimit = `$| = 1;
$SIG{TERM} = sub { exit 0 };
my $n = 0;
while (defined(my $p = fork())) {
	if (!$p) { $SIG{TERM} = 'DEFAULT'; sleep 1000; exit 0 }
	$n++;
}
print "forked $n\n";
sleep 1000;
`

// TestNoThreadLeftToCreate runs tinit as PID 1 where the child uses up
// every process slot there is, while the health endpoint is busy and
// SIGTERM arrives: tinit must never need a thread it cannot get. Without
// the threads reserved at start, the Go runtime aborted tinit ("failed to
// create new OS thread", exit 2) in 2 of 15 runs like these.
func TestNoThreadLeftToCreate(t *testing.T) {
	requireNamespace(t)
	for _, tool := range []string{"perl", "setpriv", "prlimit"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, tool+" is needed (perl-base, util-linux)")
		}
	}
	// The uid must reach the binary: the suite's directory is root's alone.
	if err := os.Chmod(filepath.Dir(tinitBin), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("RLIMIT_NPROC 60 as uid 65532", func(t *testing.T) {
		limitRuns(t, func(port int) []string {
			return append(asPID1[:len(asPID1):len(asPID1)],
				"setpriv", "--reuid", "65532", "--regid", "65532", "--clear-groups",
				"prlimit", "--nproc=60", "--",
				tinitBin, "-vvv", "--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--", "perl", "-e", forkToTheLimit)
		})
	})
	t.Run("a pids cgroup of 60, as root", func(t *testing.T) {
		procs := pidsCgroup(t, 60)
		limitRuns(t, func(port int) []string {
			// The shell joins the cgroup, then becomes unshare: everything
			// below it is counted.
			return []string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, procs,
				"unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
				tinitBin, "-vvv", "--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--", "perl", "-e", forkToTheLimit}
		})
	})
}

// pidsCgroup makes a pids cgroup (v1 or v2) limited to max and returns its
// cgroup.procs file; it is removed when the test ends.
func pidsCgroup(t *testing.T, max int) string {
	t.Helper()
	var root string
	switch {
	case fileExists("/sys/fs/cgroup/pids/cgroup.procs"):
		root = "/sys/fs/cgroup/pids"
	case strings.Contains(readFile("/sys/fs/cgroup/cgroup.controllers"), "pids"):
		root = "/sys/fs/cgroup"
	default:
		unavailable(t, "no pids cgroup controller under /sys/fs/cgroup")
	}
	dir := filepath.Join(root, fmt.Sprintf("tinit-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		unavailable(t, fmt.Sprintf("cannot make a pids cgroup: %v", err))
	}
	t.Cleanup(func() {
		// Its processes are gone once the runs have ended; retry briefly
		// while the last ones are reaped.
		waitFor(5*time.Second, func() bool { return os.Remove(dir) == nil })
	})
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(fmt.Sprint(max)), 0o644); err != nil {
		t.Fatalf("set pids.max: %v", err)
	}
	return filepath.Join(dir, "cgroup.procs")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

// limitRuns starts tinit with argv(port) again and again: the child forks
// to the limit, 30 requests hit /metrics, SIGTERM arrives; tinit must exit
// with the child's code, 0, and no runtime fatal error, every time.
func limitRuns(t *testing.T, argv func(port int) []string) {
	t.Helper()
	runs := scale(20, 100)
	for i := 0; i < runs; i++ {
		port := freePort(t)
		r := startWrapped(t, nil, argv(port), nil)
		if got := r.line(20 * time.Second); !strings.HasPrefix(got, "forked ") {
			t.Fatalf("run %d: the child said %q; stderr:\n%s", i, got, tail(r.stderr.String(), 20))
		}
		// The endpoint busy while the signal comes: 30 requests at once.
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 2 * time.Second}
		for j := 0; j < 30; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); err == nil {
					resp.Body.Close()
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		r.signal(syscall.SIGTERM)
		code := r.exitCode(20 * time.Second)
		wg.Wait()
		if code != 0 || strings.Contains(r.stderr.String(), "fatal error") {
			t.Fatalf("run %d of %d: exit %d, want 0 (the child's); stderr:\n%s", i+1, runs, code, tail(r.stderr.String(), 40))
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
