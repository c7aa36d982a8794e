package healthz

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// staleTicks is how many heartbeat periods may pass without a tick before
// liveness fails. Ticks coalesce: three missed heartbeats mean a stuck
// loop, one may be a busy moment.
const staleTicks = 3

// Handler answers /healthz, /readyz and /metrics from snapshots; it never
// writes State or Checks.
type Handler struct {
	st     *State
	checks *Checks // nil: no checks configured
	clock  Clock
	build  *BuildInfo // nil: tinit_build_info has no series
	wait   *Wait      // nil: no --wait-for
}

// phaseWaiting is the Status.Phase the loop publishes while --wait-for
// holds the start back.
const phaseWaiting = "waiting"

// NewHandler returns the handler for /healthz, /readyz and /metrics.
// checks may be nil; a nil clock is the system clock.
func NewHandler(st *State, checks *Checks, clock Clock) *Handler {
	return &Handler{st: st, checks: checks, clock: orSystem(clock)}
}

// WithBuild returns a copy of h whose /metrics reports b as
// tinit_build_info. h is not changed, and neither is the copy once made:
// the build is fixed before the handler serves.
func (h *Handler) WithBuild(b BuildInfo) *Handler {
	c := *h
	c.build = &b
	return &c
}

// WithWait returns a copy of h whose /readyz names the --wait-for targets
// awaited while the phase is "waiting", and whose /metrics reports w's
// targets (tinit_wait_target_up, tinit_wait_seconds). h is not changed. A
// nil w is no --wait-for.
func (h *Handler) WithWait(w *Wait) *Handler {
	c := *h
	c.wait = w
	return &c
}

// response is one answer, before the server puts it on the wire.
type response struct {
	code  int
	ctype string
	allow string // the Allow header of a 405
	body  []byte
}

// respond answers method on path. HEAD gets GET's answer; the server
// leaves the body out.
func (h *Handler) respond(method, path string) response {
	var serve func() response
	switch path {
	case "/healthz":
		serve = h.liveness
	case "/readyz":
		serve = h.readiness
	case "/metrics":
		serve = h.metrics
	default:
		return plain(404, "not found")
	}
	if method != "GET" && method != "HEAD" {
		r := plain(405, "method not allowed")
		r.allow = "GET, HEAD"
		return r
	}
	return serve()
}

const textPlain = "text/plain; charset=utf-8"

// plain is a one-line text answer.
func plain(code int, line string) response {
	return response{code: code, ctype: textPlain, body: []byte(line + "\n")}
}

func answer(why string) response {
	if why == "" {
		return plain(200, "ok")
	}
	return plain(503, why)
}

func (h *Handler) liveness() response {
	s := h.st.Snapshot()
	return withStatus(answer(h.notAlive(s, h.clock.Now())), s)
}

func (h *Handler) readiness() response {
	s := h.st.Snapshot()
	return withStatus(answer(h.notReady(s)), s)
}

// withStatus adds the app's own STATUS= line, when it sent one, so that a
// probe's failure message in kubectl describe says what the app said.
func withStatus(r response, s Status) response {
	if s.AppStatus != "" {
		r.body = append(r.body, "status: "+oneLine(s.AppStatus)+"\n"...)
	}
	return r
}

// oneLine keeps a STATUS= value on one line of the body.
func oneLine(v string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, v)
}

// notAlive says why tinit should be restarted, or "" when it should not.
func (h *Handler) notAlive(s Status, now time.Time) string {
	if s.Hung != "" && s.ChildUp {
		return s.Hung
	}
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
	// The app cannot pass its checks before it runs: while tinit waits for
	// its --wait-for targets they do not count, and its start period
	// begins when the wait ends.
	if h.checks != nil && h.checks.cfg.FailAfter > 0 && s.Phase != phaseWaiting {
		res := h.checks.Result()
		// FailingSince may lie ahead, at the end of the start period.
		if res.Configured && !res.OK && !res.FailingSince.IsZero() {
			since := res.FailingSince
			if h.wait != nil {
				if end := h.wait.Result().End; !end.IsZero() && end.Add(h.checks.cfg.StartPeriod).After(since) {
					since = end.Add(h.checks.cfg.StartPeriod)
				}
			}
			if d := now.Sub(since); d >= h.checks.cfg.FailAfter {
				return fmt.Sprintf("checks failing for %v, limit %v: %s", d.Round(time.Millisecond), h.checks.cfg.FailAfter, res.Detail)
			}
		}
	}
	return ""
}

// notReady says why no traffic should be sent, or "" when it may.
func (h *Handler) notReady(s Status) string {
	var awaited []string
	if s.Phase == phaseWaiting && h.wait != nil {
		awaited = h.wait.Result().awaited()
	}
	switch {
	case s.Stopping:
		return "stopping (" + s.Phase + ")"
	case len(awaited) > 0:
		// The targets as given, one line whatever a file name holds.
		return "waiting for " + oneLine(strings.Join(awaited, ", "))
	case !s.ChildUp:
		return "main child not running (" + s.Phase + ")"
	case s.Notify && !s.ChildReady:
		return "main child not ready: " + s.NotReadyWhy
	}
	if h.checks != nil {
		if res := h.checks.Result(); res.Configured && !res.OK {
			return res.Detail
		}
	}
	return ""
}

func (h *Handler) metrics() response {
	sc := metricsInput{status: h.st.Snapshot(), build: h.build, now: h.clock.Now()}
	if h.checks != nil {
		sc.checks = h.checks.Result()
	}
	if h.wait != nil {
		sc.wait = h.wait.Result()
	}
	var b bytes.Buffer
	writeMetrics(&b, sc)
	return response{code: 200, ctype: "text/plain; version=0.0.4; charset=utf-8", body: b.Bytes()}
}
