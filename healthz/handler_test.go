package healthz

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// do answers one request with h, puts the answer on the wire as the
// server does, and reads it back with net/http's parser.
func do(t *testing.T, h *Handler, method, path string) (int, string, http.Header) {
	t.Helper()
	var wire bytes.Buffer
	writeResponse(&wire, h.respond(method, path), method == "HEAD", "close", t0)
	br := bufio.NewReader(&wire)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: net/http cannot read the answer: %v\n%s", method, path, err, wire.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	if n := br.Buffered(); n != 0 {
		t.Errorf("%s %s: %d bytes after the answer", method, path, n)
	}
	return resp.StatusCode, string(body), resp.Header
}

// wantAnswer checks code and that the body is one line containing want.
func wantAnswer(t *testing.T, code int, body string, wantCode int, want string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("status %d, want %d (body %q)", code, wantCode, body)
	}
	if !strings.Contains(body, want) || strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
		t.Errorf("body %q: want one line containing %q", body, want)
	}
}

func TestLivenessFailsOnlyAfterThreeMissedHeartbeats(t *testing.T) {
	for _, tc := range []struct {
		name      string
		heartbeat time.Duration
		age       time.Duration
		wantCode  int
		want      string
	}{
		{"a fresh tick is alive", time.Second, 0, 200, "ok"},
		{"2.9 heartbeats old is still alive", time.Second, 2900 * time.Millisecond, 200, "ok"},
		{"3.1 heartbeats old is a stalled loop", time.Second, 3100 * time.Millisecond, 503, "heartbeat 3.1s old, limit 3s: event loop stalled"},
		{"an hour old with the heartbeat off is alive", 0, time.Hour, 200, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: t0.Add(tc.age)}
			st := NewState()
			st.Update(func(s *Status) { s.Heartbeat, s.LastTick = tc.heartbeat, t0 })
			code, body, _ := do(t, NewHandler(st, nil, clock), "GET", "/healthz")
			wantAnswer(t, code, body, tc.wantCode, tc.want)
		})
	}
}

func TestLivenessFailsWhenHeartbeatIsOnButNeverTicked(t *testing.T) {
	st := NewState()
	st.Update(func(s *Status) { s.Heartbeat = time.Second })
	code, body, _ := do(t, NewHandler(st, nil, &fakeClock{now: t0}), "GET", "/healthz")
	wantAnswer(t, code, body, 503, "no heartbeat tick yet")
}

func TestLivenessFailsWhenChecksFailLongerThanFailAfter(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failAfter time.Duration
		rounds    []string // the one check's failure reason in each round, in order, "" = pass
		elapsed   time.Duration
		wantCode  int
		want      string
	}{
		{"checks that never ran do not kill", 10 * time.Second, nil, time.Hour, 200, "ok"},
		{"FailAfter 0 never kills", 0, []string{"connection refused"}, time.Hour, 200, "ok"},
		{"failing for less than FailAfter is alive", 10 * time.Second, []string{"connection refused"}, 9 * time.Second, 200, "ok"},
		{"failing for FailAfter is dead", 10 * time.Second, []string{"connection refused"}, 10 * time.Second, 503, "checks failing for 10s, limit 10s: tcp x:1: connection refused"},
		{"a passing round after failures is alive", 10 * time.Second, []string{"connection refused", ""}, time.Hour, 200, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: t0}
			checks := NewChecks(CheckConfig{TCP: []string{"x:1"}, FailAfter: tc.failAfter}, clock)
			for _, r := range tc.rounds {
				checks.publish([]string{r})
			}
			clock.now = t0.Add(tc.elapsed)
			code, body, _ := do(t, NewHandler(NewState(), checks, clock), "GET", "/healthz")
			wantAnswer(t, code, body, tc.wantCode, tc.want)
		})
	}
}

func TestReadinessInEachPhase(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   Status
		check    string // why the one check failed in the last round, "" = pass; "-" = no checks
		wantCode int
		want     string
	}{
		{"starting is not ready", Status{Phase: "starting"}, "-", 503, "main child not running (starting)"},
		{"running is ready", Status{Phase: "running", ChildUp: true}, "-", 200, "ok"},
		{"running with passing checks is ready", Status{Phase: "running", ChildUp: true}, "", 200, "ok"},
		{"running with a failing check is not ready", Status{Phase: "running", ChildUp: true}, "connection refused", 503, "tcp x:1: connection refused"},
		{"backoff is not ready", Status{Phase: "backoff"}, "-", 503, "main child not running (backoff)"},
		{"the drain window is not ready though the child is up", Status{Phase: "drain-window", ChildUp: true, Stopping: true}, "", 503, "stopping (drain-window)"},
		{"stopping is not ready", Status{Phase: "stopping", ChildUp: true, Stopping: true}, "-", 503, "stopping (stopping)"},
		{"done is not ready", Status{Phase: "done", Stopping: true}, "-", 503, "stopping (done)"},
		{"--notify: running is not ready before READY=1", Status{Phase: "running", ChildUp: true, Notify: true, NotReadyWhy: "waiting for its READY=1 (--notify)"}, "-", 503, "main child not ready: waiting for its READY=1"},
		{"--notify: ready after READY=1", Status{Phase: "running", ChildUp: true, Notify: true, ChildReady: true}, "-", 200, "ok"},
		{"--notify: a ready child's failing check still counts", Status{Phase: "running", ChildUp: true, Notify: true, ChildReady: true}, "refused", 503, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := NewState()
			st.Update(func(s *Status) { *s = tc.status })
			var checks *Checks
			if tc.check != "-" {
				checks = NewChecks(CheckConfig{TCP: []string{"x:1"}}, &fakeClock{now: t0})
				checks.publish([]string{tc.check})
			}
			code, body, _ := do(t, NewHandler(st, checks, &fakeClock{now: t0}), "GET", "/readyz")
			wantAnswer(t, code, body, tc.wantCode, tc.want)
		})
	}
}

func TestTheAppsStatusAndAHungChild(t *testing.T) {
	st := NewState()
	st.Update(func(s *Status) {
		s.Phase, s.ChildUp, s.Notify, s.ChildReady = "running", true, true, true
		s.AppStatus = "Ready to accept\nconnections"
	})
	h := NewHandler(st, nil, &fakeClock{now: t0})
	for _, path := range []string{"/readyz", "/healthz"} {
		code, body, _ := do(t, h, "GET", path)
		if code != 200 || body != "ok\nstatus: Ready to accept connections\n" {
			t.Errorf("%s: %d %q: want ok and the app's STATUS on one line", path, code, body)
		}
	}
	st.Update(func(s *Status) { s.Hung, s.ChildReady = "main child hung: watchdog", false })
	if code, body, _ := do(t, h, "GET", "/healthz"); code != 503 || !strings.HasPrefix(body, "main child hung: watchdog\n") {
		t.Errorf("/healthz with a hung child: %d %q", code, body)
	}
	st.Update(func(s *Status) { s.ChildUp = false })
	if code, _, _ := do(t, h, "GET", "/healthz"); code != 200 {
		t.Errorf("/healthz %d once the hung child is gone, want 200", code)
	}
}

func TestReadinessWaitsForTheFirstRoundOfChecks(t *testing.T) {
	st := NewState()
	st.Update(func(s *Status) { s.Phase, s.ChildUp = "running", true })
	checks := NewChecks(CheckConfig{File: []string{"/"}}, nil)
	code, body, _ := do(t, NewHandler(st, checks, nil), "GET", "/readyz")
	wantAnswer(t, code, body, 503, "checks have not run yet")
}

func TestMethodsAndPaths(t *testing.T) {
	h := NewHandler(NewState(), nil, &fakeClock{now: t0})
	for _, tc := range []struct {
		name      string
		method    string
		path      string
		wantCode  int
		wantBody  bool
		wantAllow string
	}{
		{"GET /healthz answers with a body", "GET", "/healthz", 200, true, ""},
		{"HEAD /healthz answers without a body", "HEAD", "/healthz", 200, false, ""},
		{"HEAD /readyz answers without a body", "HEAD", "/readyz", 503, false, ""},
		{"HEAD /metrics answers without a body", "HEAD", "/metrics", 200, false, ""},
		{"POST /healthz is not allowed", "POST", "/healthz", 405, true, "GET, HEAD"},
		{"DELETE /metrics is not allowed", "DELETE", "/metrics", 405, true, "GET, HEAD"},
		{"an unknown path is not found", "GET", "/debug/pprof/", 404, true, ""},
		{"the root is not found", "GET", "/", 404, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, hdr := do(t, h, tc.method, tc.path)
			if code != tc.wantCode {
				t.Errorf("status %d, want %d", code, tc.wantCode)
			}
			if (body != "") != tc.wantBody {
				t.Errorf("body %q, want a body: %v", body, tc.wantBody)
			}
			if got := hdr.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow %q, want %q", got, tc.wantAllow)
			}
			if tc.method == "HEAD" && hdr.Get("Content-Length") == "0" {
				t.Error("HEAD gives Content-Length 0, want the length GET would send")
			}
		})
	}
}

// waitWith returns a Wait for targets (parsed against "/") whose current
// round started at t0, with the targets marked in held already held.
func waitWith(t *testing.T, targets []string, held ...string) *Wait {
	t.Helper()
	var ts []WaitTarget
	for _, s := range targets {
		wt, err := ParseWaitTarget(s, "/")
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, wt)
	}
	w := NewWait(ts, &fakeClock{now: t0})
	w.res.Start = t0
	for i := range w.res.Targets {
		if slices.Contains(held, w.res.Targets[i].Target) {
			w.res.Targets[i].Held, w.res.Targets[i].Err = true, ""
		}
	}
	return w
}

func TestReadinessWhileWaitingNamesWhatIsAwaited(t *testing.T) {
	const (
		db    = "tcp://127.0.0.1:5432"
		mesh  = "http://127.0.0.1:15021/healthz/ready"
		ready = "file:/run/ready"
	)
	targets := []string{db, mesh, ready}
	for _, tc := range []struct {
		name     string
		status   Status
		wait     *Wait // nil: no WithWait
		wantCode int
		want     string
	}{
		{"nothing held: every target, as given, in order", Status{Phase: "waiting"}, waitWith(t, targets), 503, "waiting for " + db + ", " + mesh + ", " + ready},
		{"a target that held is no longer named", Status{Phase: "waiting"}, waitWith(t, targets, mesh), 503, "waiting for " + db + ", " + ready},
		{"every target held, the child not started yet", Status{Phase: "waiting"}, waitWith(t, targets, db, mesh, ready), 503, "main child not running (waiting)"},
		{"a stop signal while waiting", Status{Phase: "waiting", Stopping: true}, waitWith(t, targets), 503, "stopping (waiting)"},
		{"waiting without the Wait given to the handler", Status{Phase: "waiting"}, nil, 503, "main child not running (waiting)"},
		{"running after the wait is ready", Status{Phase: "running", ChildUp: true}, waitWith(t, targets, db), 200, "ok"},
		{"a file name with a newline keeps the body one line", Status{Phase: "waiting"}, waitWith(t, []string{"file:/a\nb"}), 503, "waiting for file:/a b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := NewState()
			st.Update(func(s *Status) { *s = tc.status })
			h := NewHandler(st, nil, &fakeClock{now: t0})
			if tc.wait != nil {
				h = h.WithWait(tc.wait)
			}
			code, body, _ := do(t, h, "GET", "/readyz")
			wantAnswer(t, code, body, tc.wantCode, tc.want)
		})
	}
}

func TestLivenessHoldsWhileWaiting(t *testing.T) {
	st := NewState()
	st.Update(func(s *Status) { s.Phase, s.Heartbeat, s.LastTick = "waiting", time.Second, t0 })
	h := NewHandler(st, nil, &fakeClock{now: t0.Add(500 * time.Millisecond)}).WithWait(waitWith(t, []string{"tcp://db:5432"}))
	code, body, _ := do(t, h, "GET", "/healthz")
	wantAnswer(t, code, body, 200, "ok")
}

func TestWithWaitLeavesTheOriginalHandlerAlone(t *testing.T) {
	st := NewState()
	st.Update(func(s *Status) { s.Phase = "waiting" })
	h := NewHandler(st, nil, &fakeClock{now: t0})
	_ = h.WithWait(waitWith(t, []string{"tcp://db:5432"}))
	code, body, _ := do(t, h, "GET", "/readyz")
	wantAnswer(t, code, body, 503, "main child not running (waiting)")
}

// An app cannot pass its checks before it runs: while tinit waits for
// its --wait-for targets, failing checks do not count toward FailAfter,
// and the count starts (after StartPeriod) when the wait ends.
func TestChecksCountFromTheWaitsEnd(t *testing.T) {
	for _, tc := range []struct {
		name     string
		phase    string
		waitEnd  time.Duration // after t0; 0: still waiting
		now      time.Duration // after t0
		wantCode int
	}{
		{"waiting an hour", "waiting", 0, time.Hour, 200},
		{"5s after a wait of an hour", "running", time.Hour, time.Hour + 5*time.Second, 200},
		{"FailAfter after the wait", "running", time.Hour, time.Hour + 10*time.Second, 503},
		{"no wait to speak of", "running", time.Millisecond, time.Hour, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: t0}
			checks := NewChecks(CheckConfig{TCP: []string{"x:1"}, FailAfter: 10 * time.Second}, clock)
			checks.publish([]string{"connection refused"})
			w := waitWith(t, []string{"tcp://db:5432"})
			if tc.waitEnd > 0 {
				w.res.End = t0.Add(tc.waitEnd)
			}
			st := NewState()
			st.Update(func(s *Status) { s.Phase = tc.phase })
			clock.now = t0.Add(tc.now)
			code, body, _ := do(t, NewHandler(st, checks, clock).WithWait(w), "GET", "/healthz")
			if code != tc.wantCode {
				t.Errorf("GET /healthz: %d %q, want %d", code, body, tc.wantCode)
			}
		})
	}
}
