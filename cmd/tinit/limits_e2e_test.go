package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestTerminationLogOnAFIFONobodyReads(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "termination-log")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := startTinit(t, nil, "--termination-log", fifo, "--", "/bin/sh", "-c", "exit 7")
	if code := r.exitCode(10 * time.Second); code != 7 {
		t.Fatalf("exit %d, want the child's 7; stderr: %s", code, r.stderr)
	}
	// Promptly: the open does not wait for a reader, and the log's flush
	// is the only wait left (it is bounded at 1 s and here returns at once).
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("tinit took %v to exit", d)
	}
	if msg := r.stderr.String(); !strings.Contains(msg, "level=warning") || !strings.Contains(msg, fifo+" is a FIFO nobody reads") {
		t.Fatalf("stderr %q: want a warning naming the FIFO", msg)
	}
}

func TestTerminationLogOnAFIFOWithAReader(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "termination-log")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	rd, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	r := startTinit(t, nil, "--termination-log", fifo, "--", "/bin/sh", "-c", "exit 7")
	if code := r.exitCode(10 * time.Second); code != 7 {
		t.Fatalf("exit %d; stderr: %s", code, r.stderr)
	}
	buf := make([]byte, 256)
	rd.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := rd.Read(buf)
	if got := string(buf[:n]); !strings.HasPrefix(got, "tinit exit 7: ") || strings.Count(got, "\n") != 1 {
		t.Fatalf("the reader got %q: want tinit's one line", got)
	}
}

func TestLowFileLimitIsOneLine(t *testing.T) {
	requireNamespace(t)
	for _, n := range []int{3, 4, 5, 6} {
		t.Run(fmt.Sprintf("RLIMIT_NOFILE %d is exit 2 and one line", n), func(t *testing.T) {
			// The shell lowers the limit and execs tinit as PID 1: a
			// dynamically linked unshare could not load at 3.
			r := startWrapped(t, nil, append(asPID1[:len(asPID1):len(asPID1)], "/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" -- /bin/true`, n), tinitBin), nil)
			if code := r.exitCode(10 * time.Second); code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, r.stderr)
			}
			msg := strings.TrimSpace(r.stderr.String())
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "RLIMIT_NOFILE") {
				t.Fatalf("stderr %q: want one line naming RLIMIT_NOFILE", msg)
			}
		})
	}
	t.Run("RLIMIT_NOFILE 7 is enough", func(t *testing.T) {
		r := startWrapped(t, nil, append(asPID1[:len(asPID1):len(asPID1)], "/bin/sh", "-c", `ulimit -n 7 && exec "$0" -- /bin/sh -c "exit 3"`, tinitBin), nil)
		if code := r.exitCode(10 * time.Second); code != 3 {
			t.Fatalf("exit %d, want the child's 3; stderr: %s", code, r.stderr)
		}
	})
}

func TestInstallRefusesNonsense(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"--install", ""}, {"--install", dir, "--", "/bin/true"}} {
		cmd := exec.Command(tinitBin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if code := exitCodeOf(t, err); code != 2 || !strings.Contains(string(out), "--install") {
			t.Errorf("tinit %q: exit %d, %q; want 2 and a line naming --install", args, code, out)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("something was written: %v", ents)
	}
}
