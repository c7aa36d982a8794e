package supervise

import (
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/signals"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		ws   unix.WaitStatus
		want int
	}{
		{"exit 0 is 0", 0, 0},
		{"exit 3 is 3", 3 << 8, 3},
		{"SIGTERM is 143", unix.WaitStatus(unix.SIGTERM), 143},
		{"SIGKILL is 137", unix.WaitStatus(unix.SIGKILL), 137},
		{"SIGSEGV with core is 139", unix.WaitStatus(unix.SIGSEGV) | 0x80, 139},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.ws); got != tt.want {
				t.Fatalf("ExitCode(%#x) = %d, want %d", tt.ws, got, tt.want)
			}
		})
	}
}

func TestExitMap(t *testing.T) {
	m := ExitMap{143: 0, 1: 7}
	for in, want := range map[int]int{143: 0, 1: 7, 2: 2, 0: 0} {
		if got := m.Apply(in); got != want {
			t.Errorf("Apply(%d) = %d, want %d", in, got, want)
		}
	}
}

// runLoop runs Run in-process with real children, bounded in time. The
// test feeds Other by hand; SIGCHLD comes from the kernel.
func runLoop(t *testing.T, cfg Config, other *signals.Pending) Result {
	t.Helper()
	child := make(chan os.Signal, 1)
	signal.Notify(child, unix.SIGCHLD)
	defer signal.Stop(child)
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg.Log = log
	cfg.Env = os.Environ()
	if cfg.Grace == 0 {
		cfg.Grace = time.Second
	}
	if cfg.StopSignals == nil {
		cfg.StopSignals = map[unix.Signal]bool{unix.SIGTERM: true, unix.SIGINT: true, unix.SIGQUIT: true}
	}
	done := make(chan Result, 1)
	go func() { done <- Run(cfg, Signals{Child: child, Other: other}) }()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s")
		return Result{}
	}
}

func TestRunReturnsTheChildsCode(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		emap ExitMap
		want int
	}{
		{"exit 0", []string{"/bin/sh", "-c", "exit 0"}, nil, 0},
		{"exit 3", []string{"sh", "-c", "exit 3"}, nil, 3},
		{"killed by TERM is 143", []string{"sh", "-c", "kill -TERM $$"}, nil, 143},
		{"143 remapped to 0", []string{"sh", "-c", "kill -TERM $$"}, ExitMap{143: 0}, 0},
		{"not found is 127", []string{"tinit-no-such-program"}, nil, 127},
		{"not executable is 126", []string{"/etc/passwd"}, nil, 126},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runLoop(t, Config{Argv: tt.argv, Group: true, ExitMap: tt.emap}, signals.NewPending()).Code
			if got != tt.want {
				t.Fatalf("Run(%v) = %d, want %d", tt.argv, got, tt.want)
			}
		})
	}
}

func TestRunForwardsAfterRewrite(t *testing.T) {
	other := signals.NewPending()
	ready := filepath.Join(t.TempDir(), "ready")
	// The child exits 0 on QUIT and 1 on TERM: only a rewrite gives 0. It
	// says when its traps are set, so a slow machine cannot race them.
	argv := []string{"sh", "-c", `trap 'exit 0' QUIT; trap 'exit 1' TERM; touch ` + ready + `; while :; do sleep 0.01; done`}
	go func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(ready); err == nil {
				break
			}
		}
		other.Add(unix.SIGTERM)
	}()
	cfg := Config{Argv: argv, Group: true, Rewrite: map[unix.Signal]unix.Signal{unix.SIGTERM: unix.SIGQUIT}}
	if got := runLoop(t, cfg, other).Code; got != 0 {
		t.Fatalf("TERM rewritten to QUIT: exit %d, want 0", got)
	}
}

// TestRestartsLeaveNoGoroutineBehind runs the real loop through hundreds
// of restarts of a real child: a goroutine left per restart would show as
// hundreds more after the long run than after the short one.
func TestRestartsLeaveNoGoroutineBehind(t *testing.T) {
	run := func(restarts int) int {
		t.Helper()
		cfg := Config{Argv: []string{"/bin/false"}, Group: true, Restart: Restart{
			Policy: RestartAlways, Backoff: time.Millisecond, BackoffMax: time.Millisecond, MaxRestarts: restarts,
		}}
		if res := runLoop(t, cfg, signals.NewPending()); res.Code != 1 || res.Restarts != restarts {
			t.Fatalf("exit %d after %d restarts, want 1 after %d", res.Code, res.Restarts, restarts)
		}
		return runtime.NumGoroutine()
	}
	// The first run starts what lives as long as the process (os/signal's
	// loop); both runs end with the same set.
	short := run(5)
	if long := run(300); long > short {
		t.Fatalf("%d goroutines after 300 restarts, %d after 5", long, short)
	}
}
