package healthz

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// staleTicks is how many heartbeat periods may pass without a tick before
// liveness fails. Ticks coalesce: three missed heartbeats mean a stuck
// loop, one may be a busy moment.
const staleTicks = 3

// handler serves /healthz, /readyz and /metrics from snapshots; it never
// writes State or Checks.
type handler struct {
	st     *State
	checks *Checks // nil: no checks configured
	clock  Clock
}

// NewHandler returns the handler for /healthz, /readyz and /metrics.
// checks may be nil; a nil clock is the system clock.
func NewHandler(st *State, checks *Checks, clock Clock) http.Handler {
	return &handler{st: st, checks: checks, clock: orSystem(clock)}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var serve func() (code int, contentType string, body []byte)
	switch r.URL.Path {
	case "/healthz":
		serve = h.liveness
	case "/readyz":
		serve = h.readiness
	case "/metrics":
		serve = h.metrics
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	code, ctype, body := serve()
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	// Probes must see the state now, never a cached answer.
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(body) // the client went away; nothing to do about it
	}
}

const textPlain = "text/plain; charset=utf-8"

func answer(why string) (int, string, []byte) {
	if why == "" {
		return http.StatusOK, textPlain, []byte("ok\n")
	}
	return http.StatusServiceUnavailable, textPlain, []byte(why + "\n")
}

func (h *handler) liveness() (int, string, []byte) {
	return answer(h.notAlive(h.st.Snapshot(), h.clock.Now()))
}

func (h *handler) readiness() (int, string, []byte) {
	return answer(h.notReady(h.st.Snapshot()))
}

// notAlive says why tinit should be restarted, or "" when it should not.
func (h *handler) notAlive(s Status, now time.Time) string {
	if s.Heartbeat > 0 {
		limit := staleTicks * s.Heartbeat
		if s.LastTick.IsZero() {
			// The loop sets LastTick when it turns the heartbeat on; a zero
			// one means it never got that far.
			return fmt.Sprintf("no heartbeat tick yet, limit %v: event loop stalled", limit)
		}
		if age := now.Sub(s.LastTick); age >= limit {
			return fmt.Sprintf("heartbeat %v old, limit %v: event loop stalled", age.Round(time.Millisecond), limit)
		}
	}
	if h.checks != nil && h.checks.cfg.FailAfter > 0 {
		res := h.checks.Result()
		if res.Configured && !res.OK && !res.FailingSince.IsZero() {
			if d := now.Sub(res.FailingSince); d >= h.checks.cfg.FailAfter {
				return fmt.Sprintf("checks failing for %v, limit %v: %s", d.Round(time.Millisecond), h.checks.cfg.FailAfter, res.Detail)
			}
		}
	}
	return ""
}

// notReady says why no traffic should be sent, or "" when it may.
func (h *handler) notReady(s Status) string {
	switch {
	case s.Draining:
		return "draining"
	case !s.ChildUp:
		return "main child not running (" + s.Phase + ")"
	}
	if h.checks != nil {
		if res := h.checks.Result(); res.Configured && !res.OK {
			return res.Detail
		}
	}
	return ""
}

func (h *handler) metrics() (int, string, []byte) {
	var b bytes.Buffer
	writeMetrics(&b, h.st.Snapshot(), h.clock.Now())
	return http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", b.Bytes()
}
