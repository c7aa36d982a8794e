package healthz

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// runRound runs one round of c and returns the result.
func runRound(t *testing.T, c *Checks) CheckResult {
	t.Helper()
	c.round(context.Background())
	return c.Result()
}

// wantResult checks ok and that Detail contains detail.
func wantResult(t *testing.T, got CheckResult, ok bool, detail string) {
	t.Helper()
	if got.OK != ok {
		t.Errorf("OK %v, want %v (detail %q)", got.OK, ok, got.Detail)
	}
	if !strings.Contains(got.Detail, detail) || strings.Contains(got.Detail, "\n") {
		t.Errorf("detail %q: want one line containing %q", got.Detail, detail)
	}
	if ok && (got.Detail != "" || !got.FailingSince.IsZero()) {
		t.Errorf("passing round left detail %q, failing since %v", got.Detail, got.FailingSince)
	}
}

func TestTCPCheckFollowsTheListenerOpenClosedOpen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	clock := &fakeClock{now: t0}
	c := NewChecks(CheckConfig{TCP: []string{addr}, Timeout: time.Second}, clock)

	wantResult(t, runRound(t, c), true, "")

	l.Close()
	clock.now = t0.Add(time.Minute)
	res := runRound(t, c)
	wantResult(t, res, false, "tcp "+addr+": connection refused")
	if !res.FailingSince.Equal(clock.now) {
		t.Errorf("FailingSince %v, want the first failing round %v", res.FailingSince, clock.now)
	}

	clock.now = t0.Add(2 * time.Minute)
	if res := runRound(t, c); !res.FailingSince.Equal(t0.Add(time.Minute)) {
		t.Errorf("a second failing round moved FailingSince to %v", res.FailingSince)
	}

	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	defer l.Close()
	wantResult(t, runRound(t, c), true, "")
}

func TestHTTPCheckPassesOn2xxAnd3xxOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(200)
		case "/moved":
			// Somewhere that would fail if followed.
			http.Redirect(w, r, "http://127.0.0.1:1/", http.StatusFound)
		default:
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		path   string
		ok     bool
		detail string
	}{
		{"200 passes", "/ok", true, ""},
		{"302 passes without being followed", "/moved", true, ""},
		{"500 fails naming the status", "/broken", false, "http " + srv.URL + "/broken: status 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChecks(CheckConfig{HTTP: []string{srv.URL + tc.path}, Timeout: time.Second}, &fakeClock{now: t0})
			wantResult(t, runRound(t, c), tc.ok, tc.detail)
		})
	}
}

func TestHTTPCheckTimesOutOnAHungApp(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	c := NewChecks(CheckConfig{HTTP: []string{srv.URL}, Timeout: 100 * time.Millisecond}, &fakeClock{now: t0})
	start := time.Now()
	wantResult(t, runRound(t, c), false, "timed out after 100ms")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("round took %v, want about the 100ms timeout", d)
	}
}

func TestFileCheckFollowsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready")
	c := NewChecks(CheckConfig{File: []string{path}}, &fakeClock{now: t0})
	wantResult(t, runRound(t, c), false, "file "+path+": no such file or directory")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantResult(t, runRound(t, c), true, "")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	wantResult(t, runRound(t, c), false, "no such file or directory")
}

func TestDetailNamesTheFirstFailingCheckInOrder(t *testing.T) {
	dir := t.TempDir()
	c := NewChecks(CheckConfig{File: []string{dir, dir + "/a", dir + "/b"}}, &fakeClock{now: t0})
	wantResult(t, runRound(t, c), false, "file "+dir+"/a:")
}

func TestEachCheckReportsItsOwnOutcomeUnderItsTarget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	dir := t.TempDir()
	c := NewChecks(CheckConfig{TCP: []string{addr}, File: []string{dir, dir + "/missing"}, Timeout: time.Second}, &fakeClock{now: t0})
	for _, tc := range []struct {
		name  string
		round bool
		want  []CheckStatus
	}{
		{"before the first round every check is down", false, []CheckStatus{
			{"tcp://" + addr, false}, {"file://" + dir, false}, {"file://" + dir + "/missing", false},
		}},
		{"after a round each check has its own outcome", true, []CheckStatus{
			{"tcp://" + addr, true}, {"file://" + dir, true}, {"file://" + dir + "/missing", false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.Result()
			if tc.round {
				res = runRound(t, c)
			}
			if !slices.Equal(res.Checks, tc.want) {
				t.Errorf("checks %+v, want %+v", res.Checks, tc.want)
			}
		})
	}
}

func TestRunChecksAtOnceAndStopsWithTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready")
	c := NewChecks(CheckConfig{File: []string{path}, Interval: 10 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { c.Run(ctx); close(stopped) }()

	waitFor := func(what string, cond func(CheckResult) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond(c.Result()) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 5s: %+v", what, c.Result())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("first failing round", func(r CheckResult) bool { return r.Detail != notRunYet })
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("passing round", func(r CheckResult) bool { return r.OK })

	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of the context ending")
	}
}

func TestNoChecksConfigured(t *testing.T) {
	c := NewChecks(CheckConfig{}, nil)
	if res := c.Result(); res.Configured || res.OK {
		t.Errorf("result %+v, want not configured and not OK", res)
	}
	done := make(chan struct{})
	go func() { c.Run(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run with no checks did not return")
	}
}

func TestCheckDefaults(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		interval, timeout         time.Duration
		wantInterval, wantTimeout time.Duration
	}{
		{"nothing set gives 2s rounds with a 1s timeout", 0, 0, 2 * time.Second, time.Second},
		{"a short interval caps the timeout", 500 * time.Millisecond, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{"a set timeout is kept", 10 * time.Second, 3 * time.Second, 10 * time.Second, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChecks(CheckConfig{Interval: tc.interval, Timeout: tc.timeout}, nil)
			if c.cfg.Interval != tc.wantInterval || c.cfg.Timeout != tc.wantTimeout {
				t.Errorf("interval %v, timeout %v; want %v, %v", c.cfg.Interval, c.cfg.Timeout, tc.wantInterval, tc.wantTimeout)
			}
		})
	}
}

func TestValidateChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  CheckConfig
		want []string
	}{
		{"an empty config is valid", CheckConfig{}, nil},
		{"good checks are valid", CheckConfig{
			TCP:  []string{"127.0.0.1:8080", "[::1]:80", ":9000", "db:5432"},
			HTTP: []string{"http://127.0.0.1:8080/health", "http://app/", "http://u:p@app:81/x?y=1"},
			File: []string{"/tmp/ready"},
		}, nil},
		{"a TCP check without a port is named", CheckConfig{TCP: []string{"x"}}, []string{`--check-tcp "x": want HOST:PORT`}},
		{"a TCP check with a port out of range is named", CheckConfig{TCP: []string{"x:99999"}}, []string{`--check-tcp "x:99999": want HOST:PORT`}},
		{"an ftp URL is named", CheckConfig{HTTP: []string{"ftp://x"}}, []string{`--check-http "ftp://x": want an http:// URL`}},
		{"an https URL is refused, naming the way out", CheckConfig{HTTP: []string{"https://app/"}}, []string{`--check-http "https://app/": https is not supported (tinit has no TLS): use an http:// URL or --check-tcp HOST:PORT`}},
		{"an HTTP check on port 0 is named", CheckConfig{HTTP: []string{"http://x:0/"}}, []string{`--check-http "http://x:0/": want a port from 1 to 65535 (or none, for 80)`}},
		{"an HTTP check with a port out of range is named", CheckConfig{HTTP: []string{"http://127.0.0.1:99999/health"}}, []string{`--check-http "http://127.0.0.1:99999/health": want a port from 1 to 65535 (or none, for 80)`}},
		{"a URL without a host is named", CheckConfig{HTTP: []string{"http://"}}, []string{`--check-http "http://": want an http:// URL`}},
		{"a relative file is named", CheckConfig{File: []string{"ready"}}, []string{`--check-file "ready": want an absolute path`}},
		{"negative durations are named", CheckConfig{Interval: -1, FailAfter: -time.Second}, []string{
			`--check-interval "-1ns": want a duration of 0 or more`,
			`--check-fail-after "-1s": want a duration of 0 or more`,
		}},
		{"every problem is reported", CheckConfig{TCP: []string{"a", "b:1", "c"}, HTTP: []string{"x"}}, []string{
			`--check-tcp "a": want HOST:PORT`,
			`--check-tcp "c": want HOST:PORT`,
			`--check-http "x": want an http:// URL`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateChecks(tc.cfg, nil)
			var got []string
			for _, err := range errs {
				got = append(got, err.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestValidateChecksNamesTheSourceItIsGiven(t *testing.T) {
	source := func(flag string) string {
		if flag == "--check-http" {
			return "TINIT_CHECK_HTTP"
		}
		return flag
	}
	errs := ValidateChecks(CheckConfig{HTTP: []string{"ftp://x"}, TCP: []string{"x"}}, source)
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	want := []string{`--check-tcp "x": want HOST:PORT`, `TINIT_CHECK_HTTP "ftp://x": want an http:// URL`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFailuresInTheStartPeriodCountFromItsEnd(t *testing.T) {
	clock := &fakeClock{now: t0}
	missing := filepath.Join(t.TempDir(), "not-yet")
	c := NewChecks(CheckConfig{File: []string{missing}, Timeout: time.Second, StartPeriod: 10 * time.Second}, clock)
	clock.now = t0.Add(time.Second)
	res := runRound(t, c)
	if res.OK || !res.FailingSince.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("a failing round in the start period: OK %v, FailingSince %v; want failing since the period's end %v", res.OK, res.FailingSince, t0.Add(10*time.Second))
	}
	clock.now = t0.Add(time.Minute)
	if res := runRound(t, c); !res.FailingSince.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("a later failing round moved FailingSince to %v", res.FailingSince)
	}
}

func TestOneStatAtATime(t *testing.T) {
	c := NewChecks(CheckConfig{File: []string{"/"}, Timeout: 50 * time.Millisecond}, &fakeClock{now: t0})
	c.stat <- struct{}{} // a stat hung on a dead mount
	res := runRound(t, c)
	if res.OK || !strings.Contains(res.Detail, "timed out") {
		t.Fatalf("a file check behind a hung stat: %+v; want it to time out, not start another stat", res)
	}
	<-c.stat
	if res := runRound(t, c); !res.OK {
		t.Fatalf("after the hung stat returned: %+v; want OK", res)
	}
}

// An app starts a moment after tinit, so the first round fails: until a
// round passes, the next one comes firstPassRetry later, not an Interval
// later, and readiness follows the app's port within about 100 ms. Once
// the checks have passed, rounds come every Interval again.
func TestChecksRetryQuicklyUntilTheyFirstPass(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	c := NewChecks(CheckConfig{TCP: []string{addr}, Interval: time.Hour}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)

	waitResult := func(what string, within time.Duration, cond func(CheckResult) bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond(c.Result()) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %v: %+v", what, within, c.Result())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitResult("first failing round", 5*time.Second, func(r CheckResult) bool { return r.Detail != notRunYet })
	time.Sleep(3 * firstPassRetry)
	if l, err = net.Listen("tcp", addr); err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	defer l.Close()
	// An hour's Interval: only the quick retry can see the port open. The
	// bound is generous for a loaded machine; the retry is 50 ms.
	waitResult("passing round after the port opened", 5*time.Second, func(r CheckResult) bool { return r.OK })

	// Passed once: the next round is an Interval (an hour) away, so closing
	// the port changes nothing for now.
	l.Close()
	time.Sleep(10 * firstPassRetry)
	if r := c.Result(); !r.OK {
		t.Errorf("a round ran within %v of the first pass, want none before the Interval: %+v", 10*firstPassRetry, r)
	}
}
