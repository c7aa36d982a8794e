package healthz

import (
	"bytes"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/signals"
)

// writeMetrics writes s in the Prometheus text exposition format 0.0.4.
// See doc.go for why this is done by hand.
func writeMetrics(b *bytes.Buffer, s Status, now time.Time) {
	const gauge, counter = "gauge", "counter"

	up := int64(0)
	if s.ChildUp {
		up = 1
	}
	family(b, "tinit_child_up", gauge, "Whether the main child is running (1) or not (0).")
	sampleInt(b, "tinit_child_up", up)

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
		// Signal names are plain ASCII letters, digits, '+' and spaces
		// ("SIGRTMIN+3"): none needs escaping in a label value.
		b.WriteString(`tinit_signals_forwarded_total{signal="`)
		b.WriteString(signals.Name(unix.Signal(n)))
		b.WriteString(`"} `)
		b.Write(strconv.AppendUint(b.AvailableBuffer(), s.Forwarded[n], 10))
		b.WriteByte('\n')
	}

	age := 0.0
	if s.Heartbeat > 0 && !s.LastTick.IsZero() {
		age = max(now.Sub(s.LastTick).Seconds(), 0)
	}
	family(b, "tinit_heartbeat_age_seconds", gauge, "Seconds since the event loop's last heartbeat tick, 0 when the heartbeat is off.")
	b.WriteString("tinit_heartbeat_age_seconds ")
	b.Write(strconv.AppendFloat(b.AvailableBuffer(), age, 'g', -1, 64))
	b.WriteByte('\n')
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

func sampleUint(b *bytes.Buffer, name string, v uint64) {
	b.WriteString(name + " ")
	b.Write(strconv.AppendUint(b.AvailableBuffer(), v, 10))
	b.WriteByte('\n')
}
