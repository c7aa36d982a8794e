package healthz

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scraped is what a scrape parsed to: values by series (see series) and
// types by family ("gauge", "counter").
type scraped struct {
	values map[string]float64
	types  map[string]string
}

// series is the key of one series in scraped.values: the name, then the
// labels sorted by name with Go-quoted values, `name{a="x",b="y"}`, or
// the name alone. labels are name, value pairs.
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, labels[i]+"="+strconv.Quote(labels[i+1]))
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// scrape GETs /metrics from a handler on st and parses the body with the
// parser Prometheus itself uses.
func scrape(t *testing.T, clock Clock, st *State) scraped {
	t.Helper()
	return scrapeHandler(t, NewHandler(st, nil, clock))
}

// scrapeHandler GETs /metrics from h and parses the body.
func scrapeHandler(t *testing.T, h *Handler) scraped {
	t.Helper()
	code, body, hdr := do(t, h, "GET", "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: status %d", code)
	}
	if got, want := hdr.Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8"; got != want {
		t.Errorf("Content-Type %q, want %q", got, want)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	s := scraped{values: map[string]float64{}, types: map[string]string{}}
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP line", name)
		}
		s.types[name] = strings.ToLower(f.GetType().String())
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName(), l.GetValue())
			}
			key := series(name, labels...)
			if _, dup := s.values[key]; dup {
				t.Errorf("%s: two series", key)
			}
			v := m.GetGauge().GetValue()
			if m.GetCounter() != nil {
				v = m.GetCounter().GetValue()
			}
			s.values[key] = v
		}
	}
	return s
}

// wantSeries checks that got has each series of want with its value, and
// none of absent.
func wantSeries(t *testing.T, got scraped, want map[string]float64, absent ...string) {
	t.Helper()
	for key, w := range want {
		if v, ok := got.values[key]; !ok {
			t.Errorf("%s: missing", key)
		} else if v != w {
			t.Errorf("%s = %v, want %v", key, v, w)
		}
	}
	for _, key := range absent {
		if v, ok := got.values[key]; ok {
			t.Errorf("%s = %v, want no such series", key, v)
		}
	}
}

// wantFamily checks that family name has exactly the series in want,
// with their values.
func wantFamily(t *testing.T, got scraped, name string, want map[string]float64) {
	t.Helper()
	wantSeries(t, got, want)
	if n := countSeries(got, name); n != len(want) {
		t.Errorf("%d series of %s, want %d", n, name, len(want))
	}
}

// countSeries is how many series of family name got has.
func countSeries(got scraped, name string) int {
	n := 0
	for key := range got.values {
		if key == name || strings.HasPrefix(key, name+"{") {
			n++
		}
	}
	return n
}

// t0Unix is t0 in seconds since the Unix epoch, as the timestamp gauges
// report it.
var t0Unix = float64(t0.Unix())

func TestMetricsParseAndCarryTheLoopsCounts(t *testing.T) {
	const (
		started   = "tinit_child_start_time_seconds"
		heartbeat = "tinit_last_heartbeat_timestamp_seconds"
	)
	for _, tc := range []struct {
		name          string
		update        func(*Status)
		age           time.Duration
		want          map[string]float64
		absent        []string
		wantForwarded int // series of tinit_signals_forwarded_total
	}{
		{
			name:   "a new state reports no exit yet and no signals",
			update: func(*Status) {},
			want: map[string]float64{
				"tinit_child_up":              0,
				"tinit_child_restarts_total":  0,
				"tinit_child_last_exit_code":  -1,
				"tinit_zombies_reaped_total":  0,
				"tinit_heartbeat_age_seconds": 0,
			},
			absent: []string{started, heartbeat},
		},
		{
			name: "restarts, three SIGTERMs and reaped zombies are counted",
			update: func(s *Status) {
				s.ChildUp, s.Restarts, s.LastExitCode, s.ZombiesReaped = true, 2, 143, 5
				for range 3 {
					s.Forwarded[15]++
				}
				s.Forwarded[1]++
				s.Forwarded[36]++
				s.Heartbeat, s.LastTick = time.Second, t0
				s.ChildStarted = t0.Add(-90*time.Second + 250*time.Millisecond)
			},
			age: 1500 * time.Millisecond,
			want: map[string]float64{
				"tinit_child_up":                                                1,
				"tinit_child_restarts_total":                                    2,
				"tinit_child_last_exit_code":                                    143,
				"tinit_zombies_reaped_total":                                    5,
				series("tinit_signals_forwarded_total", "signal", "SIGTERM"):    3,
				series("tinit_signals_forwarded_total", "signal", "SIGHUP"):     1,
				series("tinit_signals_forwarded_total", "signal", "SIGRTMIN+2"): 1,
				"tinit_heartbeat_age_seconds":                                   1.5,
				heartbeat:                                                       t0Unix,
				started:                                                         t0Unix - 89.75,
			},
			wantForwarded: 3,
		},
		{
			name:   "heartbeat age is 0 and its timestamp absent when the heartbeat is off",
			update: func(s *Status) { s.LastTick = t0 },
			age:    time.Hour,
			want:   map[string]float64{"tinit_heartbeat_age_seconds": 0},
			absent: []string{heartbeat},
		},
		{
			name: "the child's own word with --notify",
			update: func(s *Status) {
				s.Phase, s.ChildUp, s.Notify, s.ChildReady = "running", true, true, true
				s.NotifyCounts[NotifyReady], s.NotifyCounts[NotifyUnknown] = 2, 3
				s.Rejected[RejectAccess], s.Rejected[RejectFDs] = 4, 5
				s.WatchdogPing = t0
			},
			want: map[string]float64{
				"tinit_child_ready": 1,
				series("tinit_notify_messages_total", "type", "READY"):       2,
				series("tinit_notify_messages_total", "type", "unknown"):     3,
				series("tinit_notify_messages_total", "type", "STOPPING"):    0,
				series("tinit_notify_rejected_total", "reason", "access"):    4,
				series("tinit_notify_rejected_total", "reason", "oversized"): 0,
				series("tinit_notify_rejected_total", "reason", "fds"):       5,
				"tinit_watchdog_last_ping_timestamp_seconds":                 t0Unix,
			},
		},
		{
			name:   "not ready with --notify before READY=1; no notify series without --notify",
			update: func(s *Status) { s.Phase, s.ChildUp, s.Notify = "running", true, true },
			want:   map[string]float64{"tinit_child_ready": 0},
			absent: []string{"tinit_watchdog_last_ping_timestamp_seconds"},
		},
		{
			name: "the last child's start time stays while it is down",
			update: func(s *Status) {
				s.Phase, s.ChildUp, s.ChildStarted, s.Restarts = "backoff", false, t0, 1
			},
			want: map[string]float64{"tinit_child_up": 0, started: t0Unix},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := NewState()
			st.Update(tc.update)
			got := scrape(t, &fakeClock{now: t0.Add(tc.age)}, st)
			wantSeries(t, got, tc.want, tc.absent...)
			if n := countSeries(got, "tinit_signals_forwarded_total"); n != tc.wantForwarded {
				t.Errorf("%d series of tinit_signals_forwarded_total, want %d (one per signal sent)", n, tc.wantForwarded)
			}
		})
	}
}

func TestMetricsTimestampsKeepTheirFraction(t *testing.T) {
	st := NewState()
	at := time.Unix(1_700_000_000, 125_000_000) // .125 is exact in binary
	st.Update(func(s *Status) { s.ChildStarted, s.Heartbeat, s.LastTick = at, time.Second, at })
	_, body, _ := do(t, NewHandler(st, nil, &fakeClock{now: at}), "GET", "/metrics")
	for _, line := range []string{
		"tinit_child_start_time_seconds 1700000000.125\n",
		"tinit_last_heartbeat_timestamp_seconds 1700000000.125\n",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("/metrics has no line %q (plain seconds, not exponent notation):\n%s", line, body)
		}
	}
}

func TestBuildInfo(t *testing.T) {
	const name = "tinit_build_info"
	for _, tc := range []struct {
		name  string
		build *BuildInfo // nil: no WithBuild
		want  map[string]float64
	}{
		{"without a build there is no series", nil, nil},
		{
			"a release build is one series with value 1",
			&BuildInfo{Version: "v1.2.0", Commit: "0123456789abcdef0123456789abcdef01234567", GoVersion: "go1.26.8"},
			map[string]float64{series(name, "version", "v1.2.0", "commit", "0123456789abcdef0123456789abcdef01234567", "goversion", "go1.26.8"): 1},
		},
		{
			"quotes, backslashes and newlines in a stamped version are escaped",
			&BuildInfo{Version: `v1 "x"\y` + "\nz", Commit: "unknown", GoVersion: "go1.26.8 X:nodwarf5"},
			map[string]float64{series(name, "version", `v1 "x"\y`+"\nz", "commit", "unknown", "goversion", "go1.26.8 X:nodwarf5"): 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(NewState(), nil, &fakeClock{now: t0})
			if tc.build != nil {
				h = h.WithBuild(*tc.build)
			}
			got := scrapeHandler(t, h)
			wantFamily(t, got, name, tc.want)
		})
	}
}

func TestWithBuildLeavesTheOriginalHandlerAlone(t *testing.T) {
	h := NewHandler(NewState(), nil, &fakeClock{now: t0})
	_ = h.WithBuild(BuildInfo{Version: "v1"})
	if n := countSeries(scrapeHandler(t, h), "tinit_build_info"); n != 0 {
		t.Errorf("the handler WithBuild was called on has %d build series, want 0", n)
	}
}

func TestCheckUpIsOneSeriesPerCheck(t *testing.T) {
	const name = "tinit_check_up"
	up := func(target string) string { return series(name, "check", target) }
	for _, tc := range []struct {
		name    string
		cfg     CheckConfig
		reasons []string // the last round, nil: no round yet
		want    map[string]float64
	}{
		{"no checks, no series", CheckConfig{}, nil, nil},
		{
			"every check is down before its first round",
			CheckConfig{TCP: []string{"127.0.0.1:8080"}, HTTP: []string{"http://localhost:8080/healthz"}, File: []string{"/tmp/ready"}},
			nil,
			map[string]float64{up("tcp://127.0.0.1:8080"): 0, up("http://localhost:8080/healthz"): 0, up("file:///tmp/ready"): 0},
		},
		{
			"each check carries its own outcome",
			CheckConfig{TCP: []string{"127.0.0.1:8080", "[::1]:9090"}, HTTP: []string{"http://localhost:8080/healthz?full=1"}, File: []string{"/tmp/ready"}},
			[]string{"", "connection refused", "", "no such file or directory"},
			map[string]float64{up("tcp://127.0.0.1:8080"): 1, up("tcp://[::1]:9090"): 0, up("http://localhost:8080/healthz?full=1"): 1, up("file:///tmp/ready"): 0},
		},
		{
			"quotes, backslashes and newlines in a path are escaped",
			CheckConfig{File: []string{`/srv/"a"\b` + "\nc"}},
			[]string{""},
			map[string]float64{up(`file:///srv/"a"\b` + "\nc"): 1},
		},
		{
			"a path that is not UTF-8 is still a valid label",
			CheckConfig{File: []string{"/srv/caf\xe9"}},
			[]string{""},
			map[string]float64{up("file:///srv/caf\uFFFD"): 1},
		},
		{
			"a check given twice is one series, up only if both passed",
			CheckConfig{TCP: []string{"db:5432", "db:5432"}},
			[]string{"", "connection refused"},
			map[string]float64{up("tcp://db:5432"): 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var checks *Checks
			if tc.cfg.Count() > 0 {
				checks = NewChecks(tc.cfg, &fakeClock{now: t0})
				if tc.reasons != nil {
					checks.publish(tc.reasons)
				}
			}
			got := scrapeHandler(t, NewHandler(NewState(), checks, &fakeClock{now: t0}))
			wantFamily(t, got, name, tc.want)
		})
	}
}

func TestMetricsHaveTheDeclaredTypes(t *testing.T) {
	st := NewState()
	// A family with no series parses to nothing: give each one.
	st.Update(func(s *Status) {
		s.Forwarded[15]++
		s.Dropped[1]++
		s.ReloadOn = true
		s.ChildStarted, s.Heartbeat, s.LastTick = t0, time.Second, t0
	})
	checks := NewChecks(CheckConfig{File: []string{"/"}}, &fakeClock{now: t0})
	h := NewHandler(st, checks, &fakeClock{now: t0}).WithBuild(BuildInfo{Version: "v1"}).WithWait(waitWith(t, []string{"tcp://db:5432"}))
	got := scrapeHandler(t, h)
	for name, want := range map[string]string{
		"tinit_build_info":                       "gauge",
		"tinit_child_up":                         "gauge",
		"tinit_child_start_time_seconds":         "gauge",
		"tinit_child_restarts_total":             "counter",
		"tinit_child_last_exit_code":             "gauge",
		"tinit_zombies_reaped_total":             "counter",
		"tinit_signals_forwarded_total":          "counter",
		"tinit_heartbeat_age_seconds":            "gauge",
		"tinit_last_heartbeat_timestamp_seconds": "gauge",
		"tinit_check_up":                         "gauge",
		"tinit_signals_dropped_total":            "counter",
		"tinit_reloads_total":                    "counter",
		"tinit_wait_target_up":                   "gauge",
		"tinit_wait_seconds":                     "gauge",
	} {
		if got.types[name] != want {
			t.Errorf("%s is a %q, want a %q", name, got.types[name], want)
		}
	}
}

// TestEachFamilyIsOneBlock: the text format wants every family's HELP,
// TYPE and samples together; expfmt's parser does not check it, other
// parsers type samples by the TYPE line just before them.
func TestEachFamilyIsOneBlock(t *testing.T) {
	st := NewState()
	st.Update(func(s *Status) {
		s.ChildUp, s.Notify, s.WatchdogPing, s.Heartbeat, s.LastTick, s.ChildStarted = true, true, t0, time.Second, t0, t0
		s.Forwarded[15] = 1
		s.Dropped[15], s.Dropped[1] = 1, 2
		s.ReloadOn = true
	})
	h := NewHandler(st, nil, &fakeClock{now: t0}).WithWait(waitWith(t, []string{"tcp://db:5432", "file:/run/ready"}))
	_, body, _ := do(t, h, "GET", "/metrics")
	seen := map[string]bool{}
	current := ""
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		name := ""
		if f := strings.Fields(line); strings.HasPrefix(line, "# ") && len(f) >= 3 {
			name = f[2]
		} else {
			name, _, _ = strings.Cut(strings.Fields(line)[0], "{")
		}
		if name != current {
			if seen[name] {
				t.Fatalf("family %s comes in two blocks:\n%s", name, body)
			}
			seen[name], current = true, name
			if !strings.HasPrefix(line, "# HELP ") {
				t.Fatalf("family %s starts without HELP: %q", name, line)
			}
		}
	}
}

func TestDroppedSignalsAreOneSeriesPerSignal(t *testing.T) {
	const name = "tinit_signals_dropped_total"
	dropped := func(sig string) string { return series(name, "signal", sig) }
	for _, tc := range []struct {
		name   string
		update func(*Status)
		want   map[string]float64
	}{
		{"none dropped, no series", func(*Status) {}, nil},
		{
			"each signal dropped has its own count, apart from those forwarded",
			func(s *Status) {
				s.Dropped[1], s.Dropped[15], s.Dropped[36] = 2, 1, 3
				s.Forwarded[1] = 5
			},
			map[string]float64{dropped("SIGHUP"): 2, dropped("SIGTERM"): 1, dropped("SIGRTMIN+2"): 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := NewState()
			st.Update(tc.update)
			got := scrape(t, &fakeClock{now: t0}, st)
			wantFamily(t, got, name, tc.want)
		})
	}
}

func TestReloadsHaveAllFourSeriesOnceConfigured(t *testing.T) {
	const name = "tinit_reloads_total"
	reloads := func(action, cause string) string { return series(name, "action", action, "cause", cause) }
	for _, tc := range []struct {
		name   string
		update func(*Status)
		want   map[string]float64
	}{
		{"not configured, no series", func(s *Status) { s.Reloads[ReloadSignal][ReloadCauseFile] = 1 }, nil},
		{
			"configured: every action and cause, zeros included",
			func(s *Status) {
				s.ReloadOn = true
				s.Reloads[ReloadSignal][ReloadCauseFile] = 3
				s.Reloads[ReloadRestart][ReloadCauseSignal] = 2
			},
			map[string]float64{
				reloads("signal", "file"):    3,
				reloads("signal", "signal"):  0,
				reloads("restart", "file"):   0,
				reloads("restart", "signal"): 2,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := NewState()
			st.Update(tc.update)
			got := scrape(t, &fakeClock{now: t0}, st)
			wantFamily(t, got, name, tc.want)
		})
	}
}

func TestWaitMetrics(t *testing.T) {
	const (
		db    = "tcp://127.0.0.1:5432"
		mesh  = "http://127.0.0.1:15021/healthz/ready"
		up    = "tinit_wait_target_up"
		secs  = "tinit_wait_seconds"
		weird = `file:/srv/"a"\b` + "\nc\xe9"
	)
	target := func(s string) string { return series(up, "target", s) }
	for _, tc := range []struct {
		name    string
		wait    func(t *testing.T) *Wait // nil: no WithWait
		now     time.Duration            // since t0
		want    map[string]float64
		wantUps int
	}{
		{"no --wait-for, no series", nil, time.Hour, nil, 0},
		{"no targets, no series", func(*testing.T) *Wait { return NewWait(nil, nil) }, time.Hour, nil, 0},
		{
			"before the first round every target is down and no time is reported",
			func(t *testing.T) *Wait { w := waitWith(t, []string{db, mesh}); w.res.Start = time.Time{}; return w },
			time.Hour,
			map[string]float64{target(db): 0, target(mesh): 0},
			2,
		},
		{
			"while waiting, the time so far",
			func(t *testing.T) *Wait { return waitWith(t, []string{db, mesh}, mesh) },
			2500 * time.Millisecond,
			map[string]float64{target(db): 0, target(mesh): 1, secs: 2.5},
			2,
		},
		{
			"after the wait, how long it took",
			func(t *testing.T) *Wait {
				w := waitWith(t, []string{db, mesh}, db, mesh)
				w.res.End = t0.Add(1250 * time.Millisecond)
				return w
			},
			time.Hour,
			map[string]float64{target(db): 1, target(mesh): 1, secs: 1.25},
			2,
		},
		{
			"a target's label is escaped, and made UTF-8",
			func(t *testing.T) *Wait { return waitWith(t, []string{weird}) },
			0,
			map[string]float64{target(`file:/srv/"a"\b` + "\nc\uFFFD"): 0, secs: 0},
			1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(NewState(), nil, &fakeClock{now: t0.Add(tc.now)})
			if tc.wait != nil {
				h = h.WithWait(tc.wait(t))
			}
			got := scrapeHandler(t, h)
			wantSeries(t, got, tc.want)
			if n := countSeries(got, up); n != tc.wantUps {
				t.Errorf("%d series of %s, want %d", n, up, tc.wantUps)
			}
			if _, ok := tc.want[secs]; !ok {
				wantSeries(t, got, nil, secs)
			}
		})
	}
}
