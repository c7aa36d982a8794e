package main_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMainStackGrowsBeforeAnyOtherInit checks that package mainstack's
// init runs right after the runtime's own, before any other package's.
// Later, the main goroutine's stack has already been copied from deep in
// some init, and tinit's RSS keeps the 64 KiB blocks of the runtime's
// tables that the copies read (384 KiB at the time; docs/performance.md).
// Go orders inits by import path, each package once its imports are
// initialized: an import added to mainstack breaks the order, and so would
// a new dependency that imports nothing and sorts before it.
func TestMainStackGrowsBeforeAnyOtherInit(t *testing.T) {
	cmd := exec.Command(tinitBin, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tinit --version: %v\n%s", err, out)
	}
	// "init PKG @0.25 ms, ...", one line per package with an init, in the
	// order they ran; the runtime's own come first, ending with runtime.
	var inits []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "init" && strings.HasPrefix(f[2], "@") {
			inits = append(inits, f[1])
		}
	}
	const want = "github.com/tinit/tinit/cmd/tinit/internal/mainstack"
	for i, pkg := range inits {
		if pkg != "runtime" {
			continue
		}
		if i+1 >= len(inits) || inits[i+1] != want {
			t.Fatalf("after the runtime, the first init to run was not %s:\n%s", want, strings.Join(inits[i+1:], "\n"))
		}
		return
	}
	t.Fatalf("no init of package runtime in GODEBUG=inittrace=1's output:\n%s", out)
}
