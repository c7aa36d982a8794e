package signals

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// RTMin and RTMax are the real-time signal range as C programs see it:
// glibc and musl keep signals 32 and 33 for their thread implementation.
const (
	RTMin = 34
	RTMax = 64
)

// names holds the canonical name of every standard Linux signal.
var names = [...]string{
	unix.SIGHUP: "SIGHUP", unix.SIGINT: "SIGINT", unix.SIGQUIT: "SIGQUIT",
	unix.SIGILL: "SIGILL", unix.SIGTRAP: "SIGTRAP", unix.SIGABRT: "SIGABRT",
	unix.SIGBUS: "SIGBUS", unix.SIGFPE: "SIGFPE", unix.SIGKILL: "SIGKILL",
	unix.SIGUSR1: "SIGUSR1", unix.SIGSEGV: "SIGSEGV", unix.SIGUSR2: "SIGUSR2",
	unix.SIGPIPE: "SIGPIPE", unix.SIGALRM: "SIGALRM", unix.SIGTERM: "SIGTERM",
	unix.SIGSTKFLT: "SIGSTKFLT", unix.SIGCHLD: "SIGCHLD", unix.SIGCONT: "SIGCONT",
	unix.SIGSTOP: "SIGSTOP", unix.SIGTSTP: "SIGTSTP", unix.SIGTTIN: "SIGTTIN",
	unix.SIGTTOU: "SIGTTOU", unix.SIGURG: "SIGURG", unix.SIGXCPU: "SIGXCPU",
	unix.SIGXFSZ: "SIGXFSZ", unix.SIGVTALRM: "SIGVTALRM", unix.SIGPROF: "SIGPROF",
	unix.SIGWINCH: "SIGWINCH", unix.SIGIO: "SIGIO", unix.SIGPWR: "SIGPWR",
	unix.SIGSYS: "SIGSYS",
}

// aliases are the other names kill(1) accepts for the same numbers.
var aliases = map[string]unix.Signal{
	"SIGIOT": unix.SIGABRT, "SIGCLD": unix.SIGCHLD, "SIGPOLL": unix.SIGIO,
}

// Name returns the conventional name of sig: "SIGTERM", "SIGRTMIN+3".
func Name(sig unix.Signal) string {
	switch {
	case sig > 0 && int(sig) < len(names) && names[sig] != "":
		return names[sig]
	case sig >= RTMin && sig <= RTMax:
		return fmt.Sprintf("SIGRTMIN+%d", sig-RTMin)
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// Parse reads a signal given by name or number: "TERM", "SIGTERM",
// "sigterm", "15", "RTMIN+2", "SIGRTMAX-1". Surrounding spaces are
// ignored, for numbers and names alike (" 15 " is "TERM"). Numbers 32 and
// 33 and anything outside 1..64, however many digits, are rejected as out
// of range.
func Parse(s string) (unix.Signal, error) {
	t := strings.TrimSpace(s)
	if isNumber(t) {
		// Atoi fails on a number too long for an int: still a number, so
		// the answer is the range, not "unknown name".
		n, err := strconv.Atoi(t)
		if err != nil || !valid(n) {
			return 0, fmt.Errorf("signal %q: out of range: want a number in 1-31 or %d-%d, or a name such as TERM", s, RTMin, RTMax)
		}
		return unix.Signal(n), nil
	}
	up := strings.ToUpper(t)
	if !strings.HasPrefix(up, "SIG") {
		up = "SIG" + up
	}
	for i, n := range names {
		if n != "" && n == up {
			return unix.Signal(i), nil
		}
	}
	if sig, ok := aliases[up]; ok {
		return sig, nil
	}
	if sig, ok := parseRT(up); ok {
		return sig, nil
	}
	return 0, fmt.Errorf("signal %q: unknown name (want a name such as TERM or SIGHUP, RTMIN+N, or a number)", s)
}

// parseRT reads SIGRTMIN, SIGRTMIN+N, SIGRTMAX and SIGRTMAX-N.
func parseRT(up string) (unix.Signal, bool) {
	base, rest, sign := 0, "", 1
	switch {
	case strings.HasPrefix(up, "SIGRTMIN"):
		base, rest = RTMin, up[len("SIGRTMIN"):]
	case strings.HasPrefix(up, "SIGRTMAX"):
		base, rest, sign = RTMax, up[len("SIGRTMAX"):], -1
	default:
		return 0, false
	}
	off := 0
	if rest != "" {
		want := "+"
		if sign < 0 {
			want = "-"
		}
		if !strings.HasPrefix(rest, want) {
			return 0, false
		}
		digits := rest[1:]
		if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n > RTMax-RTMin {
			return 0, false
		}
		off = n
	}
	return unix.Signal(base + sign*off), true
}

// isNumber reports whether s is an optional sign and one or more digits.
func isNumber(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return s != "" && strings.TrimLeft(s, "0123456789") == ""
}

func valid(n int) bool {
	return (n >= 1 && n < len(names)) || (n >= RTMin && n <= RTMax)
}
