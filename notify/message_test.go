package notify

import (
	"bytes"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Message
	}{
		{"READY=1 alone makes the child ready", "READY=1", Message{Ready: true}},
		{"a trailing newline is fine", "READY=1\n", Message{Ready: true}},
		{"redis's status and readiness both apply",
			"READY=1\nSTATUS=Ready to accept connections\n",
			Message{Ready: true, Status: "Ready to accept connections", HasStatus: true}},
		{"an empty STATUS clears the status", "STATUS=", Message{HasStatus: true}},
		{"MAINPID names the main process", "MAINPID=4242", Message{MainPID: 4242}},
		{"MAINPID with leading zeros is still decimal", "MAINPID=007", Message{MainPID: 7}},
		{"MAINPID=0 is not a pid", "MAINPID=0", Message{Unknown: 1}},
		{"a negative MAINPID is not a pid", "MAINPID=-1", Message{Unknown: 1}},
		{"a signed MAINPID is not plain decimal", "MAINPID=+5", Message{Unknown: 1}},
		{"MAINPID beyond a pid_t is not a pid", "MAINPID=4294967297", Message{Unknown: 1}},
		{"MAINPID that is not a number is skipped", "MAINPID=abc", Message{Unknown: 1}},
		{"WATCHDOG=1 is a ping", "WATCHDOG=1", Message{Watchdog: true}},
		{"WATCHDOG=trigger fires the watchdog", "WATCHDOG=trigger", Message{WatchdogTrigger: true}},
		{"another WATCHDOG value is skipped", "WATCHDOG=2", Message{Unknown: 1}},
		{"RELOADING applies and MONOTONIC_USEC is skipped",
			"RELOADING=1\nMONOTONIC_USEC=123", Message{Reloading: true, Unknown: 1}},
		{"STOPPING=1 says the child is stopping", "STOPPING=1\n", Message{Stopping: true}},
		{"a barrier alone is only an unknown key", "BARRIER=1", Message{Unknown: 1}},
		{"READY=0 is not taken", "READY=0", Message{Unknown: 1}},
		{"READY=0 after READY=1 does not undo it", "READY=1\nREADY=0", Message{Ready: true, Unknown: 1}},
		{"a value may contain '='", "STATUS=a=b=c", Message{Status: "a=b=c", HasStatus: true}},
		{"the last STATUS wins", "STATUS=one\nSTATUS=two", Message{Status: "two", HasStatus: true}},
		{"the last MAINPID wins", "MAINPID=1\nMAINPID=2", Message{MainPID: 2}},
		{"digits and underscores make a key", "X_1=2\nREADY=1", Message{Ready: true, Unknown: 1}},
		{"a carriage return is part of the value", "READY=1\r\n", Message{Unknown: 1}},
		{"a full fdstore message counts its unknown keys",
			"FDSTORE=1\nFDNAME=sock\nERRNO=0\nEXTEND_TIMEOUT_USEC=5\nWATCHDOG_USEC=9\nREADY=1",
			Message{Ready: true, Unknown: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.payload))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.payload, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.payload, got, tt.want)
			}
		})
	}
}

func TestParseRejectsWholeDatagram(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		errHas  string // the error must point at the input
	}{
		{"an empty datagram says nothing", "", "empty"},
		{"a line without '=' spoils the ready one before it", "READY=1\nhello", `line 2 "hello"`},
		{"an empty key", "=1", `line 1 "=1": empty key`},
		{"a lower-case key", "ready=1", `key "ready"`},
		{"a key with a space", "READY =1", `key "READY "`},
		{"a NUL byte in a value", "READY=1\nSTATUS=a\x00b", "NUL byte at offset 16"},
		{"an empty line in the middle", "READY=1\n\nSTATUS=x", "line 2"},
		{"two trailing newlines", "READY=1\n\n", "line 2"},
		{"a lone newline", "\n", "line 1"},
		{"a long bad line is cut short in the error", strings.Repeat("x", 500), "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.payload))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.payload, got)
			}
			if got != (Message{}) {
				t.Errorf("Parse(%q) applied %+v along with its error", tt.payload, got)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Parse(%q) error %q does not contain %q", tt.payload, err, tt.errHas)
			}
			if len(err.Error()) > 200 {
				t.Errorf("Parse(%q) error is %d bytes long, want one short line", tt.payload, len(err.Error()))
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"READY=1", "READY=1\nSTATUS=Ready to accept connections\n", "MAINPID=12",
		"WATCHDOG=trigger", "RELOADING=1\nMONOTONIC_USEC=123", "=", "\n", "a=b", "READY=1\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if m != (Message{}) {
				t.Fatalf("Parse(%q) returned %+v with error %v", b, m, err)
			}
			return
		}
		lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
		if m.Unknown > len(lines) {
			t.Errorf("Parse(%q): Unknown %d > %d lines", b, m.Unknown, len(lines))
		}
		if m.Ready && !containsLine(lines, "READY=1") {
			t.Errorf("Parse(%q): Ready without a READY=1 line", b)
		}
		if m.Pid != 0 || m.FDs != 0 || m.Bad != "" {
			t.Errorf("Parse(%q) set what only the socket knows: %+v", b, m)
		}
	})
}

func containsLine(lines [][]byte, want string) bool {
	for _, l := range lines {
		if string(l) == want {
			return true
		}
	}
	return false
}
