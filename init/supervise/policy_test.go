package supervise

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func exited(code int) unix.WaitStatus        { return unix.WaitStatus(code << 8) }
func killedBy(s unix.Signal) unix.WaitStatus { return unix.WaitStatus(s) }

func TestWantsRestart(t *testing.T) {
	none := func(unix.Signal) bool { return false }
	sentHUP := func(s unix.Signal) bool { return s == unix.SIGHUP }
	tests := []struct {
		name   string
		policy RestartPolicy
		ws     unix.WaitStatus
		sent   func(unix.Signal) bool
		want   bool
	}{
		{"never restarts a crash under never", RestartNever, exited(1), none, false},
		{"on-failure restarts a non-zero exit", RestartOnFailure, exited(5), none, true},
		{"on-failure leaves exit 0 alone", RestartOnFailure, exited(0), none, false},
		{"on-failure restarts a segfault", RestartOnFailure, killedBy(unix.SIGSEGV), none, true},
		{"on-failure leaves a death by a forwarded signal alone", RestartOnFailure, killedBy(unix.SIGHUP), sentHUP, false},
		{"always restarts exit 0", RestartAlways, exited(0), none, true},
		{"always restarts a death by a forwarded signal", RestartAlways, killedBy(unix.SIGHUP), sentHUP, true},
		{"always never restarts SIGINT", RestartAlways, killedBy(unix.SIGINT), none, false},
		{"on-failure never restarts SIGINT", RestartOnFailure, killedBy(unix.SIGINT), none, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Restart{Policy: tt.policy}
			if got := r.wantsRestart(tt.ws, tt.sent); got != tt.want {
				t.Fatalf("wantsRestart = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackoffDoublesCapsAndResets(t *testing.T) {
	b := newBackoff(Restart{Backoff: 100 * time.Millisecond, BackoffMax: time.Second, BackoffReset: 10 * time.Second})
	now := time.Unix(0, 0)
	var got []time.Duration
	for i := 0; i < 6; i++ {
		got = append(got, b.schedule(now, time.Millisecond))
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
	if d := b.schedule(now, 10*time.Second); d != 100*time.Millisecond {
		t.Fatalf("after a stable run the delay is %v, want the first delay again", d)
	}
	if d := b.schedule(now, 0); d != 200*time.Millisecond {
		t.Fatalf("then %v, want it to double again", d)
	}
}

func TestBackoffZeroStaysZero(t *testing.T) {
	b := newBackoff(Restart{Backoff: 0, BackoffMax: time.Second, BackoffReset: time.Second})
	for i := 0; i < 3; i++ {
		if d := b.schedule(time.Unix(0, 0), 0); d != 0 {
			t.Fatalf("delay %v, want 0", d)
		}
	}
}

func TestRestartLimit(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t.Run("three restarts allowed, the fourth is refused", func(t *testing.T) {
		b := newBackoff(Restart{MaxRestarts: 3, BackoffMax: time.Second})
		for i := 0; i < 3; i++ {
			if b.limitReached(t0) {
				t.Fatalf("limit reached after %d restarts", i)
			}
			b.schedule(t0, 0)
		}
		if !b.limitReached(t0) {
			t.Fatal("limit not reached after 3 restarts")
		}
	})
	t.Run("restarts older than the window do not count", func(t *testing.T) {
		b := newBackoff(Restart{MaxRestarts: 2, Window: time.Minute, BackoffMax: time.Second})
		b.schedule(t0, 0)
		b.schedule(t0.Add(10*time.Second), 0)
		if !b.limitReached(t0.Add(30 * time.Second)) {
			t.Fatal("two restarts within a minute: limit should be reached")
		}
		if b.limitReached(t0.Add(65 * time.Second)) {
			t.Fatal("the first restart left the window: limit should be clear")
		}
	})
	t.Run("no limit by default", func(t *testing.T) {
		b := newBackoff(Restart{BackoffMax: time.Second})
		for i := 0; i < 100; i++ {
			b.schedule(t0, 0)
		}
		if b.limitReached(t0) || len(b.times) != 0 {
			t.Fatal("a limit applied with MaxRestarts 0")
		}
	})
}

func TestParseRestartPolicy(t *testing.T) {
	for _, s := range []string{"never", "on-failure", "always"} {
		p, err := ParseRestartPolicy(s)
		if err != nil || p.String() != s {
			t.Errorf("ParseRestartPolicy(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParseRestartPolicy("sometimes"); err == nil {
		t.Error("sometimes accepted")
	}
}
