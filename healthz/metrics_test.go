package healthz

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scraped is what a scrape parsed to: values by series ("name" or
// `name{label="value"}`) and types by family ("gauge", "counter").
type scraped struct {
	values map[string]float64
	types  map[string]string
}

// scrape GETs /metrics from a handler on st and parses the body with the
// parser Prometheus itself uses.
func scrape(t *testing.T, clock Clock, st *State) scraped {
	t.Helper()
	code, body, hdr := do(t, NewHandler(st, nil, clock), "GET", "/metrics")
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
			key := name
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=\"" + l.GetValue() + "\"}"
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

func TestMetricsParseAndCarryTheLoopsCounts(t *testing.T) {
	for _, tc := range []struct {
		name          string
		update        func(*Status)
		age           time.Duration
		want          map[string]float64
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
			},
			age: 1500 * time.Millisecond,
			want: map[string]float64{
				"tinit_child_up":                                     1,
				"tinit_child_restarts_total":                         2,
				"tinit_child_last_exit_code":                         143,
				"tinit_zombies_reaped_total":                         5,
				`tinit_signals_forwarded_total{signal="SIGTERM"}`:    3,
				`tinit_signals_forwarded_total{signal="SIGHUP"}`:     1,
				`tinit_signals_forwarded_total{signal="SIGRTMIN+2"}`: 1,
				"tinit_heartbeat_age_seconds":                        1.5,
			},
			wantForwarded: 3,
		},
		{
			name:   "heartbeat age is 0 when the heartbeat is off",
			update: func(s *Status) { s.LastTick = t0 },
			age:    time.Hour,
			want:   map[string]float64{"tinit_heartbeat_age_seconds": 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := NewState()
			st.Update(tc.update)
			got := scrape(t, &fakeClock{now: t0.Add(tc.age)}, st)
			for key, want := range tc.want {
				if v, ok := got.values[key]; !ok {
					t.Errorf("%s: missing", key)
				} else if v != want {
					t.Errorf("%s = %v, want %v", key, v, want)
				}
			}
			n := 0
			for key := range got.values {
				if strings.HasPrefix(key, "tinit_signals_forwarded_total") {
					n++
				}
			}
			if n != tc.wantForwarded {
				t.Errorf("%d series of tinit_signals_forwarded_total, want %d (one per signal sent)", n, tc.wantForwarded)
			}
		})
	}
}

func TestMetricsHaveTheDeclaredTypes(t *testing.T) {
	st := NewState()
	st.Update(func(s *Status) { s.Forwarded[15]++ })
	got := scrape(t, &fakeClock{now: t0}, st)
	for name, want := range map[string]string{
		"tinit_child_up":                "gauge",
		"tinit_child_restarts_total":    "counter",
		"tinit_child_last_exit_code":    "gauge",
		"tinit_zombies_reaped_total":    "counter",
		"tinit_signals_forwarded_total": "counter",
		"tinit_heartbeat_age_seconds":   "gauge",
	} {
		if got.types[name] != want {
			t.Errorf("%s is a %q, want a %q", name, got.types[name], want)
		}
	}
}
