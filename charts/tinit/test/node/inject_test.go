package node

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// stampFunc defines stamp, which prints a line with the node's uptime at
// that moment: a shell builtin reads it (busybox's date has no %N), and
// nodetest.UptimeAt puts it on the test's clock.
const stampFunc = `stamp() { read up _ < /proc/uptime; echo "tinit-test: $1 uptime=$up"; }
`

// injectApp is the app of the inject-mode test: busybox sh, which the
// first time waits appDelay seconds before httpd listens on 8080 (so that
// readiness has a closed port to follow), and counts every TERM it gets.
// The stop signal reaches the whole process group (tinit's default), so
// httpd stops with it; the script then lingers 2 s, so that a second TERM
// would be counted, and exits 3. Its pid is in /tmp/app.pid.
const injectApp = stampFunc + `n=0
term() { n=$((n+1)); stamp "TERM $n"; }
trap term TERM
echo $$ > /tmp/app.pid
stamp "start pid=$$"
if [ ! -e /tmp/started ]; then
  touch /tmp/started
  sleep ` + appDelay + ` & wait $!
fi
httpd -f -p 8080 -h /www & h=$!
stamp "httpd pid=$h"
while [ $n -eq 0 ]; do
  wait $h
  st=$?
  if [ $n -eq 0 ]; then stamp "httpd exited $st"; exit 1; fi
done
i=0
while [ $i -lt 20 ]; do sleep 0.1 & wait $!; i=$((i+1)); done
stamp "exit 3 after $n TERM"
exit 3
`

// appDelay is how long the app takes to listen the first time, seconds.
const appDelay = "8"

const (
	appPort    = 8080
	healthPort = 9180 // charts/tinit's tinit.healthPort default
)

// injectValues are charts/tinit's values for the inject-mode test: the
// chart's default probe settings, tinit restarting the app on failure,
// a 5 s drain, and the app as a numeric non-root user (the chart's
// app.securityContext wants runAsNonRoot). The tinit image is the
// chart's default, tinit:dev, never pulled.
func injectValues() map[string]any {
	return map[string]any{
		"mode": "inject",
		"tinit": map[string]any{
			"image":        map[string]any{"pullPolicy": "Never"},
			"restart":      "on-failure",
			"drainSeconds": 5,
		},
		"app": map[string]any{
			"image":           nodetest.ImageValues(nodetest.HTTPDImage),
			"command":         nodetest.Shell(injectApp),
			"port":            appPort,
			"securityContext": map[string]any{"runAsUser": nodetest.NonRoot, "runAsGroup": nodetest.NonRoot},
		},
	}
}

// TestInjectMode is issue 20's test 1: charts/tinit in inject mode, one
// release, its pod taken through start, probes, a kill -9 of the app and
// a delete with a drain, in that order.
func TestInjectMode(t *testing.T) {
	ns := env.Namespace(t, "inject")
	const release = "web"
	sel := nodetest.Selector(release)

	if !t.Run("the pod turns Ready only once the app's port answers", func(t *testing.T) {
		readyFollowsPort(t, ns.With(t), release)
	}) {
		return
	}
	t.Run("the kubelet's startup, liveness and readiness probes reach tinit", func(t *testing.T) {
		ns := ns.With(t)
		pod := ns.WaitReadyPod(sel)
		c := pod.Spec.Containers[0]
		for name, p := range map[string]*corev1.Probe{nodetest.Startup: c.StartupProbe, nodetest.Liveness: c.LivenessProbe, nodetest.Readiness: c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "tinit-health" {
				t.Fatalf("%s probe is not an httpGet on tinit-health: %+v", name, p)
			}
		}
		var counts map[string]map[string]float64
		nodetest.WaitFor(t, "prober_probe_total to count successes of all three probes of the app container", 3*time.Minute, func() (bool, error) {
			var err error
			counts, err = ns.ProbeCounts(pod, "app")
			if err != nil {
				return false, err
			}
			return counts[nodetest.Startup]["successful"] > 0 && counts[nodetest.Liveness]["successful"] > 0 &&
				counts[nodetest.Readiness]["successful"] > 0, nil
		})
		t.Logf("prober_probe_total for %s/app: %v", pod.Name, counts)
	})
	t.Run("kill -9 of the app is restarted by tinit, restartCount stays 0", func(t *testing.T) {
		killRestartsInPlace(t, ns.With(t), sel)
	})
	t.Run("a delete drains: serving false before the one stop signal, exit code and message in the status", func(t *testing.T) {
		deleteDrains(t, ns.With(t), release)
	})
}

// observation is one look at the pod during its start.
type observation struct {
	at     time.Time
	ready  bool // the pod's Ready condition, read first
	open   bool // the app's port accepted a connection, tried after
	readyz int  // tinit's /readyz status code, 0 when it did not answer
}

// readyFollowsPort installs the release and, while helm waits, looks
// again and again at the pod's Ready condition and then at the app's
// port. The port, once open, stays open; so a look that read Ready true
// and then found the port closed would prove Ready came before the app
// listened.
func readyFollowsPort(t *testing.T, ns *nodetest.NS, release string) {
	sel := nodetest.Selector(release)
	installed := make(chan error, 1)
	go func() {
		_, err := ns.InstallErr(release, env.ChartDir, injectValues())
		installed <- err
	}()
	var obs []observation
	var installErr error
	done := false
	deadline := time.Now().Add(nodetest.InstallTimeout + time.Minute)
	for time.Now().Before(deadline) {
		select {
		case installErr = <-installed:
			done = true
		default:
		}
		if pods, err := ns.Pods(sel); err == nil && len(pods) == 1 && pods[0].Status.PodIP != "" {
			p := &pods[0]
			o := observation{at: time.Now(), ready: nodetest.PodReady(p)}
			o.open = nodetest.PortOpen(p, appPort)
			if code, _, err := nodetest.HTTPGet(nodetest.PodURL(p, healthPort, "/readyz")); err == nil {
				o.readyz = code
			}
			obs = append(obs, o)
			if done && o.ready && o.open {
				break
			}
		}
		if done && installErr != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !done {
		installErr = <-installed
	}
	if installErr != nil {
		t.Fatal(installErr)
	}
	if len(obs) == 0 {
		t.Fatal("never saw the pod with an IP")
	}
	start := obs[0].at
	var closedNotReady, closed503 int
	var firstOpen, firstReady time.Time
	for _, o := range obs {
		if o.ready && !o.open {
			t.Errorf("at +%s the pod was Ready, and the app's port was closed after that", o.at.Sub(start).Round(time.Millisecond))
		}
		if !o.open && !o.ready {
			closedNotReady++
			if o.readyz == 503 {
				closed503++
			}
		}
		if o.open && firstOpen.IsZero() {
			firstOpen = o.at
		}
		if o.ready && firstReady.IsZero() {
			firstReady = o.at
		}
	}
	last := obs[len(obs)-1]
	if !last.ready || !last.open {
		t.Fatalf("the last look found ready=%v port open=%v", last.ready, last.open)
	}
	if closedNotReady == 0 || closed503 == 0 {
		t.Errorf("never saw the app's port closed with the pod not Ready and tinit's /readyz 503 (%d looks with the port closed, %d of them 503): the app waits %s s before it listens", closedNotReady, closed503, appDelay)
	}
	t.Logf("%d looks from the pod's first IP: port closed and not Ready in %d (/readyz 503 in %d); port open first at +%s, Ready first at +%s",
		len(obs), closedNotReady, closed503, firstOpen.Sub(start).Round(time.Millisecond), firstReady.Sub(start).Round(time.Millisecond))
}

// killRestartsInPlace kills the app (the script tinit started) with
// SIGKILL from inside the container and checks that tinit started it
// again in the same container.
func killRestartsInPlace(t *testing.T, ns *nodetest.NS, sel string) {
	pod := ns.WaitReadyPod(sel)
	before := nodetest.ContainerStatus(pod, "app")
	if before == nil || before.State.Running == nil {
		t.Fatalf("app container not running: %+v", before)
	}
	pid := strings.TrimSpace(ns.Exec(pod.Name, "app", "cat", "/tmp/app.pid"))
	ns.Exec(pod.Name, "app", "kill", "-9", pid)
	t.Logf("kill -9 %s (the app's script) in %s/app", pid, pod.Name)
	var newPid string
	nodetest.WaitFor(t, "tinit to start the app again and the app to answer", 2*time.Minute, func() (bool, error) {
		out, _, err := ns.ExecErr(pod.Name, "app", "cat", "/tmp/app.pid")
		if err != nil {
			return false, err
		}
		newPid = strings.TrimSpace(out)
		if newPid == pid {
			return false, errors.New("/tmp/app.pid unchanged")
		}
		restarts, err := nodetest.TinitMetric(pod, healthPort, "tinit_child_restarts_total")
		if err != nil || restarts < 1 {
			return false, fmt.Errorf("tinit_child_restarts_total %v (%v)", restarts, err)
		}
		code, _, err := nodetest.HTTPGet(nodetest.PodURL(pod, appPort, "/"))
		return code == 200, err
	})
	exit, _ := nodetest.TinitMetric(pod, healthPort, "tinit_child_last_exit_code")
	after := ns.WaitReadyPod(sel)
	if after.UID != pod.UID {
		t.Fatalf("the pod was replaced: %s then %s", pod.Name, after.Name)
	}
	st := nodetest.ContainerStatus(after, "app")
	if st.RestartCount != 0 {
		t.Errorf("the app container's restartCount is %d, want 0 (tinit restarts the app inside it)", st.RestartCount)
	}
	if st.State.Running == nil || !st.State.Running.StartedAt.Equal(&before.State.Running.StartedAt) {
		t.Errorf("the app container was started again: before %+v, after %+v", before.State, st.State)
	}
	if exit != 128+9 {
		t.Errorf("tinit_child_last_exit_code %v, want 137 (killed by SIGKILL)", exit)
	}
	t.Logf("app pid %s -> %s, tinit_child_last_exit_code %v, restartCount %d, pod Ready again", pid, newPid, exit, st.RestartCount)
}

// request is one GET of the app's port during the delete.
type request struct {
	start, end time.Time
	code       int
	err        error
}

// signalMargin is left out before the app's TERM when its answers are
// counted.
const signalMargin = 100 * time.Millisecond

var upRe = regexp.MustCompile(`uptime=([0-9.]+)`)

// deleteDrains deletes the pod behind a Service and checks the order of
// what follows on the node's clock: the EndpointSlice's serving=false
// (as the test's watch received it: no later than it happened) before
// the app's TERM (the uptime the app read in its trap); the app answering
// until then; one TERM; the exit code and tinit's termination message in
// the pod's last status.
func deleteDrains(t *testing.T, ns *nodetest.NS, release string) {
	sel := nodetest.Selector(release)
	pod := ns.WaitReadyPod(sel)
	const svc = "web"
	ns.CreateService(svc, nodetest.SelectorLabels(release), appPort)
	nodetest.WaitFor(t, "the pod's endpoint ready and serving in the Service's EndpointSlice", 2*time.Minute, func() (bool, error) {
		ep, err := ns.PodEndpoint(svc, pod.Name)
		return ep.Present && ep.Ready && ep.Serving, err
	})

	slices := ns.RecordEndpointSlices(svc)
	podEvents := ns.RecordPod(pod.Name)
	logs := ns.FollowLogs(pod.Name, "app")

	var mu sync.Mutex
	var reqs []request
	var readyz []request
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			r := request{start: time.Now()}
			r.code, _, r.err = nodetest.HTTPGet(nodetest.PodURL(pod, appPort, "/"))
			r.end = time.Now()
			z := request{start: time.Now()}
			z.code, _, z.err = nodetest.HTTPGet(nodetest.PodURL(pod, healthPort, "/readyz"))
			z.end = time.Now()
			mu.Lock()
			reqs = append(reqs, r)
			readyz = append(readyz, z)
			mu.Unlock()
		}
	}()

	deleted := time.Now()
	if err := env.Client.CoreV1().Pods(ns.Name).Delete(ns.Ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted %s (terminationGracePeriodSeconds %d)", pod.Name, *pod.Spec.TerminationGracePeriodSeconds)
	nodetest.WaitFor(t, "the deleted pod to go", 2*time.Minute, func() (bool, error) {
		_, err := ns.Pod(pod.Name)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	close(stop)
	wg.Wait()
	lines, logErr := logs.Wait(10 * time.Second)
	pevs, podErr := podEvents.Stop()
	sevs, sliceErr := slices.Stop()
	for _, err := range []error{logErr, podErr, sliceErr} {
		if err != nil {
			t.Logf("watch/log stream: %v", err)
		}
	}
	rel := func(at time.Time) string {
		if at.IsZero() {
			return "never"
		}
		return "+" + at.Sub(deleted).Round(time.Millisecond).String()
	}

	// The app's TERMs, on the node's clock.
	var logText strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&logText, "  %s %s\n", rel(l.At), l.Text)
	}
	terms := nodetest.Matching(lines, "tinit-test: TERM")
	var signalled time.Time
	if len(terms) != 1 {
		t.Errorf("the app got %d TERMs, want exactly 1; its log:\n%s", len(terms), logText.String())
	}
	if len(terms) > 0 {
		m := upRe.FindStringSubmatch(terms[0].Text)
		if m == nil {
			t.Fatalf("no uptime in %q", terms[0].Text)
		}
		at, err := nodetest.UptimeAt(m[1])
		if err != nil {
			t.Fatal(err)
		}
		signalled = at
	} else {
		t.Fatalf("the app never logged its TERM; its log:\n%s", logText.String())
	}
	if len(nodetest.Matching(lines, "exit 3 after 1 TERM")) != 1 {
		t.Errorf("the app did not log \"exit 3 after 1 TERM\"; its log:\n%s", logText.String())
	}

	// The endpoint, as the watch received it.
	history := nodetest.PodEndpointHistory(sevs, pod.Name)
	var servingFalse, terminating, gone time.Time
	var hist strings.Builder
	for _, h := range history {
		fmt.Fprintf(&hist, "  %s %s\n", rel(h.At), h)
		switch {
		case h.Present && !h.Serving && servingFalse.IsZero():
			servingFalse = h.At
		case !h.Present && gone.IsZero() && h.At.After(deleted):
			gone = h.At
		}
		if h.Present && h.Terminating && terminating.IsZero() {
			terminating = h.At
		}
	}
	// The pod's Ready condition and last status, as the watch received them.
	var notReady time.Time
	var final *corev1.ContainerStatus
	for _, ev := range pevs {
		if ev.Type == watch.Error {
			continue
		}
		if !ev.At.Before(deleted) && notReady.IsZero() && !nodetest.PodReady(ev.Object) {
			notReady = ev.At
		}
		if st := nodetest.ContainerStatus(ev.Object, "app"); st != nil && st.State.Terminated != nil {
			final = st
		}
	}
	// tinit's /readyz and the app's answers.
	mu.Lock()
	var first503 time.Time
	for _, z := range readyz {
		if z.code == 503 && first503.IsZero() {
			first503 = z.end
		}
	}
	// The TERM's time is good to about 10 ms (two /proc/uptime readings):
	// requests that ended within signalMargin of it are not counted.
	var answered int
	for _, r := range reqs {
		if !r.end.Before(signalled.Add(-signalMargin)) || r.start.Before(deleted) {
			continue
		}
		if r.err == nil && r.code == 200 {
			answered++
		} else {
			t.Errorf("GET / at %s, before the app's TERM: %d %v", rel(r.start), r.code, r.err)
		}
	}
	mu.Unlock()

	t.Logf("after the delete: /readyz 503 %s; endpoint terminating %s, serving=false %s, gone %s; pod Ready false %s; app's TERM %s; %d requests answered before it",
		rel(first503), rel(terminating), rel(servingFalse), rel(gone), rel(notReady), rel(signalled), answered)
	t.Logf("endpoint history:\n%s", hist.String())
	t.Logf("app log:\n%s", logText.String())

	switch {
	case servingFalse.IsZero():
		t.Errorf("the pod's endpoint never showed serving=false while listed (the app's TERM came at %s): nothing but the deletion took it out of service", rel(signalled))
	case !servingFalse.Before(signalled):
		t.Errorf("the endpoint showed serving=false at %s, not before the app's TERM at %s: with drainSeconds 5 and the chart's readiness probe, the kubelet did not see /readyz turn 503 (at %s) within the drain", rel(servingFalse), rel(signalled), rel(first503))
	}
	if answered == 0 {
		t.Errorf("no request to the app was answered between the delete and its TERM")
	}
	if final == nil {
		t.Fatalf("the pod's status never showed the app container terminated")
	}
	term := final.State.Terminated
	if term.ExitCode != 3 {
		t.Errorf("the app container exited %d, want 3 (the app's own code, through tinit)", term.ExitCode)
	}
	if !strings.HasPrefix(term.Message, "tinit exit 3: ") {
		t.Errorf("termination message %q, want tinit's line \"tinit exit 3: ...\"", term.Message)
	}
	t.Logf("app container terminated: exit %d, reason %s, message %q", term.ExitCode, term.Reason, strings.TrimSpace(term.Message))
}
