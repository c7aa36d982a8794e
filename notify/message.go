package notify

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// MaxSize is the largest datagram taken, in bytes. systemd reads notify
// datagrams into a buffer of the same size (NOTIFY_BUFFER_MAX); a sender
// that needs more is not speaking this protocol, and one that sends more is
// dropped whole rather than half-read.
const MaxSize = 4096

// MaxFDs is the most file descriptors a datagram may bring. Any process
// that reaches the socket may pass them, before the supervisor can judge
// who it is, and each one received takes a slot of tinit's table until it
// is closed: with room for SCM_MAX_FD (253), a flood filled a table under
// RLIMIT_NOFILE 256 and the next restart failed (EMFILE). sd_notify_barrier
// passes one; a datagram with more is dropped whole.
const MaxFDs = 4

// Why a datagram was dropped (Message.Bad).
const (
	BadOversized = "oversized" // over MaxSize: the kernel set MSG_TRUNC
	BadMalformed = "malformed" // Parse failed: not KEY=VALUE lines
	BadFDs       = "fds"       // over MaxFDs: the kernel set MSG_CTRUNC
)

// Message is what one datagram said. A dropped datagram (Bad != "") carries
// only Pid, Bad and FDs: nothing in it was applied.
type Message struct {
	// Pid is the sender's pid from SCM_CREDENTIALS, as the kernel gives it
	// in tinit's pid namespace; 0 when no credentials came (the sender is
	// in a pid namespace tinit cannot see, or the datagram arrived before
	// SO_PASSCRED was set).
	Pid int
	// Bad is empty for a datagram that was parsed; otherwise BadOversized,
	// BadMalformed or BadFDs.
	Bad string

	Ready     bool // READY=1
	Reloading bool // RELOADING=1
	Stopping  bool // STOPPING=1

	Status    string // STATUS=…, meaningful when HasStatus
	HasStatus bool   // STATUS= came, possibly empty (which clears it)

	MainPID int // MAINPID=N with N > 0; 0 when absent

	Watchdog        bool // WATCHDOG=1
	WatchdogTrigger bool // WATCHDOG=trigger

	// Unknown counts the assignments skipped: keys tinit does not handle
	// (MONOTONIC_USEC, BARRIER, FDSTORE, ERRNO, …) and known keys with a
	// value tinit does not take (READY=0, MAINPID=abc).
	Unknown int

	// FDs counts the file descriptors received with the datagram
	// (SCM_RIGHTS), at most MaxFDs: a BadFDs datagram's others were
	// released by the kernel, never received. They are closed before the
	// Message is sent.
	FDs int
}

// errEmpty is returned for a datagram with no payload: it says nothing, and
// systemd's sd_notify refuses to send one.
var errEmpty = errors.New("empty datagram")

// Parse reads one datagram's payload: KEY=VALUE assignments separated by
// newlines, one trailing newline allowed. Any line that is not an assignment
// (no "=", an empty key, a key not made of A-Z, 0-9 and _, or an empty line
// other than the trailing one) or a NUL byte anywhere makes the whole
// datagram malformed: Parse returns a zero Message and an error naming the
// line. A repeated key: the last value tinit takes wins; a value it does not
// take is skipped and counted, and does not undo an earlier one.
func Parse(b []byte) (Message, error) {
	if len(b) == 0 {
		return Message{}, errEmpty
	}
	// A NUL would end the string in a C sender's reading of it; refusing
	// it keeps STATUS printable as it was meant.
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return Message{}, fmt.Errorf("NUL byte at offset %d", i)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	var m Message
	for n := 1; ; n++ {
		line, rest, more := bytes.Cut(b, []byte("\n"))
		key, value, ok := bytes.Cut(line, []byte("="))
		if !ok {
			return Message{}, fmt.Errorf("line %d %s: no '='", n, quote(line))
		}
		if err := checkKey(key); err != nil {
			return Message{}, fmt.Errorf("line %d %s: %w", n, quote(line), err)
		}
		m.apply(string(key), value)
		if !more {
			return m, nil
		}
		b = rest
	}
}

// apply records one assignment, or counts it in Unknown.
func (m *Message) apply(key string, value []byte) {
	v := string(value)
	switch {
	case key == "READY" && v == "1":
		m.Ready = true
	case key == "RELOADING" && v == "1":
		m.Reloading = true
	case key == "STOPPING" && v == "1":
		m.Stopping = true
	case key == "STATUS":
		m.Status, m.HasStatus = v, true
	case key == "MAINPID" && parsePID(v) > 0:
		m.MainPID = parsePID(v)
	case key == "WATCHDOG" && v == "1":
		m.Watchdog = true
	case key == "WATCHDOG" && v == "trigger":
		m.WatchdogTrigger = true
	default:
		m.Unknown++
	}
}

// parsePID returns the pid in s, plain decimal digits that fit a pid_t,
// or 0. strconv alone would take "+5" and "-1".
func parsePID(s string) int {
	if s == "" {
		return 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0
	}
	return int(n)
}

// checkKey accepts the keys sd_notify(3) defines and any that may come:
// upper-case letters, digits and underscores.
func checkKey(key []byte) error {
	if len(key) == 0 {
		return errors.New("empty key")
	}
	for _, c := range key {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("key %s: want only A-Z, 0-9 and _", quote(key))
		}
	}
	return nil
}

// quote shows a line in an error, cut short: a line may be 4 KiB of
// whatever a sender wrote, and an error is one log line.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}
