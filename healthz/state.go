package healthz

import (
	"sync"
	"time"
)

// Status is what the supervisor loop publishes. Only the loop writes it
// (through State.Update); HTTP handlers read copies.
type Status struct {
	// Phase is the supervisor's: "starting", "waiting" (for the
	// --wait-for targets, before the first start or, with
	// --wait-on-restart, a restart; /readyz names the targets awaited),
	// "running", "drain-window", "stopping", "killing", "restarting",
	// "backoff", "finishing", "done".
	Phase         string
	ChildUp       bool          // the main child is running
	ChildPid      int           // the main child's pid, 0 when none
	ChildStarted  time.Time     // when the current main child (the last one while none runs) started; zero before the first start
	Restarts      uint64        // times the main child was started again
	LastExitCode  int           // -1 before the main child has ever exited
	ZombiesReaped uint64        // children reaped other than main children
	Forwarded     [65]uint64    // forwarded count by signal number 1..64 (index 0 unused)
	Dropped       [65]uint64    // signals not forwarded because no main child ran (backoff, restarting, waiting), by number as Forwarded
	LastTick      time.Time     // last heartbeat tick, monotonic (time.Now())
	Heartbeat     time.Duration // 0: heartbeat off
	Stopping      bool          // a stop signal came, or the main child is gone for good: not ready

	// With --notify, the main child's own word (sd_notify).
	Notify       bool                // readiness waits for the current child's READY=1
	ChildReady   bool                // the current child sent READY=1, and no RELOADING=1 or STOPPING=1 since
	NotReadyWhy  string              // why the child is not ready, when Notify and !ChildReady
	AppStatus    string              // the current child's last STATUS=, "" for none
	Hung         string              // the watchdog fired for the current child: why; liveness fails until it exits
	NotifyCounts [NotifyKinds]uint64 // messages' keys by kind (NotifyReady...)
	Rejected     [RejectKinds]uint64 // datagrams dropped, by reason (RejectAccess...)
	WatchdogPing time.Time           // the current child's last WATCHDOG=1; zero: none

	// With --reload-on or --restart-signal.
	ReloadOn bool                                // either is configured: tinit_reloads_total has its series
	Reloads  [ReloadActions][ReloadCauses]uint64 // reloads done, by action (ReloadSignal...) and cause (ReloadCauseFile...)
}

// The actions a reload takes, the first index of Status.Reloads and the
// action label of tinit_reloads_total.
const (
	// ReloadSignal: --reload-signal sent to the main child's process group.
	ReloadSignal = iota
	// ReloadRestart: a graceful restart of the main child (--reload-signal
	// restart, or --restart-signal).
	ReloadRestart
	ReloadActions
)

var reloadActionNames = [ReloadActions]string{"signal", "restart"}

// What caused a reload, the second index of Status.Reloads and the cause
// label of tinit_reloads_total.
const (
	// ReloadCauseFile: a change under a --reload-on path.
	ReloadCauseFile = iota
	// ReloadCauseSignal: tinit received the --restart-signal.
	ReloadCauseSignal
	ReloadCauses
)

var reloadCauseNames = [ReloadCauses]string{"file", "signal"}

// The kinds of notify keys counted, indexes of Status.NotifyCounts, and
// the type label of tinit_notify_messages_total.
const (
	NotifyReady = iota
	NotifyReloading
	NotifyStopping
	NotifyStatus
	NotifyMainPID
	NotifyWatchdog
	NotifyUnknown
	NotifyKinds
)

var notifyKindNames = [NotifyKinds]string{"READY", "RELOADING", "STOPPING", "STATUS", "MAINPID", "WATCHDOG", "unknown"}

// The reasons a notify datagram is dropped, indexes of Status.Rejected,
// and the reason label of tinit_notify_rejected_total.
const (
	// RejectAccess: the sender is not one --notify-access allows, or has
	// exited by the time the datagram was read.
	RejectAccess = iota
	// RejectMalformed: not KEY=VALUE lines.
	RejectMalformed
	// RejectOversized: over 4096 bytes.
	RejectOversized
	// RejectFDs: more file descriptors passed than tinit takes (4).
	RejectFDs
	RejectKinds
)

var rejectNames = [RejectKinds]string{"access", "malformed", "oversized", "fds"}

// State guards the one Status the loop writes and the handlers read.
type State struct {
	mu sync.Mutex
	st Status
}

// NewState returns a State in phase "starting" with no exit seen yet.
func NewState() *State {
	return &State{st: Status{Phase: "starting", LastExitCode: -1}}
}

// Update runs f on the Status under the lock. The loop calls it on every
// event, so it takes a pointer and copies nothing: a closure that captures
// only locals stays on the caller's stack and the call does not allocate.
// f must be quick and must not call back into s.
func (s *State) Update(f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
}

// Snapshot returns a copy, so a slow HTTP client never holds the lock.
func (s *State) Snapshot() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Clock is the time source for heartbeat staleness and check failure
// durations, injected so tests can move time without sleeping.
type Clock interface{ Now() time.Time }

// systemClock is the real clock, used when a caller passes a nil Clock.
// Its readings carry the monotonic reading, so ages computed against a
// LastTick from time.Now do not jump when the wall clock is set.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func orSystem(c Clock) Clock {
	if c == nil {
		return systemClock{}
	}
	return c
}
