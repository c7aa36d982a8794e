package main_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeSeries GETs /metrics and parses it with Prometheus's own parser:
// values by `name{label="value",...}`, labels in the order tinit writes
// them, or by the bare name for a series without labels.
func scrapeSeries(t *testing.T, port int) map[string]float64 {
	t.Helper()
	code, body := get(port, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics answered %d %q", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	got := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			got[key] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return got
}

// unixNow is the wall clock as the timestamp gauges report it.
func unixNow() float64 { return float64(time.Now().UnixNano()) / 1e9 }

func TestMetricsReportBuildStartTimeHeartbeatAndChecks(t *testing.T) {
	app, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	appAddr := app.Addr().String()
	ready := filepath.Join(t.TempDir(), "ready")
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	before := unixNow()
	r := startTinit(t, nil, "--health-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--check-tcp", appAddr, "--check-file", ready, "--check-interval", "100ms", "--heartbeat", "100ms",
		"--", "/bin/sleep", "1000")
	waitCode(t, port, "/readyz", 200, 10*time.Second)
	tcpUp := fmt.Sprintf("tinit_check_up{check=%q}", "tcp://"+appAddr)
	fileUp := fmt.Sprintf("tinit_check_up{check=%q}", "file://"+ready)

	t.Run("the build, the child's start and the last tick are reported", func(t *testing.T) {
		got := scrapeSeries(t, port)
		// The test builds tinit without -X stamps, with this toolchain.
		build := fmt.Sprintf("tinit_build_info{version=%q,commit=%q,goversion=%q}", "dev", "unknown", runtime.Version())
		if got[build] != 1 {
			t.Errorf("%s = %v, want 1; series: %v", build, got[build], got)
		}
		now := unixNow()
		if v := got["tinit_child_start_time_seconds"]; v < before-1 || v > now+1 {
			t.Errorf("tinit_child_start_time_seconds = %.3f, want between the test's start %.3f and now %.3f", v, before, now)
		}
		// Three missed 100ms ticks fail liveness; a second is slack enough.
		if v := got["tinit_last_heartbeat_timestamp_seconds"]; v < now-1 || v > now+1 {
			t.Errorf("tinit_last_heartbeat_timestamp_seconds = %.3f, want within 1s of now %.3f", v, now)
		}
	})
	t.Run("each check has its own series, and a closed port turns only its own to 0", func(t *testing.T) {
		if got := scrapeSeries(t, port); got[tcpUp] != 1 || got[fileUp] != 1 {
			t.Fatalf("with both checks passing: %s = %v, %s = %v; want 1 and 1", tcpUp, got[tcpUp], fileUp, got[fileUp])
		}
		app.Close()
		waitCode(t, port, "/readyz", 503, 3*time.Second)
		if got := scrapeSeries(t, port); got[tcpUp] != 0 || got[fileUp] != 1 {
			t.Fatalf("with the port closed: %s = %v, %s = %v; want 0 and 1", tcpUp, got[tcpUp], fileUp, got[fileUp])
		}
	})
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(10 * time.Second); code != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143 (sleep killed by it)", code)
	}
}
