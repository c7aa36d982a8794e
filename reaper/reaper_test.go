package reaper

import (
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startChild starts argv without any Wait: Reap must be the one that
// collects it.
func startChild(t *testing.T, argv ...string) int {
	t.Helper()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	return pid
}

// reapUntil calls Reap until every pid in want has been collected, or
// fails after a bounded wait.
func reapUntil(t *testing.T, want map[int]bool) map[int]unix.WaitStatus {
	t.Helper()
	got := map[int]unix.WaitStatus{}
	deadline := time.After(10 * time.Second)
	var buf []Exit
	for len(got) < len(want) {
		var err error
		buf, _, err = Reap(buf[:0])
		if err != nil {
			t.Fatalf("Reap: %v", err)
		}
		for _, e := range buf {
			if want[e.Pid] {
				got[e.Pid] = e.Status
			}
		}
		select {
		case <-deadline:
			t.Fatalf("reaped %d of %d children before the deadline", len(got), len(want))
		case <-time.After(5 * time.Millisecond):
		}
	}
	return got
}

func TestReapCollectsExitStatusAndSignal(t *testing.T) {
	exited := startChild(t, "/bin/sh", "-c", "exit 7")
	killed := startChild(t, "/bin/sh", "-c", "kill -TERM $$")
	got := reapUntil(t, map[int]bool{exited: true, killed: true})
	if ws := got[exited]; !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("exit 7 child: status %#x", ws)
	}
	if ws := got[killed]; !ws.Signaled() || ws.Signal() != unix.SIGTERM {
		t.Errorf("self-killed child: status %#x", ws)
	}
}

func TestReapCollectsManyExitsInOneSweep(t *testing.T) {
	want := map[int]bool{}
	for i := 0; i < 50; i++ {
		want[startChild(t, "/bin/true")] = true
	}
	// Let them all exit before the first sweep: one sweep must see them all,
	// as after a burst of coalesced SIGCHLDs.
	time.Sleep(300 * time.Millisecond)
	buf, left, err := Reap(nil)
	if err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if left {
		t.Error("Reap says children are left after all of them exited")
	}
	n := 0
	for _, e := range buf {
		if want[e.Pid] {
			n++
		}
	}
	if n != len(want) {
		t.Fatalf("one sweep reaped %d of %d exited children", n, len(want))
	}
}

func TestReapDoesNotBlockOnLiveChildren(t *testing.T) {
	pid := startChild(t, "/bin/sleep", "5")
	t.Cleanup(func() {
		unix.Kill(pid, unix.SIGKILL)
		reapUntil(t, map[int]bool{pid: true})
	})
	done := make(chan error, 1)
	left := make(chan bool, 1)
	go func() { _, l, err := Reap(nil); left <- l; done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Reap: %v", err)
		}
		if !<-left {
			t.Error("Reap says no children are left while one is running")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Reap blocked while a child was still running")
	}
}

func TestReapWithNoChildrenReturnsNothing(t *testing.T) {
	buf, left, err := Reap(nil)
	if err != nil || len(buf) != 0 || left {
		t.Fatalf("Reap with no children = %v, %v, %v", buf, left, err)
	}
}

func TestReapStopsWhenTheBufferIsFullAndNeverGrowsIt(t *testing.T) {
	want := map[int]bool{}
	for i := 0; i < 20; i++ {
		want[startChild(t, "/bin/true")] = true
	}
	time.Sleep(300 * time.Millisecond)
	buf := make([]Exit, 0, 8)
	got := 0
	for batch := 0; ; batch++ {
		out, left, err := Reap(buf[:0])
		if err != nil {
			t.Fatalf("Reap: %v", err)
		}
		if len(out) > 0 && &out[0] != &buf[:1][0] {
			t.Fatal("Reap grew the buffer instead of stopping when it was full")
		}
		for _, e := range out {
			if want[e.Pid] {
				got++
			}
		}
		if len(out) == cap(buf) && !left {
			t.Error("a full batch says nothing is left: the caller would stop early")
		}
		if len(out) < cap(buf) {
			break
		}
		if batch > 10 {
			t.Fatal("Reap keeps returning full batches")
		}
	}
	if got != len(want) {
		t.Fatalf("batches of 8 reaped %d of %d exited children", got, len(want))
	}
}

// TestReapReportsStopsAndContinues: a SIGCONT from anyone (not only from
// tinit) is reported once, and the child is still there to be reaped.
func TestReapReportsStopsAndContinues(t *testing.T) {
	pid := startChild(t, "/bin/sleep", "30")
	next := func(what string, is func(unix.WaitStatus) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		var buf []Exit
		for {
			var err error
			buf, _, err = Reap(buf[:0])
			if err != nil {
				t.Fatalf("Reap: %v", err)
			}
			for _, e := range buf {
				if e.Pid == pid && is(e.Status) {
					return
				}
			}
			select {
			case <-deadline:
				t.Fatalf("no %s report for pid %d", what, pid)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	unix.Kill(pid, unix.SIGSTOP)
	next("stopped", unix.WaitStatus.Stopped)
	unix.Kill(pid, unix.SIGCONT)
	next("continued", unix.WaitStatus.Continued)
	unix.Kill(pid, unix.SIGKILL)
	next("killed", unix.WaitStatus.Signaled)
}
