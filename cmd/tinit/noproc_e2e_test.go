package main_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWithoutProcTheChildsGroupIsDrained runs tinit, not as PID 1, where
// /proc is not mounted: leftovers cannot be listed, so the main child's
// group at least must get the SIGTERM, or what stayed there goes on
// running under the host's init once tinit exits.
func TestWithoutProcTheChildsGroupIsDrained(t *testing.T) {
	requireNamespace(t)
	if _, err := exec.LookPath("sleep"); err != nil {
		unavailable(t, "sleep is needed")
	}
	// The sleep's marker is unique, so the check below finds only it.
	marker := "1000.123"
	script := `umount -l /proc && exec ` + tinitBin + ` --grace 5s -- /bin/sh -c "sleep ` + marker + ` & echo started; exit 0"`
	r := startWrapped(t, nil, []string{"unshare", "--mount", "/bin/sh", "-c", script}, nil)
	if got := r.line(10 * time.Second); got != "started" {
		t.Fatalf("the child said %q; stderr: %s", got, r.stderr)
	}
	start := time.Now()
	if code := r.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("exit %d, want 0; stderr: %s", code, r.stderr)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("tinit took %v to exit: the sleep did not get SIGTERM, only the 5s grace ended it", took.Round(time.Millisecond))
	}
	if pid := findCmdline("sleep\x00" + marker); pid != 0 {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("the child's sleep (pid %d) outlived tinit; stderr: %s", pid, r.stderr)
	}
}

// findCmdline returns the pid of a process whose command line starts with
// prefix (arguments separated by NUL), or 0.
func findCmdline(prefix string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.HasPrefix(string(b), prefix) {
			return pid
		}
	}
	return 0
}
