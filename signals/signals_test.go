package signals

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want unix.Signal
	}{
		{"TERM", unix.SIGTERM},
		{"SIGTERM", unix.SIGTERM},
		{"sigterm", unix.SIGTERM},
		{"hup", unix.SIGHUP},
		{"15", unix.SIGTERM},
		{"9", unix.SIGKILL},
		{"IOT", unix.SIGABRT},
		{"SIGCLD", unix.SIGCHLD},
		{"RTMIN", 34},
		{"SIGRTMIN+3", 37},
		{"RTMAX", 64},
		{"RTMAX-2", 62},
		{"34", 34},
		{"64", 64},
		{" 15 ", unix.SIGTERM},
		{"15 ", unix.SIGTERM},
		{" TERM ", unix.SIGTERM},
		{"\tRTMIN+1\n", 35},
		{"+15", unix.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(tt.in+" parses", func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
	for _, huge := range []string{"99999999999999999999999", "-99999999999999999999999", "65", "1000", " 0 "} {
		t.Run(huge+" is out of range, not an unknown name", func(t *testing.T) {
			_, err := Parse(huge)
			if err == nil || !strings.Contains(err.Error(), "out of range") || strings.Contains(err.Error(), "unknown name") {
				t.Fatalf("Parse(%q): %v; want an out-of-range error", huge, err)
			}
		})
	}
	for _, bad := range []string{"", " ", "0", "32", "33", "65", "-1", "TERMS", "SIG", "RTMIN-1", "RTMAX+1", "RTMIN+31", "RTMIN+x", "1.5", "RTMIN++3", "RTMIN+-0", "RTMAX--1", "RTMIN+"} {
		t.Run(bad+" is rejected", func(t *testing.T) {
			if got, err := Parse(bad); err == nil {
				t.Fatalf("Parse(%q) = %d, want an error", bad, got)
			}
		})
	}
}

func TestNameRoundTrips(t *testing.T) {
	for n := 1; n <= RTMax; n++ {
		if !valid(n) {
			continue
		}
		name := Name(unix.Signal(n))
		got, err := Parse(name)
		if err != nil || got != unix.Signal(n) {
			t.Errorf("Parse(Name(%d)=%q) = %d, %v", n, name, got, err)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		sig  unix.Signal
		want Action
	}{
		{unix.SIGTERM, Forward},
		{unix.SIGINT, Forward},
		{unix.SIGHUP, Forward},
		{unix.SIGWINCH, Forward},
		{unix.SIGALRM, Forward},
		{unix.SIGABRT, Forward},
		{unix.SIGTSTP, Forward},
		{40, Forward},
		{unix.SIGCHLD, Reap},
		{unix.SIGURG, Unhandled},
		{unix.SIGKILL, Unhandled},
		{unix.SIGSTOP, Unhandled},
		{32, Unhandled},
		{33, Unhandled},
		{34, Unhandled},
		{35, Forward},
		{unix.SIGTTIN, Forward},
		{unix.SIGTTOU, Forward},
		{unix.SIGCONT, Forward},
		{unix.SIGSEGV, Forward},
		{unix.SIGBUS, Forward},
		{unix.SIGFPE, Forward},
		{unix.SIGILL, Forward},
		{unix.SIGTRAP, Forward},
		{unix.SIGSYS, Forward},
		{unix.SIGPROF, Unhandled},
		{unix.SIGPIPE, Drop},
	}
	for _, tt := range tests {
		if got := Classify(tt.sig); got != tt.want {
			t.Errorf("Classify(%s) = %d, want %d", Name(tt.sig), got, tt.want)
		}
	}
}

func TestParseRewrite(t *testing.T) {
	tests := []struct {
		in       string
		from, to unix.Signal
		wantErr  bool
	}{
		{in: "TERM:QUIT", from: unix.SIGTERM, to: unix.SIGQUIT},
		{in: "SIGUSR1:0", from: unix.SIGUSR1, to: 0},
		{in: "15:9", from: unix.SIGTERM, to: unix.SIGKILL},
		{in: "TERM:00", from: unix.SIGTERM, to: 0},
		{in: "TERM", wantErr: true},
		{in: "CHLD:TERM", wantErr: true},
		{in: "URG:TERM", wantErr: true},
		{in: "TTOU:TERM", from: unix.SIGTTOU, to: unix.SIGTERM},
		{in: "PIPE:TERM", wantErr: true},
		{in: "PROF:TERM", wantErr: true},
		{in: "RTMIN:TERM", wantErr: true},
		{in: "TERM:RTMIN", from: unix.SIGTERM, to: 34},
		{in: "TERM:NOPE", wantErr: true},
		{in: "TERM:", wantErr: true},
		{in: ":TERM", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			from, to, err := ParseRewrite(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseRewrite(%q) = %d:%d, want an error", tt.in, from, to)
				}
				return
			}
			if err != nil || from != tt.from || to != tt.to {
				t.Fatalf("ParseRewrite(%q) = %d:%d, %v; want %d:%d", tt.in, from, to, err, tt.from, tt.to)
			}
		})
	}
}

func TestRewriteApply(t *testing.T) {
	r := Rewrite{unix.SIGTERM: unix.SIGQUIT, unix.SIGUSR1: 0}
	for in, want := range map[unix.Signal]unix.Signal{
		unix.SIGTERM: unix.SIGQUIT, unix.SIGUSR1: 0, unix.SIGHUP: unix.SIGHUP,
	} {
		if got := r.Apply(in); got != want {
			t.Errorf("Apply(%s) = %d, want %d", Name(in), got, want)
		}
	}
}

func TestPendingCoalescesAndOrders(t *testing.T) {
	p := NewPending()
	for i := 0; i < 1000; i++ {
		p.Add(unix.SIGUSR1)
	}
	p.Add(unix.SIGTERM)
	p.Add(unix.SIGHUP)
	p.Add(64)
	p.Add(0)  // ignored
	p.Add(65) // ignored
	select {
	case <-p.Wake():
	default:
		t.Fatal("no wake-up after Add")
	}
	got := p.Take(nil)
	// In the order they came, each once.
	want := []unix.Signal{unix.SIGUSR1, unix.SIGTERM, unix.SIGHUP, 64}
	if len(got) != len(want) {
		t.Fatalf("Take = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Take = %v, want %v", got, want)
		}
	}
	if again := p.Take(nil); len(again) != 0 {
		t.Fatalf("Take after Take = %v, want nothing", again)
	}
}

func TestPendingKeepsArrivalOrderAcrossTakes(t *testing.T) {
	p := NewPending()
	p.Add(unix.SIGTERM)
	p.Add(unix.SIGQUIT)
	p.Add(unix.SIGTERM) // still pending: coalesces
	if got := p.Take(nil); len(got) != 2 || got[0] != unix.SIGTERM || got[1] != unix.SIGQUIT {
		t.Fatalf("Take = %v, want [SIGTERM SIGQUIT]", got)
	}
	p.Add(unix.SIGINT)
	p.Add(unix.SIGTERM) // taken already: counts again
	if got := p.Take(nil); len(got) != 2 || got[0] != unix.SIGINT || got[1] != unix.SIGTERM {
		t.Fatalf("Take = %v, want [SIGINT SIGTERM]", got)
	}
}

func TestSIGALRMFollowsTheHeartbeat(t *testing.T) {
	c := Register()
	defer c.Heartbeat(false)
	self := unix.Getpid()
	waitFor := func(what string, ch <-chan struct{}, alarm <-chan os.Signal) {
		t.Helper()
		select {
		case <-ch:
		case <-alarm:
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s within 5s", what)
		}
	}
	c.Heartbeat(true)
	unix.Kill(self, unix.SIGALRM)
	waitFor("tick", nil, c.Alarm)
	if got := c.Other.Take(nil); len(got) != 0 {
		t.Fatalf("SIGALRM reached the forwarded set with the heartbeat on: %v", got)
	}
	c.Heartbeat(false)
	unix.Kill(self, unix.SIGALRM)
	waitFor("pending SIGALRM", c.Other.Wake(), nil)
	if got := c.Other.Take(nil); len(got) != 1 || got[0] != unix.SIGALRM {
		t.Fatalf("Take = %v with the heartbeat off, want [SIGALRM]", got)
	}
}
