package signals

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// caught returns the signals this process has a handler for, from SigCgt
// in /proc/self/status.
func caught(t *testing.T) map[unix.Signal]bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(line, "SigCgt:\t"); ok {
			mask, err := strconv.ParseUint(hex, 16, 64)
			if err != nil {
				t.Fatalf("SigCgt %q: %v", hex, err)
			}
			m := map[unix.Signal]bool{}
			for n := 1; n <= 64; n++ {
				m[unix.Signal(n)] = mask&(1<<(n-1)) != 0
			}
			return m
		}
	}
	t.Fatal("no SigCgt in /proc/self/status")
	return nil
}

// TestRegisterCatchesEverySignalTinitHandles reads the handlers back from
// the kernel: every signal Classify does not call Unhandled is caught once
// Register returns, and nothing else but the runtime's own SIGURG.
func TestRegisterCatchesEverySignalTinitHandles(t *testing.T) {
	c := Register()
	got := caught(t)
	kept := map[unix.Signal]bool{}
	for _, sig := range c.KeptIgnored {
		kept[sig] = true
	}
	for n := 1; n <= RTMax; n++ {
		sig := unix.Signal(n)
		// The runtime's own handlers: SIGURG (preemption), SIGPROF
		// (profiling) and 33 (AllThreadsSyscall): caught, never ours.
		runtimes := sig == unix.SIGURG || sig == unix.SIGPROF || sig == 33
		want := (Classify(sig) != Unhandled && !kept[sig]) || runtimes
		if got[sig] != want {
			t.Errorf("%s (%d): caught %v, want %v", Name(sig), n, got[sig], want)
		}
	}
}
