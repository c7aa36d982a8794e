package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// reloadPort is the port of the server the ConfigMap adds to nginx.
const reloadPort = 8081

// reloadConf is the ConfigMap's conf.d/default.conf: a server answering
// every request with the version, as nodetest.NginxImage's nginx.conf
// includes /etc/nginx/conf.d/*.conf.
func reloadConf(version string) string {
	return fmt.Sprintf("server {\n    listen %d;\n    location / { return 200 %q; }\n}\n", reloadPort, version+"\n")
}

// TestConfigMapReload is issue 22's --reload-on in a pod: nginx under
// tinit (charts/tinit, inject mode) with TINIT_RELOAD_ON on the directory
// a ConfigMap is mounted on (a volume, not subPath: the kubelet never
// updates a subPath mount), and the default --reload-signal, SIGHUP, on
// which nginx re-reads its configuration. An edit of the ConfigMap
// reaches the pod's volume (the kubelet's atomic writer renames ..data),
// tinit sends one SIGHUP, and nginx serves the new version: the same
// pod, the same container (restartCount 0, the same start time), the
// same nginx master process; tinit_reloads_total{action="signal",
// cause="file"} is 1.
func TestConfigMapReload(t *testing.T) {
	ns := env.Namespace(t, "reload")
	const release, configMap = "web", "web-conf"
	cms := env.Client.CoreV1().ConfigMaps(ns.Name)
	cm, err := cms.Create(ns.Ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: configMap},
		Data:       map[string]string{"default.conf": reloadConf("v1")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Install(release, env.ChartDir, map[string]any{
		"mode": "inject",
		"tinit": map[string]any{
			"image":    ownTinit(t),
			"logLevel": "info",
			"extraEnv": []map[string]any{{"name": "TINIT_RELOAD_ON", "value": "/etc/nginx/conf.d"}},
		},
		"app": map[string]any{
			"image":           nodetest.ImageValues(nodetest.NginxImage),
			"command":         nodetest.NginxCommand,
			"port":            appPort,
			"securityContext": map[string]any{"runAsUser": nodetest.NonRoot, "runAsGroup": nodetest.NonRoot},
			"volumeMounts":    []map[string]any{{"name": "conf", "mountPath": "/etc/nginx/conf.d", "readOnly": true}},
		},
		"extraVolumes": []map[string]any{{"name": "conf", "configMap": map[string]any{"name": configMap}}},
	})
	pod := ns.WaitReadyPod(nodetest.Selector(release))
	url := nodetest.PodURL(pod, reloadPort, "/")
	serves := func(want string) func() (bool, error) {
		return func() (bool, error) {
			code, body, err := nodetest.HTTPGet(url)
			if err != nil {
				return false, err
			}
			if code != 200 || body != want+"\n" {
				return false, fmt.Errorf("GET %s: %d %q", url, code, body)
			}
			return true, nil
		}
	}
	nodetest.WaitFor(t, "nginx to serve v1", time.Minute, serves("v1"))
	before := nodetest.ContainerStatus(pod, "app")
	if before == nil || before.State.Running == nil {
		t.Fatalf("app status %+v, want running", before)
	}
	master := nginxMaster(t, ns, pod.Name)

	cm.Data["default.conf"] = reloadConf("v2")
	if _, err := cms.Update(ns.Ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	edited := time.Now()
	nodetest.WaitFor(t, "nginx to serve v2", 3*time.Minute, serves("v2"))
	t.Logf("v2 served %s after the ConfigMap's update", time.Since(edited).Round(100*time.Millisecond))

	after, err := ns.Pod(pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	st := nodetest.ContainerStatus(after, "app")
	switch {
	case st == nil || st.State.Running == nil:
		t.Errorf("app status %+v after the edit, want running", st)
	case st.RestartCount != 0:
		t.Errorf("app restartCount %d after the edit, want 0", st.RestartCount)
	case !st.State.Running.StartedAt.Equal(&before.State.Running.StartedAt):
		t.Errorf("app started at %s after the edit, %s before: the container was restarted", st.State.Running.StartedAt, before.State.Running.StartedAt)
	}
	if m := nginxMaster(t, ns, pod.Name); m != master {
		t.Errorf("nginx's master is pid %d after the edit, %d before: nginx was restarted, not reloaded", m, master)
	}
	samples, err := nodetest.TinitMetrics(after, healthPort)
	if err != nil {
		t.Fatal(err)
	}
	signal, _ := nodetest.Sum(samples, "tinit_reloads_total", map[string]string{"action": "signal", "cause": "file"})
	restart, _ := nodetest.Sum(samples, "tinit_reloads_total", map[string]string{"action": "restart"})
	restarts, _ := nodetest.Sum(samples, "tinit_child_restarts_total", nil)
	if signal != 1 || restart != 0 || restarts != 0 {
		t.Errorf(`tinit_reloads_total{action="signal",cause="file"} %v, {action="restart"} %v, tinit_child_restarts_total %v: want 1, 0, 0`, signal, restart, restarts)
	}
	log, err := ns.Logs(pod.Name, "app", false)
	if err != nil {
		t.Fatal(err)
	}
	// nginx's master logs the signal at notice level (error_log stderr
	// notice) before it re-reads its configuration.
	if !strings.Contains(log, "reconfiguring") {
		t.Errorf("nginx did not log a reconfiguration:\n%s", log)
	}
	for _, l := range tinitLines(log) {
		if strings.Contains(l, "reload") || strings.Contains(l, "SIGHUP") {
			t.Logf("log: %s", l)
		}
	}
}

// nginxMaster is the pid of nginx's master process in the pod's app
// container.
func nginxMaster(t *testing.T, ns *nodetest.NS, pod string) int {
	t.Helper()
	procs, err := ns.Processes(pod, "app")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if strings.HasPrefix(p.Cmdline, "nginx: master process") {
			return p.Pid
		}
	}
	t.Fatalf("no nginx master process in the app container:\n%s", userChartProcs(procs))
	return 0
}
