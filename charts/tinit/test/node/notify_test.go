package node

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

const notifyHealthPort = 9180 // charts/tinit's tinit.healthPort default

// notifyDelay is how long the redis pod's shell waits before it execs
// redis-server, seconds: long enough for several looks at a /readyz that
// waits for READY=1.
const notifyDelay = "6"

// notifyValues are charts/tinit's values in inject mode with tinit's
// notify on, the app's port check off (only READY=1 gates /readyz), and
// tinit logging at info (its "notify: main child ready" line), and this
// checkout's tinit.
func notifyValues(t *testing.T, image string, command []string, port any, notify map[string]any) map[string]any {
	return map[string]any{
		"mode": "inject",
		"tinit": map[string]any{
			"image":    ownTinit(t),
			"restart":  "on-failure",
			"logLevel": "info",
			"notify":   notify,
			"checks":   map[string]any{"appPort": false},
		},
		"app": map[string]any{
			"image":           nodetest.ImageValues(image),
			"command":         command,
			"port":            port,
			"securityContext": map[string]any{"runAsUser": nodetest.NonRoot, "runAsGroup": nodetest.NonRoot},
		},
	}
}

// notifyLook is one look at the pod while it starts.
type notifyLook struct {
	at    time.Time
	ready bool // the pod's Ready condition, read first
	code  int  // tinit's /readyz, read after; 0 if it did not answer
	body  string
}

// TestNotifyReadiness is issue 20's test 6, first part: a pod is Ready
// only after its app's own READY=1. redis-server --supervised systemd
// runs under tinit with tinit.notify.enabled and no app check, started by
// a shell that first waits notifyDelay seconds. While it waits, tinit's
// /readyz is 503 waiting for READY=1 and the pod is not Ready; redis'
// READY=1 (tinit's "notify: main child ready", on the runtime's clock)
// comes before the kubelet's Ready transition, and tinit counted one
// READY.
func TestNotifyReadiness(t *testing.T) {
	ns := env.Namespace(t, "notify-ready")
	const release = "redis"
	sel := nodetest.Selector(release)
	command := append([]string{"sh", "-c", `echo "tinit-test: waiting ` + notifyDelay + ` s"; sleep ` + notifyDelay + `; exec "$@"`, "sh"},
		nodetest.RedisCommand...)
	command = append(command, "--supervised", "systemd")
	values := notifyValues(t, nodetest.RedisImage, command, 6379, map[string]any{"enabled": true})

	installed := make(chan error, 1)
	go func() {
		_, err := ns.InstallErr(release, env.ChartDir, values)
		installed <- err
	}()
	var looks []notifyLook
	var installErr error
	done := false
	deadline := time.Now().Add(nodetest.InstallTimeout + time.Minute)
	for !done && time.Now().Before(deadline) {
		select {
		case installErr = <-installed:
			done = true
		default:
		}
		if pods, err := ns.Pods(sel); err == nil && len(pods) == 1 && pods[0].Status.PodIP != "" {
			p := &pods[0]
			l := notifyLook{at: time.Now(), ready: nodetest.PodReady(p)}
			if code, body, err := nodetest.HTTPGet(nodetest.PodURL(p, notifyHealthPort, "/readyz")); err == nil {
				l.code, l.body = code, strings.TrimSpace(body)
			}
			looks = append(looks, l)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !done {
		installErr = <-installed
	}
	if installErr != nil {
		t.Fatal(installErr)
	}
	pod := ns.WaitReadyPod(sel)
	if len(looks) == 0 {
		t.Fatal("never saw the pod with an IP while helm waited")
	}

	// tinit's log: when READY=1 came, on the runtime's clock.
	lines, err := ns.FollowLogs(pod.Name, "app").Wait(3 * time.Second)
	if err != nil {
		t.Logf("log stream: %v", err)
	}
	var log strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&log, "  %s %s\n", l.At.Format("15:04:05.000"), l.Text)
	}
	readyLines := nodetest.Matching(lines, "notify: main child ready")
	if len(readyLines) != 1 {
		t.Fatalf("%d \"notify: main child ready\" lines in tinit's log, want 1:\n%s", len(readyLines), log.String())
	}
	readyAt := readyLines[0].At
	if len(nodetest.Matching(lines, "Ready to accept connections")) == 0 {
		t.Errorf("no STATUS=Ready to accept connections from redis in tinit's log:\n%s", log.String())
	}

	// Looks before READY=1 (with 100 ms for the two clocks' readings):
	// /readyz 503 waiting for READY=1, the pod not Ready.
	var before503, beforeReady int
	var firstReady time.Time
	for _, l := range looks {
		if l.ready && firstReady.IsZero() {
			firstReady = l.at
		}
		if !l.at.Before(readyAt.Add(-100 * time.Millisecond)) {
			continue
		}
		if l.ready {
			beforeReady++
			t.Errorf("at %s, before READY=1 (%s), the pod was Ready", l.at.Format("15:04:05.000"), readyAt.Format("15:04:05.000"))
		}
		if l.code == 503 && strings.Contains(l.body, "READY=1") {
			before503++
		} else if l.code != 0 {
			t.Errorf("at %s, before READY=1, /readyz answered %d %q", l.at.Format("15:04:05.000"), l.code, l.body)
		}
	}
	if before503 == 0 {
		t.Errorf("no look before READY=1 found /readyz 503 waiting for it (%d looks in all; READY=1 at %s); tinit's log:\n%s",
			len(looks), readyAt.Format("15:04:05.000"), log.String())
	}
	// The kubelet's Ready transition (its second) is not before READY=1's.
	var readySince time.Time
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			readySince = c.LastTransitionTime.Time
		}
	}
	if readySince.Before(readyAt.Truncate(time.Second)) {
		t.Errorf("the pod's Ready condition turned True at %s, before READY=1 at %s", readySince.Format(time.TimeOnly), readyAt.Format("15:04:05.000"))
	}

	samples, err := nodetest.TinitMetrics(pod, notifyHealthPort)
	if err != nil {
		t.Fatal(err)
	}
	readies, _ := nodetest.Sum(samples, "tinit_notify_messages_total", map[string]string{"type": "READY"})
	childReady, _ := nodetest.Sum(samples, "tinit_child_ready", nil)
	if readies != 1 || childReady != 1 {
		t.Errorf("tinit_notify_messages_total{type=READY} %v and tinit_child_ready %v, want 1 and 1", readies, childReady)
	}
	body := ""
	if code, b, err := nodetest.HTTPGet(nodetest.PodURL(pod, notifyHealthPort, "/readyz")); err != nil || code != 200 {
		t.Errorf("/readyz after READY=1: %d %q %v", code, b, err)
	} else {
		body = strings.TrimSpace(b)
	}
	t.Logf("%d looks: /readyz 503 waiting for READY=1 in %d before it; READY=1 at %s (%s); first look Ready at %s, condition since %s; /readyz now %q",
		len(looks), before503, readyAt.Format("15:04:05.000"), readyLines[0].Text, firstReady.Format("15:04:05.000"), readySince.Format(time.TimeOnly), body)
}

var sdpingPid = regexp.MustCompile(`sdping: pid=(\d+) READY=1 sent, .* hang=(true|false)`)

// TestNotifyWatchdog is issue 20's test 6, second part: a hung app is
// restarted inside the container by tinit's watchdog. sdping (cmd/sdping)
// sends READY=1 and WATCHDOG=1 every half second, stops after 10 pings
// the first time it runs, and pings for ever once restarted. With
// tinit.notify.watchdog 2s and tinit.restart on-failure, tinit sends the
// silent child SIGABRT and starts it again: tinit_child_restarts_total
// 1, the container's restartCount 0 and its start unchanged, the pod
// Ready again.
func TestNotifyWatchdog(t *testing.T) {
	if err := env.ImportSDPing(); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t, "notify-watchdog")
	const release = "ping"
	sel := nodetest.Selector(release)
	cmd := append(append([]string{}, nodetest.SDPingCommand...), "-pings", "10", "-once", "/tmp/hung-once")
	values := notifyValues(t, nodetest.SDPingImage, cmd, nil, map[string]any{"enabled": true, "watchdog": "2s"})
	ns.Install(release, env.ChartDir, values)
	pod := ns.WaitReadyPod(sel)
	first := nodetest.ContainerStatus(pod, "app")
	if first == nil || first.State.Running == nil {
		t.Fatalf("app container not running: %+v", first)
	}
	events := ns.RecordPod(pod.Name)

	var restarts float64
	nodetest.WaitFor(t, "tinit to restart the hung sdping", 2*time.Minute, func() (bool, error) {
		var err error
		restarts, err = nodetest.TinitMetric(pod, notifyHealthPort, "tinit_child_restarts_total")
		return restarts >= 1, err
	})
	// A look a few watchdog periods later, a few watchdog periods later: the restarted sdping
	// pings, so nothing more happens.
	time.Sleep(6 * time.Second)
	after := ns.WaitReadyPod(sel)
	// The recorder may report the watch's own cancellation: only the
	// events matter here.
	evs, _ := events.Stop()
	samples, err := nodetest.TinitMetrics(after, notifyHealthPort)
	if err != nil {
		t.Fatal(err)
	}
	restarts, _ = nodetest.Sum(samples, "tinit_child_restarts_total", nil)
	readies, _ := nodetest.Sum(samples, "tinit_notify_messages_total", map[string]string{"type": "READY"})
	exit, _ := nodetest.Sum(samples, "tinit_child_last_exit_code", nil)
	log, err := ns.Logs(after.Name, "app", false)
	if err != nil {
		t.Fatal(err)
	}

	if after.UID != pod.UID {
		t.Fatalf("the pod was replaced: %s then %s", pod.Name, after.Name)
	}
	st := nodetest.ContainerStatus(after, "app")
	if st.RestartCount != 0 || st.State.Running == nil || !st.State.Running.StartedAt.Equal(&first.State.Running.StartedAt) {
		t.Errorf("the container was restarted: restartCount %d, state %+v (first started %s)", st.RestartCount, st.State, first.State.Running.StartedAt)
	}
	if restarts != 1 || readies != 2 {
		t.Errorf("tinit_child_restarts_total %v, READY=1 received %v: want 1 and 2", restarts, readies)
	}
	if !strings.Contains(log, "main child failed: watchdog: no WATCHDOG=1 for 2s") {
		t.Errorf("no watchdog failure in tinit's log:\n%s", log)
	}
	runs := sdpingPid.FindAllStringSubmatch(log, -1)
	if len(runs) != 2 || runs[0][2] != "true" || runs[1][2] != "false" || runs[0][1] == runs[1][1] {
		t.Errorf("want two sdping runs, the first hanging, the second not, with two pids; got %q in the log:\n%s", runs, log)
	}
	// The Ready condition's changes while it happened, for the report.
	var flips []string
	last := true
	for _, ev := range evs {
		if ev.Type == watch.Deleted {
			continue
		}
		if r := nodetest.PodReady(ev.Object); r != last {
			flips = append(flips, fmt.Sprintf("Ready=%v at %s", r, ev.At.Format("15:04:05.000")))
			last = r
		}
	}
	t.Logf("tinit_child_restarts_total %v, READY=1 x%v, last exit code %v, restartCount %d; pod Ready changes: %v",
		restarts, readies, exit, st.RestartCount, flips)
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "watchdog") || strings.Contains(l, "READY=1 sent") || strings.Contains(l, "started") {
			t.Logf("  %s", l)
		}
	}
}
