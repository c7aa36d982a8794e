package webhook

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Outcomes of an admission, beside mutate's injected, skipped and
// unchanged.
const (
	OutcomeIgnored = "ignored" // not a pod at CREATE
	OutcomeError   = "error"   // not understood, or the mutation failed: allowed, no patch
)

// admissionOutcomes and lookupOutcomes are exported at 0 from the start,
// so that rate() and alerts see every series.
var (
	admissionOutcomes = []string{"injected", "skipped", "unchanged", OutcomeIgnored, OutcomeError}
	lookupOutcomes    = []string{"hit", "miss", "error"}
)

// latencyBuckets are the histogram's upper bounds in seconds: from a
// pod with a command (microseconds) to a lookup that used the whole
// deadline (seconds).
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics counts what the webhook did. It is safe for concurrent use.
type Metrics struct {
	mu         sync.Mutex
	version    string
	admissions map[string]uint64
	lookups    map[string]uint64
	buckets    []uint64 // per latencyBuckets, not cumulative
	sum        float64
	count      uint64
}

// NewMetrics starts every counter at 0.
func NewMetrics(version string) *Metrics {
	m := &Metrics{version: version, admissions: map[string]uint64{}, lookups: map[string]uint64{}, buckets: make([]uint64, len(latencyBuckets))}
	for _, o := range admissionOutcomes {
		m.admissions[o] = 0
	}
	for _, o := range lookupOutcomes {
		m.lookups[o] = 0
	}
	return m
}

// Admission counts one answered admission and how long it took.
func (m *Metrics) Admission(outcome string, took time.Duration) {
	s := took.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.admissions[outcome]++
	m.sum += s
	m.count++
	for i, b := range latencyBuckets {
		if s <= b {
			m.buckets[i]++
			break
		}
	}
}

// Lookup counts one image lookup.
func (m *Metrics) Lookup(outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups[outcome]++
}

// Admissions returns the admissions counted for outcome (tests).
func (m *Metrics) Admissions(outcome string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.admissions[outcome]
}

// Lookups returns the image lookups counted for outcome (tests).
func (m *Metrics) Lookups(outcome string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookups[outcome]
}

// WriteTo writes the metrics in Prometheus' text format (0.0.4).
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP tinit_inject_build_info The tinit-inject build that runs; always 1.\n# TYPE tinit_inject_build_info gauge\ntinit_inject_build_info{version=%q} 1\n", m.version)
	counter := func(name, help string, vals map[string]uint64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s{outcome=%q} %d\n", name, k, vals[k])
		}
	}
	counter("tinit_inject_admissions_total", "Admission requests answered, by outcome (injected, skipped, unchanged, ignored, error).", m.admissions)
	counter("tinit_inject_image_lookups_total", "Image config lookups, by outcome (hit: cached by digest, miss: read from the registry, error).", m.lookups)
	b.WriteString("# HELP tinit_inject_admission_seconds Time to answer an admission request.\n# TYPE tinit_inject_admission_seconds histogram\n")
	var cum uint64
	for i, le := range latencyBuckets {
		cum += m.buckets[i]
		fmt.Fprintf(&b, "tinit_inject_admission_seconds_bucket{le=%q} %d\n", strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	fmt.Fprintf(&b, "tinit_inject_admission_seconds_bucket{le=\"+Inf\"} %d\n", m.count)
	fmt.Fprintf(&b, "tinit_inject_admission_seconds_sum %s\n", strconv.FormatFloat(m.sum, 'g', -1, 64))
	fmt.Fprintf(&b, "tinit_inject_admission_seconds_count %d\n", m.count)
	m.mu.Unlock()
	bw := bufio.NewWriter(w)
	n, err := bw.WriteString(b.String())
	if err == nil {
		err = bw.Flush()
	}
	return int64(n), err
}

// HealthMux serves the plain-HTTP endpoints: /healthz (200 "ok" while
// the process serves) and /metrics.
func HealthMux(m *Metrics) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.WriteTo(w)
	})
	return mux
}
