package healthz

import (
	"testing"
	"time"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// t0 is an arbitrary instant the fake clocks start from.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestNewStateIsStartingWithNoExitYet(t *testing.T) {
	s := NewState().Snapshot()
	if s.Phase != "starting" || s.LastExitCode != -1 || s.ChildUp {
		t.Errorf("new state: phase %q, last exit %d, child up %v; want starting, -1, false", s.Phase, s.LastExitCode, s.ChildUp)
	}
}

func TestSnapshotIsACopyTheHandlersCannotChange(t *testing.T) {
	st := NewState()
	snap := st.Snapshot()
	snap.Restarts = 99
	snap.Forwarded[15] = 7
	if got := st.Snapshot(); got.Restarts != 0 || got.Forwarded[15] != 0 {
		t.Errorf("changing a snapshot changed the state: restarts %d, forwarded[15] %d", got.Restarts, got.Forwarded[15])
	}
}

func TestUpdateDoesNotAllocateOnTheLoopsHotPath(t *testing.T) {
	st := NewState()
	sig, pid := 15, 42
	allocs := testing.AllocsPerRun(1000, func() {
		st.Update(func(s *Status) {
			s.Forwarded[sig]++
			s.ChildPid = pid
			s.LastTick = t0
		})
	})
	if allocs != 0 {
		t.Errorf("Update allocates %v times per call, want 0", allocs)
	}
	if got := st.Snapshot().Forwarded[15]; got == 0 {
		t.Error("Update did not run f")
	}
}
