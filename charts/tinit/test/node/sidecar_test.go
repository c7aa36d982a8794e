package node

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

const (
	sidecarPort       = 8081
	sidecarHealthPort = 9181 // charts/tinit's sidecar.healthPort default
	sidecarDelay      = "6"  // seconds the sidecar's app takes to listen
)

// mainSleeps is a main container that stops at once on TERM.
const mainSleeps = `trap 'exit 0' TERM
while :; do sleep 1 & wait $!; done
`

// sidecarValues are charts/tinit's values for sidecar mode: the sidecar's
// program and the main container's, both on the busybox image, both as
// a numeric non-root user.
func sidecarValues(sidecar, main string, share bool) map[string]any {
	return map[string]any{
		"mode":  "sidecar",
		"tinit": map[string]any{"image": map[string]any{"pullPolicy": "Never"}},
		"app": map[string]any{
			"image":           nodetest.ImageValues(nodetest.HTTPDImage),
			"command":         nodetest.Shell(main),
			"port":            nil,
			"securityContext": map[string]any{"runAsUser": nodetest.NonRoot, "runAsGroup": nodetest.NonRoot},
		},
		"sidecar": map[string]any{
			"image":                 nodetest.ImageValues(nodetest.HTTPDImage),
			"command":               nodetest.Shell(sidecar),
			"port":                  sidecarPort,
			"restart":               "on-failure",
			"shareProcessNamespace": share,
		},
	}
}

// TestSidecarStartsFirst is issue 20's test 3, first part: the native
// sidecar under tinit starts before the main container, and the main
// container starts only once the sidecar's app serves: its one request
// to the sidecar, the first thing it does, succeeds. The sidecar's app
// takes a few seconds to listen.
func TestSidecarStartsFirst(t *testing.T) {
	ns := env.Namespace(t, "sidecar-order")
	const release = "order"
	sidecar := stampFunc + `stamp "sidecar start"
sleep ` + sidecarDelay + `
stamp "sidecar app listening"
exec httpd -f -p 8081 -h /www
`
	main := stampFunc + `stamp "main start"
if wget -q -O /dev/null http://127.0.0.1:8081/; then stamp "first request OK"; else stamp "first request FAILED"; exit 1; fi
` + mainSleeps
	ns.Install(release, env.ChartDir, sidecarValues(sidecar, main, false))
	pod := ns.WaitReadyPod(nodetest.Selector(release))

	sc, app := nodetest.ContainerStatus(pod, "sidecar"), nodetest.ContainerStatus(pod, "app")
	if sc == nil || app == nil || sc.State.Running == nil || app.State.Running == nil {
		t.Fatalf("sidecar %+v, app %+v: want both running", sc, app)
	}
	scLog, err := ns.Logs(pod.Name, "sidecar", false)
	if err != nil {
		t.Fatal(err)
	}
	// The first run of main: the previous instance's log if it was
	// restarted.
	mainLog, err := ns.Logs(pod.Name, "app", app.RestartCount > 0)
	if err != nil {
		t.Fatal(err)
	}
	scStart, scListen := uptimeOf(scLog, "sidecar start"), uptimeOf(scLog, "sidecar app listening")
	mainStart := uptimeOf(mainLog, "main start")
	t.Logf("on the node's uptime: sidecar start %.2f, sidecar app listening %.2f, main start %.2f (%+.2f s after the sidecar's app); main restartCount %d",
		scStart, scListen, mainStart, mainStart-scListen, app.RestartCount)
	if scStart == 0 || mainStart == 0 || !(scStart < mainStart) {
		t.Errorf("want the sidecar started before main; sidecar log:\n%s\nmain log:\n%s", scLog, mainLog)
	}
	if app.RestartCount != 0 || !strings.Contains(mainLog, "first request OK") {
		t.Errorf("main's first request to the sidecar did not succeed (restartCount %d): main started %.2f s after the sidecar's app listened; its first log:\n%s",
			app.RestartCount, mainStart-scListen, mainLog)
	}
}

// uptimeOf is the uptime a stamp line with the text logged, 0 if none.
func uptimeOf(log, text string) float64 {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "tinit-test: "+text+" ") {
			if m := upRe.FindStringSubmatch(line); m != nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				return v
			}
		}
	}
	return 0
}

// TestSidecarSubreaper is issue 20's test 3, second part: with
// sidecar.shareProcessNamespace the pod's PID 1 is the pause process, and
// the sidecar's tinit runs as a subreaper: an orphan of the sidecar's own
// program (a double fork) is adopted by tinit, not by pause, and reaped
// by tinit when it exits. The orphan waits for a file the test creates.
func TestSidecarSubreaper(t *testing.T) {
	ns := env.Namespace(t, "sidecar-reaper")
	const release = "reaper"
	sidecar := `( sh -c 'echo $$ > /tmp/orphan.pid; while [ ! -e /tmp/orphan.go ]; do sleep 0.2; done; echo "tinit-test: orphan exits"' & )
exec httpd -f -p 8081 -h /www
`
	ns.Install(release, env.ChartDir, sidecarValues(sidecar, mainSleeps, true))
	pod := ns.WaitReadyPod(nodetest.Selector(release))
	if pod.Spec.ShareProcessNamespace == nil || !*pod.Spec.ShareProcessNamespace {
		t.Fatal("the pod does not share its process namespace")
	}
	var orphan int
	nodetest.WaitFor(t, "the orphan's pid", time.Minute, func() (bool, error) {
		out, _, err := ns.ExecErr(pod.Name, "sidecar", "cat", "/tmp/orphan.pid")
		if err != nil {
			return false, err
		}
		orphan, err = strconv.Atoi(strings.TrimSpace(out))
		return err == nil, err
	})
	procs, err := ns.Processes(pod.Name, "sidecar")
	if err != nil {
		t.Fatal(err)
	}
	var tinit *nodetest.Proc
	for i, p := range procs {
		if strings.HasPrefix(p.Cmdline, "/tinit-bin/tinit -- ") {
			tinit = &procs[i]
		}
	}
	pid1, o := find(procs, 1), find(procs, orphan)
	switch {
	case pid1 == nil || !strings.Contains(pid1.Comm+" "+pid1.Cmdline, "pause"):
		t.Fatalf("PID 1 of the pod is not the pause process:\n%s", procList(procs))
	case tinit == nil || tinit.Pid == 1:
		t.Fatalf("no tinit (other than PID 1) in the pod:\n%s", procList(procs))
	case o == nil || o.PPid != tinit.Pid:
		t.Fatalf("the orphan %d is not tinit's (%v) child:\n%s", orphan, tinit.Pid, procList(procs))
	}
	t.Logf("PID 1 %q; the sidecar's tinit %d adopted the orphan %d", pid1.Cmdline, tinit.Pid, orphan)

	before, err := nodetest.TinitMetric(pod, sidecarHealthPort, "tinit_zombies_reaped_total")
	if err != nil {
		t.Fatal(err)
	}
	ns.Exec(pod.Name, "sidecar", "touch", "/tmp/orphan.go")
	nodetest.WaitFor(t, "the orphan to exit and be reaped", time.Minute, func() (bool, error) {
		out, _, err := ns.ExecErr(pod.Name, "sidecar", "sh", "-c", fmt.Sprintf("cat /proc/%d/stat 2>/dev/null || echo gone", orphan))
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(out) != "gone" {
			return false, fmt.Errorf("/proc/%d/stat: %s", orphan, strings.TrimSpace(out))
		}
		return true, nil
	})
	after, err := nodetest.TinitMetric(pod, sidecarHealthPort, "tinit_zombies_reaped_total")
	if err != nil {
		t.Fatal(err)
	}
	if after < before+1 {
		t.Errorf("tinit_zombies_reaped_total %v -> %v: tinit did not count the orphan", before, after)
	}
	procs, err = ns.Processes(pod.Name, "sidecar")
	if err != nil {
		t.Fatal(err)
	}
	if z := nodetest.Zombies(procs); len(z) > 0 {
		t.Errorf("zombies left in the pod:\n%s", procList(z))
	}
	t.Logf("orphan %d gone; tinit_zombies_reaped_total %v -> %v", orphan, before, after)
}

// TestJobWithSidecar is issue 20's test 3, third part, and issue 22's
// exitZeroOnStop: a Job whose pod template adds a native sidecar under
// tinit through the tinit-lib includes (testdata/jobchart; charts/tinit
// renders only Deployments) reaches Complete, its pod Succeeded, with the
// sidecar's stop either way. When main is done the kubelet stops the
// sidecar with SIGTERM: with tinit.exitZeroOnStop its tinit maps 143 to
// 0, and both containers show exit 0 and Completed, as tools reading
// container statuses expect; without it the sidecar shows 143 (Error),
// which Kubernetes ignores for a native sidecar, so the Job completes
// all the same.
func TestJobWithSidecar(t *testing.T) {
	for _, tc := range []struct {
		name     string
		on       bool
		code     int32  // the sidecar's exit code
		reason   string // and the kubelet's reason for it
		remapEnv string // the sidecar's TINIT_REMAP_EXIT, "" unset
	}{
		{"with exitZeroOnStop the sidecar exits 0, Completed", true, 0, "Completed", "130:0,131:0,143:0"},
		{"without it the sidecar shows 143, and the job completes", false, 143, "Error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := env.Namespace(t, map[bool]string{true: "job-exit0", false: "job-143"}[tc.on])
			pod := runJob(t, ns, "batch", map[string]any{"tinit": map[string]any{"exitZeroOnStop": tc.on, "image": ownTinit(t)}})
			if got := containerEnv(pod.Spec.InitContainers, "sidecar", "TINIT_REMAP_EXIT"); got != tc.remapEnv {
				t.Errorf("the sidecar's TINIT_REMAP_EXIT is %q, want %q", got, tc.remapEnv)
			}
			for _, c := range []struct {
				name, reason string
				code         int32
			}{{"main", "Completed", 0}, {"sidecar", tc.reason, tc.code}} {
				st := nodetest.ContainerStatus(pod, c.name)
				switch {
				case st == nil || st.State.Terminated == nil:
					t.Errorf("%s: status %+v, want terminated", c.name, st)
				case st.State.Terminated.ExitCode != c.code || st.State.Terminated.Reason != c.reason:
					term := st.State.Terminated
					t.Errorf("%s: terminated %d/%s (message %q), want %d/%s", c.name, term.ExitCode, term.Reason, strings.TrimSpace(term.Message), c.code, c.reason)
				default:
					term := st.State.Terminated
					t.Logf("%s: terminated %d/%s after %s, message %q", c.name, term.ExitCode, term.Reason,
						term.FinishedAt.Sub(term.StartedAt.Time).Round(time.Millisecond), strings.TrimSpace(term.Message))
				}
			}
		})
	}
}

// runJob installs testdata/jobchart as release with values, waits for the
// Job to be Complete (helm's --wait-for-jobs), and returns its one pod,
// which must be Succeeded.
func runJob(t *testing.T, ns *nodetest.NS, release string, values map[string]any) *corev1.Pod {
	t.Helper()
	chart, err := filepath.Abs(filepath.Join("testdata", "jobchart"))
	if err != nil {
		t.Fatal(err)
	}
	ns.Install(release, chart, values, "--wait-for-jobs")
	job, err := env.Client.BatchV1().Jobs(ns.Name).Get(ns.Ctx, release+"-job", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	complete := false
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			complete = true
		}
	}
	if !complete {
		t.Fatalf("job not Complete: %+v", job.Status)
	}
	pods, err := env.Client.CoreV1().Pods(ns.Name).List(ns.Ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job.Name})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("%d pods of the job, want 1", len(pods.Items))
	}
	pod := &pods.Items[0]
	// The pod's phase follows its regular containers; the sidecar's
	// status may report its end a moment later.
	nodetest.WaitFor(t, "every container of the job's pod terminated", time.Minute, func() (bool, error) {
		p, err := ns.Pod(pod.Name)
		if err != nil {
			return false, err
		}
		pod = p
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			if st := nodetest.ContainerStatus(p, c.Name); st == nil || st.State.Terminated == nil {
				return false, fmt.Errorf("container %s: %+v", c.Name, st)
			}
		}
		return true, nil
	})
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Errorf("the job's pod is %s, want Succeeded", pod.Status.Phase)
	}
	return pod
}

// containerEnv is the value of the variable name in the env of the named
// container of cs, "" when unset.
func containerEnv(cs []corev1.Container, container, name string) string {
	for _, c := range cs {
		if c.Name != container {
			continue
		}
		for _, e := range c.Env {
			if e.Name == name {
				return e.Value
			}
		}
	}
	return ""
}
