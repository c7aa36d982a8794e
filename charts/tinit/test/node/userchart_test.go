package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// TestUserChart is issue 20's test 4: a user's own chart, made with the
// pinned helm's `helm create` plus the tinit-lib includes
// (nodetest.UserChart), installed with `helm install --wait` with tinit
// on and off. Its default image (nginx) is the fixture's nginx, as
// 65532 on port 8080, through values (nodetest.UserChartValues). With
// tinit on, PID 1 of the app container is tinit, nginx its child, and the
// pod turns Ready by tinit's probes; with tinit off nginx is PID 1, there
// is no /tinit-bin, and helm create's own probes make it Ready.
func TestUserChart(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "tinit on", false: "tinit off"}[on]
		t.Run(name, func(t *testing.T) { userChartInstall(t, on) })
	}
}

// userChartContainer is helm create's container name: the chart's name.
const userChartContainer = nodetest.UserChartName

func userChartInstall(t *testing.T, on bool) {
	ns := env.Namespace(t, map[bool]string{true: "userchart-on", false: "userchart-off"}[on])
	chart, err := env.UserChart(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const release = "shop"
	values := nodetest.UserChartValues(on)
	values["tinit"].(map[string]any)["image"] = ownTinit(t)
	ns.Install(release, chart, values)
	pod := ns.WaitReadyPod(nodetest.UserChartSelector(release))

	procs, err := ns.Processes(pod.Name, userChartContainer)
	if err != nil {
		t.Fatal(err)
	}
	var pid1 *nodetest.Proc
	var nginxMaster *nodetest.Proc
	for i, p := range procs {
		if p.Pid == 1 {
			pid1 = &procs[i]
		}
		if strings.HasPrefix(p.Cmdline, "nginx: master process") {
			nginxMaster = &procs[i]
		}
	}
	if pid1 == nil || nginxMaster == nil {
		t.Fatalf("no PID 1 or no nginx master in the container:\n%s", userChartProcs(procs))
	}
	_, _, binErr := ns.ExecErr(pod.Name, userChartContainer, "ls", "/tinit-bin/tinit")
	c := pod.Spec.Containers[0]
	if on {
		want := "/tinit-bin/tinit -- " + strings.Join(nodetest.NginxCommand, " ")
		if pid1.Cmdline != want {
			t.Errorf("PID 1's cmdline is %q, want %q:\n%s", pid1.Cmdline, want, userChartProcs(procs))
		}
		if nginxMaster.PPid != 1 {
			t.Errorf("nginx's master is not PID 1's (tinit's) child:\n%s", userChartProcs(procs))
		}
		if binErr != nil {
			t.Errorf("ls /tinit-bin/tinit: %v", binErr)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Port.String() != "tinit-health" {
			t.Errorf("readiness probe %+v, want tinit's on tinit-health", c.ReadinessProbe)
		}
		code, body, err := nodetest.HTTPGet(nodetest.PodURL(pod, 9180, "/readyz"))
		if err != nil || code != 200 {
			t.Errorf("tinit's /readyz: %d %q %v, want 200", code, body, err)
		}
	} else {
		if nginxMaster.Pid != 1 {
			t.Errorf("nginx's master is not PID 1:\n%s", userChartProcs(procs))
		}
		if strings.Contains(pid1.Cmdline, "tinit") || binErr == nil {
			t.Errorf("tinit in the container without tinit (ls /tinit-bin/tinit: %v):\n%s", binErr, userChartProcs(procs))
		}
		if len(pod.Spec.InitContainers) != 0 {
			t.Errorf("init containers without tinit: %v", pod.Spec.InitContainers)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Port.String() != "http" {
			t.Errorf("readiness probe %+v, want helm create's on port http", c.ReadinessProbe)
		}
	}
	if code, body, err := nodetest.HTTPGet(nodetest.PodURL(pod, 8080, "/")); err != nil || code != 200 {
		t.Errorf("GET / of nginx: %d %q %v, want 200", code, body, err)
	}
	var counts map[string]map[string]float64
	nodetest.WaitFor(t, "the kubelet's readiness probes of the app container to succeed", time.Minute, func() (bool, error) {
		counts, err = ns.ProbeCounts(pod, userChartContainer)
		return counts[nodetest.Readiness]["successful"] > 0, err
	})
	if st := nodetest.ContainerStatus(pod, userChartContainer); st == nil || st.RestartCount != 0 {
		t.Errorf("container status %+v, want restartCount 0", st)
	}
	t.Logf("PID 1: %q; nginx master pid %d (parent %d); probes %v", pid1.Cmdline, nginxMaster.Pid, nginxMaster.PPid, counts)
	userChartReady(t, pod)
}

// ownTinit is this checkout's tinit image as a chart's tinit.image (the
// node's tinit:dev may be another worktree's).
func ownTinit(t *testing.T) map[string]any {
	t.Helper()
	img, err := env.OwnTinitImage()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// userChartReady logs how long the pod took to turn Ready (the
// conditions' seconds), for the report only.
func userChartReady(t *testing.T, pod *corev1.Pod) {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			t.Logf("pod %s created %s, Ready at %s", pod.Name, pod.CreationTimestamp.Format(time.TimeOnly), c.LastTransitionTime.Format(time.TimeOnly))
		}
	}
}

func userChartProcs(procs []nodetest.Proc) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "  %d ppid=%d %s %s\n", p.Pid, p.PPid, p.State, p.Cmdline)
	}
	return b.String()
}
