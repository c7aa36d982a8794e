package node

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// waitTarget is testdata/waitchart's TINIT_WAIT_FOR: the plain sidecar's
// port.
const waitTarget = "tcp://127.0.0.1:8081"

// TestWaitForSidecarPort is issue 22's --wait-for in a pod: an app under
// tinit with TINIT_WAIT_FOR waits for a native sidecar's port
// (testdata/waitchart). The sidecar is plain, with no probes, so the
// kubelet starts the app as soon as the sidecar runs, and only tinit
// holds the app back; the sidecar listens only once the test says so.
// While it waits, tinit's /readyz is 503 naming the target and /healthz
// 200 (the pod is not Ready, and not restarted); once the port opens the
// app starts, after the sidecar listened, its first request to the
// sidecar succeeds, and the pod turns Ready.
func TestWaitForSidecarPort(t *testing.T) {
	ns := env.Namespace(t, "wait-for")
	const release = "wait"
	chart, err := filepath.Abs(filepath.Join("testdata", "waitchart"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{"tinit": map[string]any{"image": ownTinit(t)}}
	// helm's --wait returns once the pod is Ready, which it is only after
	// the test opens the sidecar's port: install in the background.
	installed := make(chan error, 1)
	go func() {
		_, err := ns.InstallErr(release, chart, values)
		installed <- err
	}()

	pod := ns.WaitPod(nodetest.Selector(release), "the app container running", func(p *corev1.Pod) bool {
		st := nodetest.ContainerStatus(p, "app")
		return p.Status.PodIP != "" && st != nil && st.State.Running != nil
	})
	var readyz string
	nodetest.WaitFor(t, "the app's tinit to answer /readyz 503 naming "+waitTarget, time.Minute, func() (bool, error) {
		code, body, err := nodetest.HTTPGet(nodetest.PodURL(pod, healthPort, "/readyz"))
		if err != nil {
			return false, err
		}
		readyz = strings.TrimSpace(body)
		return code == 503 && strings.Contains(body, "127.0.0.1:8081"), nil
	})
	code, body, err := nodetest.HTTPGet(nodetest.PodURL(pod, healthPort, "/healthz"))
	if err != nil || code != 200 {
		t.Errorf("while waiting, /healthz: %d %q %v, want 200 (a waiting tinit is alive)", code, body, err)
	}
	up := waitTargetUp(t, pod)
	appLog, err := ns.Logs(pod.Name, "app", false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(appLog, "tinit-test: app start") {
		t.Fatalf("the app started before the sidecar's port opened:\n%s", appLog)
	}
	t.Logf("waiting: /readyz 503 %q, /healthz %d, tinit_wait_target_up %v", readyz, code, up)
	if up != 0 {
		t.Errorf("while waiting, tinit_wait_target_up{target=%q} is %v, want 0", waitTarget, up)
	}

	ns.Exec(pod.Name, "proxy", "touch", "/tmp/listen")
	select {
	case err := <-installed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(nodetest.InstallTimeout + time.Minute):
		t.Fatal("helm install did not return")
	}
	pod = ns.WaitReadyPod(nodetest.Selector(release))

	proxyLog, err := ns.Logs(pod.Name, "proxy", false)
	if err != nil {
		t.Fatal(err)
	}
	appLog, err = ns.Logs(pod.Name, "app", false)
	if err != nil {
		t.Fatal(err)
	}
	listening, appStart := uptimeOf(proxyLog, "proxy listening"), uptimeOf(appLog, "app start")
	t.Logf("on the node's uptime: the sidecar listened at %.2f, the app started at %.2f (%+.2f s)", listening, appStart, appStart-listening)
	if listening == 0 || appStart == 0 || appStart < listening {
		t.Errorf("want the app started after the sidecar listened; sidecar log:\n%s\napp log:\n%s", proxyLog, appLog)
	}
	if !strings.Contains(appLog, "tinit-test: first request OK") {
		t.Errorf("the app's first request to the sidecar failed:\n%s", appLog)
	}
	if st := nodetest.ContainerStatus(pod, "app"); st == nil || st.RestartCount != 0 {
		t.Errorf("app status %+v, want restartCount 0", st)
	}
	if up := waitTargetUp(t, pod); up != 1 {
		t.Errorf("after the start, tinit_wait_target_up{target=%q} is %v, want 1", waitTarget, up)
	}
	if samples, err := nodetest.TinitMetrics(pod, healthPort); err != nil {
		t.Error(err)
	} else if v, ok := nodetest.Sum(samples, "tinit_wait_seconds", nil); !ok {
		t.Error("tinit's /metrics has no tinit_wait_seconds")
	} else {
		t.Logf("tinit_wait_seconds %v", v)
	}
	for _, l := range tinitLines(appLog) {
		t.Logf("log: %s", l)
	}
}

// waitTargetUp is tinit_wait_target_up of waitTarget on the pod's health
// port.
func waitTargetUp(t *testing.T, pod *corev1.Pod) float64 {
	t.Helper()
	samples, err := nodetest.TinitMetrics(pod, healthPort)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := nodetest.Sum(samples, "tinit_wait_target_up", map[string]string{"target": waitTarget})
	if !ok {
		t.Fatalf("tinit's /metrics has no tinit_wait_target_up{target=%q}", waitTarget)
	}
	return v
}

// tinitLines are the lines of a container's log that are not the test's
// own stamps: tinit's (and the program's) messages.
func tinitLines(log string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if l != "" && !strings.Contains(l, "tinit-test: ") {
			out = append(out, l)
		}
	}
	return out
}
