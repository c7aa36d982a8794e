package healthz

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/signals"
)

// BuildInfo is the build tinit_build_info reports.
type BuildInfo struct {
	Version   string // "v1.2.0", or what the build stamped
	Commit    string // the full commit hash
	GoVersion string // runtime.Version()
}

// metricsInput is what one /metrics answer is written from: copies taken once,
// so the series agree with each other.
type metricsInput struct {
	status Status
	checks CheckResult // zero: no checks configured
	build  *BuildInfo  // nil: not given
	wait   WaitResult  // zero: no --wait-for
	now    time.Time
}

// writeMetrics writes sc in the Prometheus text exposition format
// 0.0.4. See doc.go for why this is done by hand.
//
// Series that have no value yet (the child's start time before the first
// start, the last heartbeat when the heartbeat is off) are left out rather
// than written as 0, so that "time() - x" never reads as an age of 55
// years; their families are announced all the same, with HELP and TYPE.
func writeMetrics(b *bytes.Buffer, sc metricsInput) {
	const gauge, counter = "gauge", "counter"
	s := sc.status

	family(b, "tinit_build_info", gauge, "tinit's build: version, commit and Go version as labels; the value is always 1.")
	if bi := sc.build; bi != nil {
		b.WriteString(`tinit_build_info{version="`)
		labelValue(b, bi.Version)
		b.WriteString(`",commit="`)
		labelValue(b, bi.Commit)
		b.WriteString(`",goversion="`)
		labelValue(b, bi.GoVersion)
		b.WriteString("\"} 1\n")
	}

	up := int64(0)
	if s.ChildUp {
		up = 1
	}
	family(b, "tinit_child_up", gauge, "Whether the main child is running (1) or not (0).")
	sampleInt(b, "tinit_child_up", up)

	// The last child's start stays while none runs (tinit_child_up says
	// whether it does): a restart loop shows as the value moving on.
	family(b, "tinit_child_start_time_seconds", gauge, "Start time of the current main child (the last one while none runs) in seconds since the Unix epoch; absent before the first start.")
	if !s.ChildStarted.IsZero() {
		sampleTime(b, "tinit_child_start_time_seconds", s.ChildStarted)
	}

	ready := int64(0)
	if s.ChildUp && !s.Stopping && (!s.Notify || s.ChildReady) {
		ready = 1
	}
	family(b, "tinit_child_ready", gauge, "Whether the main child is ready (1) or not (0): it runs, no stop signal came, and with --notify it sent READY=1 and no RELOADING=1 or STOPPING=1 since.")
	sampleInt(b, "tinit_child_ready", ready)

	// Each family's HELP and TYPE come right before its own samples: the
	// text format wants a family in one block.
	family(b, "tinit_notify_messages_total", counter, "Keys received on the notify socket from allowed senders, by type (unknown: keys tinit does not act on).")
	if s.Notify {
		for k, n := range s.NotifyCounts {
			sampleLabelled(b, "tinit_notify_messages_total", "type", notifyKindNames[k], n)
		}
	}
	family(b, "tinit_notify_rejected_total", counter, "Notify datagrams dropped, by reason: access (a sender --notify-access does not allow, or gone), malformed, oversized, fds (more than 4 file descriptors passed).")
	if s.Notify {
		for k, n := range s.Rejected {
			sampleLabelled(b, "tinit_notify_rejected_total", "reason", rejectNames[k], n)
		}
	}
	family(b, "tinit_watchdog_last_ping_timestamp_seconds", gauge, "Time of the current main child's last WATCHDOG=1 in seconds since the Unix epoch; absent before the first.")
	if s.Notify && !s.WatchdogPing.IsZero() {
		sampleTime(b, "tinit_watchdog_last_ping_timestamp_seconds", s.WatchdogPing)
	}

	family(b, "tinit_child_restarts_total", counter, "Times the main child was started again after it exited.")
	sampleUint(b, "tinit_child_restarts_total", s.Restarts)

	family(b, "tinit_child_last_exit_code", gauge, "Exit code of the main child's last exit, -1 before any exit.")
	sampleInt(b, "tinit_child_last_exit_code", int64(s.LastExitCode))

	family(b, "tinit_zombies_reaped_total", counter, "Children reaped other than main children.")
	sampleUint(b, "tinit_zombies_reaped_total", s.ZombiesReaped)

	// The family is announced even with no series yet, so its HELP is
	// there for whoever scrapes before the first signal.
	family(b, "tinit_signals_forwarded_total", counter, "Signals forwarded to the main child, by signal.")
	for n := 1; n < len(s.Forwarded); n++ {
		if s.Forwarded[n] == 0 {
			continue
		}
		sampleLabelled(b, "tinit_signals_forwarded_total", "signal", signals.Name(unix.Signal(n)), s.Forwarded[n])
	}
	family(b, "tinit_signals_dropped_total", counter, "Signals not forwarded because no main child was running (backoff, restarting, waiting), by signal.")
	for n := 1; n < len(s.Dropped); n++ {
		if s.Dropped[n] == 0 {
			continue
		}
		sampleLabelled(b, "tinit_signals_dropped_total", "signal", signals.Name(unix.Signal(n)), s.Dropped[n])
	}

	// Every series, zeros included, as soon as reloads are configured: a
	// rate() over a series that appears at its first increment misses it.
	family(b, "tinit_reloads_total", counter, "Reloads done, by action (signal: --reload-signal sent to the main child's process group; restart: a graceful restart) and cause (file: a --reload-on change; signal: the --restart-signal received).")
	if s.ReloadOn {
		for a, byCause := range s.Reloads {
			for c, n := range byCause {
				b.WriteString(`tinit_reloads_total{action="` + reloadActionNames[a] + `",cause="` + reloadCauseNames[c] + `"} `)
				b.Write(strconv.AppendUint(b.AvailableBuffer(), n, 10))
				b.WriteByte('\n')
			}
		}
	}

	age := 0.0
	if s.Heartbeat > 0 && !s.LastTick.IsZero() {
		age = max(sc.now.Sub(s.LastTick).Seconds(), 0)
	}
	family(b, "tinit_heartbeat_age_seconds", gauge, "Seconds since the event loop's last heartbeat tick, 0 when the heartbeat is off.")
	b.WriteString("tinit_heartbeat_age_seconds ")
	b.Write(strconv.AppendFloat(b.AvailableBuffer(), age, 'g', -1, 64))
	b.WriteByte('\n')

	family(b, "tinit_last_heartbeat_timestamp_seconds", gauge, "Time of the event loop's last heartbeat tick in seconds since the Unix epoch; absent when the heartbeat is off.")
	if s.Heartbeat > 0 && !s.LastTick.IsZero() {
		sampleTime(b, "tinit_last_heartbeat_timestamp_seconds", s.LastTick)
	}

	family(b, "tinit_check_up", gauge, "Whether each application check passed its last round (1) or not (0), by check; 0 until its first round passes.")
	checks := sc.checks.Checks
	for i, c := range checks {
		// A check given twice would be two series with the same labels,
		// which Prometheus rejects: write it once, up only if every copy
		// passed.
		dup, ok := false, c.OK
		for j, o := range checks {
			if o.Target == c.Target {
				dup = dup || j < i
				ok = ok && o.OK
			}
		}
		if dup {
			continue
		}
		b.WriteString(`tinit_check_up{check="`)
		labelValue(b, c.Target)
		upValue(b, ok)
	}

	// NewWait keeps one of a target given twice, so each is one series.
	w := sc.wait
	family(b, "tinit_wait_target_up", gauge, "Whether each --wait-for target has held (1) in the current wait, or not yet (0), by target as given.")
	for _, t := range w.Targets {
		b.WriteString(`tinit_wait_target_up{target="`)
		labelValue(b, t.Target)
		upValue(b, t.Held)
	}
	family(b, "tinit_wait_seconds", gauge, "Seconds the last wait for the --wait-for targets took, or has taken so far; absent without targets.")
	if len(w.Targets) > 0 && !w.Start.IsZero() {
		end := w.End
		if end.IsZero() {
			end = sc.now
		}
		b.WriteString("tinit_wait_seconds ")
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), max(end.Sub(w.Start).Seconds(), 0), 'g', -1, 64))
		b.WriteByte('\n')
	}
}

// upValue ends a series whose labels are written with its value, 1 or 0.
func upValue(b *bytes.Buffer, up bool) {
	if up {
		b.WriteString("\"} 1\n")
	} else {
		b.WriteString("\"} 0\n")
	}
}

// sampleTime writes t as seconds since the Unix epoch, with its fraction:
// "1735787045.25".
func sampleTime(b *bytes.Buffer, name string, t time.Time) {
	secs := float64(t.Unix()) + float64(t.Nanosecond())/1e9
	b.WriteString(name + " ")
	b.Write(strconv.AppendFloat(b.AvailableBuffer(), secs, 'f', -1, 64))
	b.WriteByte('\n')
}

// labelValue writes v as the inside of a quoted label value: backslash,
// double quote and newline escaped as the text format wants. The format is
// UTF-8 and a file path need not be, so an invalid byte becomes U+FFFD.
func labelValue(b *bytes.Buffer, v string) {
	for len(v) > 0 {
		r, size := utf8.DecodeRuneInString(v)
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(v[:size])
		}
		v = v[size:]
	}
}

func family(b *bytes.Buffer, name, typ, help string) {
	b.WriteString("# HELP " + name + " " + help + "\n")
	b.WriteString("# TYPE " + name + " " + typ + "\n")
}

func sampleInt(b *bytes.Buffer, name string, v int64) {
	b.WriteString(name + " ")
	b.Write(strconv.AppendInt(b.AvailableBuffer(), v, 10))
	b.WriteByte('\n')
}

// sampleLabelled writes one series of a family with one label whose
// value is one of tinit's own names (a signal's, "SIGRTMIN+3"; a notify
// kind): plain ASCII letters, digits and '+', which need no escaping.
func sampleLabelled(b *bytes.Buffer, name, label, value string, v uint64) {
	b.WriteString(name + "{" + label + `="` + value + `"} `)
	b.Write(strconv.AppendUint(b.AvailableBuffer(), v, 10))
	b.WriteByte('\n')
}

func sampleUint(b *bytes.Buffer, name string, v uint64) {
	b.WriteString(name + " ")
	b.Write(strconv.AppendUint(b.AvailableBuffer(), v, 10))
	b.WriteByte('\n')
}
