package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The user chart of TestUserChart: a team's own chart, a Deployment with
// its own init container, env, ports, volumes and mounts, to which the
// tinit-lib includes are added. README.md's "Add tinit to your own chart"
// shows these files; TestReadmeUserChart checks that it still does.
const (
	userChartYAML = `apiVersion: v2
name: shop
version: 1.2.3
appVersion: "3.4.5"
dependencies:
  - name: tinit-lib
    version: 0.1.0
    repository: file://../tinit-lib
`

	userValuesYAML = `tinit:
  enabled: true
  checks:
    appPort: 8080
    startPeriod: 30s
`

	userDeploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-shop
spec:
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile:
          type: RuntimeDefault
      initContainers:
        {{- include "tinit-lib.initContainer" . | nindent 8 }}
        - name: migrate
          image: "example.com/shop:{{ .Chart.AppVersion }}"
          command: ["shop", "migrate"]
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: data
              mountPath: /data
      containers:
        - name: shop
          image: "example.com/shop:{{ .Chart.AppVersion }}"
          command:
            {{- include "tinit-lib.command" (dict "root" $ "command" (list "shop" "serve")) | nindent 12 }}
          env:
            - name: SHOP_MODE
              value: production
            {{- include "tinit-lib.env" . | nindent 12 }}
          ports:
            - name: http
              containerPort: 8080
            {{- include "tinit-lib.ports" . | nindent 12 }}
          {{- include "tinit-lib.probes" . | nindent 10 }}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: data
              mountPath: /data
            {{- include "tinit-lib.volumeMount" . | nindent 12 }}
      volumes:
        - name: data
          emptyDir: {}
        {{- include "tinit-lib.volume" . | nindent 8 }}
`
)

// userChart writes the user chart next to a copy of charts/tinit-lib, as
// a user would have it, runs `helm dependency build` and returns its
// directory.
func userChart(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyTree(t, libDir, filepath.Join(root, "tinit-lib"), "")
	dir := filepath.Join(root, "shop")
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "Chart.yaml"), userChartYAML)
	write(t, filepath.Join(dir, "values.yaml"), userValuesYAML)
	write(t, filepath.Join(dir, "templates", "deployment.yaml"), userDeploymentYAML)
	if out, err := runHelmIn(dir, "dependency", "build", "."); err != nil {
		t.Fatalf("helm dependency build: %v\n%s", err, out)
	}
	return dir
}

// TestUserChart renders the user chart with tinit on and off, lints it,
// and checks that the includes add tinit and leave the chart's own
// containers, env, ports, volumes and mounts as they are.
func TestUserChart(t *testing.T) {
	dir := userChart(t)
	for _, args := range [][]string{nil, {"--set", "tinit.enabled=false"}} {
		lintUserChart(t, dir, args...)
	}

	t.Run("on", func(t *testing.T) {
		d := onlyDeployment(t, renderIn(t, dir))
		pod := &d.Spec.Template.Spec
		checkUserOwn(t, pod)
		checkInstall(t, pod)
		if len(pod.InitContainers) != 2 {
			t.Errorf("%d init containers, want tinit-install and migrate", len(pod.InitContainers))
		}
		c := findContainer(pod.Containers, "shop")
		env := checkUnderTinit(t, c, healthName, []string{"shop", "serve"})
		if env["TINIT_CHECK_TCP"] != "127.0.0.1:8080" || env["TINIT_CHECK_START_PERIOD"] != "30s" {
			t.Errorf("TINIT_CHECK_TCP=%q TINIT_CHECK_START_PERIOD=%q, want 127.0.0.1:8080 and 30s", env["TINIT_CHECK_TCP"], env["TINIT_CHECK_START_PERIOD"])
		}
		checkStartup(t, c, healthName, 30*time.Second)
		if img := pod.InitContainers[0].Image; img != "tinit:"+libAppVersion(t) {
			t.Errorf("tinit image %q, want tag %q, tinit-lib's appVersion (not the user chart's 3.4.5)", img, libAppVersion(t))
		}
		checkRestricted(t, d)
	})

	t.Run("off", func(t *testing.T) {
		d := onlyDeployment(t, renderIn(t, dir, "--set", "tinit.enabled=false"))
		pod := &d.Spec.Template.Spec
		checkUserOwn(t, pod)
		if len(pod.InitContainers) != 1 || len(pod.Volumes) != 1 {
			t.Errorf("tinit disabled: %d init containers and %d volumes, want the chart's own 1 and 1", len(pod.InitContainers), len(pod.Volumes))
		}
		c := findContainer(pod.Containers, "shop")
		if !equal(c.Command, []string{"shop", "serve"}) {
			t.Errorf("tinit disabled: command %q, want the chart's own", c.Command)
		}
		if len(c.Env) != 1 || len(c.Ports) != 1 || len(c.VolumeMounts) != 1 {
			t.Errorf("tinit disabled: env %v, ports %v, mounts %v: want only the chart's own", c.Env, c.Ports, c.VolumeMounts)
		}
		if c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil {
			t.Error("tinit disabled: probes rendered")
		}
		checkRestricted(t, d)
	})
}

// lintUserChart wants helm lint --strict clean on the chart at dir with
// args.
func lintUserChart(t *testing.T, dir string, args ...string) {
	t.Helper()
	lint := append([]string{"lint", "--strict", "."}, args...)
	if out, err := runHelmIn(dir, lint...); err != nil || !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm %s: %v\n%s", strings.Join(lint, " "), err, out)
	}
}

// checkUserOwn: the user chart's own init container, env, port, volume and
// mounts are there, whatever tinit adds.
func checkUserOwn(t *testing.T, pod *corev1.PodSpec) {
	t.Helper()
	m := findContainer(pod.InitContainers, "migrate")
	if m == nil || !equal(m.Command, []string{"shop", "migrate"}) || len(m.VolumeMounts) != 1 || m.VolumeMounts[0].Name != "data" {
		t.Errorf("the chart's own init container changed: %+v", m)
	}
	if m != nil && m.Image != "example.com/shop:3.4.5" {
		t.Errorf("migrate image %q: .Chart is not the user chart's", m.Image)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := findContainer(pod.Containers, "shop")
	if c == nil {
		t.Fatal("no container shop")
	}
	if envMap(t, c)["SHOP_MODE"] != "production" {
		t.Error("SHOP_MODE lost")
	}
	var http, data, mount bool
	for _, p := range c.Ports {
		http = http || (p.Name == "http" && p.ContainerPort == 8080)
	}
	for _, v := range pod.Volumes {
		data = data || (v.Name == "data" && v.EmptyDir != nil)
	}
	for _, vm := range c.VolumeMounts {
		mount = mount || (vm.Name == "data" && vm.MountPath == "/data")
	}
	if !http || !data || !mount {
		t.Errorf("the chart's own port (%v), volume (%v) or mount (%v) lost", http, data, mount)
	}
}

// TestReadmeUserChart: every YAML block of README.md's "Add tinit to your
// own chart" section that starts with a "# <file>" comment is copied from
// the user chart of TestUserChart (a contiguous part of that file).
func TestReadmeUserChart(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	start := strings.Index(readme, "\n### Add tinit to your own chart\n")
	if start < 0 {
		t.Fatal(`README.md has no "### Add tinit to your own chart" section`)
	}
	section := readme[start+1:]
	if end := regexp.MustCompile(`\n##+ `).FindStringIndex(section[4:]); end != nil {
		section = section[:end[0]+4]
	}
	files := map[string]string{
		"Chart.yaml":                userChartYAML,
		"values.yaml":               userValuesYAML,
		"templates/deployment.yaml": userDeploymentYAML,
	}
	blocks := regexp.MustCompile("(?s)```yaml\n# ([^\n]+)\n(.*?)```").FindAllStringSubmatch(section, -1)
	seen := map[string]bool{}
	for _, b := range blocks {
		name, body := b[1], b[2]
		src, ok := files[name]
		if !ok {
			t.Errorf("README block for %q: the test's user chart has no such file", name)
			continue
		}
		seen[name] = true
		if !strings.Contains(src, body) {
			t.Errorf("README block for %s is not copied from the test's user chart:\n%s", name, body)
		}
	}
	for name := range files {
		if !seen[name] {
			t.Errorf("README's section shows no block of %s", name)
		}
	}
	if !strings.Contains(section, "include \"tinit-lib.command\"") {
		t.Error("README section does not show tinit-lib.command")
	}
}

// TestLibFailures: wrong values in the user chart fail the render with a
// message naming the key.
func TestLibFailures(t *testing.T) {
	dir := userChart(t)
	cases := []struct {
		set  []string
		want string
	}{
		{[]string{"--set", "tinit.restart=sometimes"}, "tinit.restart must be one of never, on-failure, always"},
		{[]string{"--set-string", "tinit.healthPort=9180"}, "tinit.healthPort must be a port number"},
		{[]string{"--set", "tinit.healthPort=70000"}, "tinit.healthPort must be a port number"},
		{[]string{"--set", "tinit.graceSeconds=-1"}, "tinit.graceSeconds must be a whole number"},
		{[]string{"--set-string", "tinit.enabled=false"}, "tinit.enabled must be true or false"},
		{[]string{"--set", "tinit.checks.tcp=127.0.0.1:80"}, "tinit.checks.tcp must be a list of strings"},
		{[]string{"--set", "tinit.checks.failAfter=soon"}, "tinit.checks.failAfter must be a Go duration"},
		{[]string{"--set", "tinit.checks.startPeriod=5"}, "tinit.checks.startPeriod must be a Go duration"},
		{[]string{"--set", "tinit.image.tag=1.10"}, ""}, // a string from --set: renders
		{[]string{"--set", "tinit.image.digest=sha256:abc"}, "tinit.image.digest must be"},
		{[]string{"--set", "tinit.image.pullPolicy=Sometimes"}, "tinit.image.pullPolicy must be one of"},
		{[]string{"--set", "tinit.probes.liveness.periodSeconds=0"}, "tinit.probes.liveness.periodSeconds must be a whole number >= 1"},
		{[]string{"--set", "tinit.extraEnv[0].value=x"}, "tinit.extraEnv[0] must be an EnvVar map with a name"},
		{[]string{"--set", "tinit.graceSecond=9"}, "unknown key tinit.graceSecond"},
		{[]string{"--set", "tinit=on"}, "tinit must be a map"},
		{[]string{"--set", "tinit.checks.http[0]=https://x/"}, "tinit.checks.http"},
		{[]string{"--set", "tinit.notify.enabled=true", "--set", "tinit.notify.access=all"}, "tinit.notify.access must be one of tree, main, got all"},
		{[]string{"--set", "tinit.notify.enabled=true", "--set", "tinit.notify.access="}, "tinit.notify.access must be one of tree, main"},
		{[]string{"--set", "tinit.notify.enabled=true", "--set", "tinit.notify.watchdog=soon"}, "tinit.notify.watchdog must be a Go duration"},
		{[]string{"--set", "tinit.notify.enabled=true", "--set", "tinit.notify.timeout=30"}, "tinit.notify.timeout must be a Go duration"},
		{[]string{"--set-string", "tinit.notify.enabled=true"}, "tinit.notify.enabled must be true or false"},
		{[]string{"--set", "tinit.notify.socket=/run/notify"}, "unknown key tinit.notify.socket"},
		{[]string{"--set", "tinit.notify=true"}, "tinit.notify must be a map"},
		{[]string{"--set", "tinit.notify.access=main"}, `tinit.notify.access is "main" but tinit.notify.enabled is false`},
		{[]string{"--set", "tinit.notify.watchdog=30s"}, `tinit.notify.watchdog is "30s" but tinit.notify.enabled is false`},
		{[]string{"--set", "tinit.notify.enabled=false", "--set", "tinit.notify.timeout=2m"}, `tinit.notify.timeout is "2m" but tinit.notify.enabled is false`},
		{[]string{"--set", "tinit.notify.enabled=false", "--set", "tinit.notify.access=tree"}, ""}, // the defaults written out: renders
		{[]string{"--set-string", "tinit.exitZeroOnStop=true"}, "tinit.exitZeroOnStop must be true or false"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.set, " "), func(t *testing.T) {
			args := append([]string{"template", "x", "."}, tc.set...)
			out, err := runHelmIn(dir, args...)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("helm %s rendered, want a failure naming the key", strings.Join(args, " "))
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("error does not say %q:\n%s", tc.want, out)
			}
		})
	}
	// A tag read from a values file as a number (1.10 is the float 1.1).
	write(t, filepath.Join(dir, "float-tag.yaml"), "tinit:\n  image:\n    tag: 1.10\n")
	out, err := runHelmIn(dir, "template", "x", ".", "-f", "float-tag.yaml")
	if err == nil || !strings.Contains(out, "tinit.image.tag must be a string (quote it)") {
		t.Errorf("an unquoted numeric tag: %v\n%s", err, out)
	}
}

// libAppVersion is tinit-lib's Chart.yaml appVersion.
func libAppVersion(t *testing.T) string {
	t.Helper()
	var c struct {
		AppVersion  string            `json:"appVersion"`
		Annotations map[string]string `json:"annotations"`
	}
	readYAML(t, filepath.Join(libDir, "Chart.yaml"), &c)
	if c.AppVersion == "" {
		t.Fatal("tinit-lib has no appVersion")
	}
	return c.AppVersion
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestImageTagAndDigest: the tinit image tag defaults to tinit-lib's
// appVersion (the literal in its template must match Chart.yaml, so a
// release that writes one in but not the other fails here); a tag and a
// digest can be set, and a digest pins the image.
func TestImageTagAndDigest(t *testing.T) {
	tpl, err := os.ReadFile(filepath.Join(libDir, "templates", "_tinit.tpl"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`define "tinit-lib.appVersion" -\}\}([^{]*)\{\{`).FindSubmatch(tpl)
	if m == nil {
		t.Fatal(`no "tinit-lib.appVersion" template`)
	}
	ver := libAppVersion(t)
	if string(m[1]) != ver {
		t.Fatalf("tinit-lib.appVersion renders %q, Chart.yaml appVersion is %q", m[1], ver)
	}
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	cases := []struct {
		args []string
		want string
	}{
		{nil, "tinit:" + ver},
		{[]string{"--set", "tinit.image.tag=1.2.3"}, "tinit:1.2.3"},
		{[]string{"--set", "tinit.image.digest=" + digest}, "tinit:" + ver + "@" + digest},
		{[]string{"--set", "tinit.image.repository=ghcr.io/tinit/tinit", "--set", "tinit.image.tag=1.2.3", "--set", "tinit.image.digest=" + digest}, "ghcr.io/tinit/tinit:1.2.3@" + digest},
		{[]string{"-f", "ci/sidecar-values.yaml", "--set", "tinit.image.digest=" + digest}, "tinit:dev@" + digest},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			d := onlyDeployment(t, render(t, tc.args...))
			if got := d.Spec.Template.Spec.InitContainers[0].Image; got != tc.want {
				t.Errorf("install image %q, want %q", got, tc.want)
			}
		})
	}
	out, err := runHelm("template", "x", ".", "--set", "tinit.image.digest=sha256:abc")
	if err == nil || !strings.Contains(out, "digest") {
		t.Errorf("a bad digest: %v\n%s", err, out)
	}
}

// TestKubeVersion: sidecar mode refuses Kubernetes below 1.29 with a
// message saying so; inject mode renders on an old version.
func TestKubeVersion(t *testing.T) {
	for _, v := range []string{"1.28.9", "v1.27.0", "1.28.3-eks-1234"} {
		out, err := runHelm("template", "x", ".", "--set", "mode=sidecar", "--kube-version", v)
		if err == nil {
			t.Errorf("sidecar mode rendered on Kubernetes %s", v)
		} else if !strings.Contains(out, "mode sidecar needs Kubernetes 1.29 or newer") {
			t.Errorf("Kubernetes %s: the failure does not say why:\n%s", v, out)
		}
	}
	for _, v := range []string{"1.29.0", "1.29.0-gke.1", "1.33.1"} {
		render(t, "--set", "mode=sidecar", "--kube-version", v)
	}
	render(t, "--kube-version", "1.23.0")
}

// TestStartupProbe: TINIT_CHECK_START_PERIOD comes from checks.startPeriod
// and the startupProbe covers it: periodSeconds * failureThreshold is at
// least the start period plus probes.startup.failureThreshold periods.
func TestStartupProbe(t *testing.T) {
	cases := []struct {
		args   []string
		period time.Duration
	}{
		{nil, 0},
		{[]string{"--set", "tinit.checks.startPeriod=90s"}, 90 * time.Second},
		{[]string{"--set", "tinit.checks.startPeriod=1m1s"}, 61 * time.Second},
		{[]string{"--set", "tinit.checks.startPeriod=500ms"}, 500 * time.Millisecond},
		{[]string{"--set", "tinit.checks.startPeriod=1h", "--set", "tinit.probes.startup.periodSeconds=10"}, time.Hour},
		{[]string{"--set", "tinit.checks.startPeriod=2.5m"}, 150 * time.Second},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			d := onlyDeployment(t, render(t, tc.args...))
			c := &d.Spec.Template.Spec.Containers[0]
			env := envMap(t, c)
			v, set := env["TINIT_CHECK_START_PERIOD"]
			if tc.period == 0 && set {
				t.Errorf("TINIT_CHECK_START_PERIOD=%q with no start period", v)
			}
			if tc.period != 0 {
				if got, err := time.ParseDuration(v); err != nil || got != tc.period {
					t.Errorf("TINIT_CHECK_START_PERIOD=%q, want %s", v, tc.period)
				}
			}
			checkStartup(t, c, healthName, tc.period)
		})
	}
	d := onlyDeployment(t, render(t, "-f", "ci/sidecar-values.yaml", "--set", "sidecar.checks.startPeriod=45s"))
	sc := findContainer(d.Spec.Template.Spec.InitContainers, "fluent-bit")
	if got := envMap(t, sc)["TINIT_CHECK_START_PERIOD"]; got != "45s" {
		t.Errorf("sidecar TINIT_CHECK_START_PERIOD=%q, want 45s", got)
	}
	checkSidecarStartup(t, sc, sidecarName, 45*time.Second)
}

// checkStartup: an app container's startupProbe is on /healthz at the
// named port, and its period times threshold covers start plus 3 (the
// default budget) periods.
func checkStartup(t *testing.T, c *corev1.Container, portName string, start time.Duration) {
	t.Helper()
	checkStartupProbe(t, c, "/healthz", portName, start, 3)
}

// checkSidecarStartup: a native sidecar's startupProbe waits for /readyz
// (its app checks), since it is what holds the pod's main containers
// back, and covers start plus 60 (probes.sidecarStartup) periods.
func checkSidecarStartup(t *testing.T, c *corev1.Container, portName string, start time.Duration) {
	t.Helper()
	checkStartupProbe(t, c, "/readyz", portName, start, 60)
}

func checkStartupProbe(t *testing.T, c *corev1.Container, path, portName string, start time.Duration, budget int) {
	t.Helper()
	p := c.StartupProbe
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != portName {
		t.Fatalf("container %s: startupProbe %+v, want GET %s on %s", c.Name, p, path, portName)
	}
	period := time.Duration(p.PeriodSeconds) * time.Second
	covered := period * time.Duration(p.FailureThreshold)
	if covered < start+time.Duration(budget)*period {
		t.Errorf("container %s: startupProbe %d x %s = %s does not cover the start period %s and %d more periods", c.Name, p.FailureThreshold, period, covered, start, budget)
	}
	if covered >= start+time.Duration(budget+2)*period {
		t.Errorf("container %s: startupProbe %d x %s = %s waits well beyond the start period %s", c.Name, p.FailureThreshold, period, covered, start)
	}
}

// TestDrainDerivesTheReadinessProbe: with a drain, the kubelet must see
// /readyz turn 503 within the first half of it (periodSeconds x
// failureThreshold), so the chart lowers periodSeconds when needed and
// never raises it; a drain that even a 1 s period cannot honour fails the
// render, naming drainSeconds. Both modes: the sidecar's tinit drains too.
func TestDrainDerivesTheReadinessProbe(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantPeriod int32
	}{
		{"no drain keeps the period", nil, 5},
		{"a 5 s drain with 2 failures needs 1 s", []string{"--set", "tinit.drainSeconds=5"}, 1},
		{"a 12 s drain with 2 failures needs 3 s", []string{"--set", "tinit.drainSeconds=12"}, 3},
		{"a 20 s drain already fits 5 s x 2", []string{"--set", "tinit.drainSeconds=20"}, 5},
		{"a drain of exactly 2 x failures", []string{"--set", "tinit.drainSeconds=4"}, 1},
		{"one failure halves what is needed", []string{"--set", "tinit.drainSeconds=3", "--set", "tinit.probes.readiness.failureThreshold=1"}, 1},
		{"a shorter period set is kept", []string{"--set", "tinit.drainSeconds=30", "--set", "tinit.probes.readiness.periodSeconds=2"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := onlyDeployment(t, render(t, tc.args...))
			checkReadinessPeriod(t, &d.Spec.Template.Spec.Containers[0], tc.wantPeriod)
			d = onlyDeployment(t, render(t, append([]string{"--set", "mode=sidecar", "--set", "sidecar.command[0]=sleep"}, tc.args...)...))
			checkReadinessPeriod(t, findContainer(d.Spec.Template.Spec.InitContainers, "sidecar"), tc.wantPeriod)
		})
	}
	for _, args := range [][]string{
		{"--set", "tinit.drainSeconds=3"},
		{"--set", "tinit.drainSeconds=1"},
		{"--set", "tinit.drainSeconds=5", "--set", "tinit.probes.readiness.failureThreshold=3"},
	} {
		t.Run("refused "+strings.Join(args, " "), func(t *testing.T) {
			out, err := runHelm(append([]string{"template", "tinit-test", "."}, args...)...)
			if err == nil || !strings.Contains(out, "tinit.drainSeconds") || !strings.Contains(out, "failureThreshold") {
				t.Fatalf("helm template %v: err %v, want a failure naming tinit.drainSeconds and failureThreshold:\n%s", args, err, out)
			}
		})
	}
}

func checkReadinessPeriod(t *testing.T, c *corev1.Container, want int32) {
	t.Helper()
	p := c.ReadinessProbe
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Fatalf("container %s: readinessProbe %+v, want GET /readyz", c.Name, p)
	}
	if p.PeriodSeconds != want {
		t.Errorf("container %s: readiness periodSeconds %d, want %d (failureThreshold %d)", c.Name, p.PeriodSeconds, want, p.FailureThreshold)
	}
}

// TestTinitDisabled: charts/tinit with tinit.enabled false renders the
// pod without tinit (for a parent chart's condition).
func TestTinitDisabled(t *testing.T) {
	d := onlyDeployment(t, render(t, "--set", "tinit.enabled=false"))
	pod := &d.Spec.Template.Spec
	if len(pod.InitContainers) != 0 || len(pod.Volumes) != 0 {
		t.Errorf("init containers %v, volumes %v", pod.InitContainers, pod.Volumes)
	}
	c := &pod.Containers[0]
	if !equal(c.Command, []string{"nginx", "-g", "daemon off;"}) || len(c.Env) != 0 || c.LivenessProbe != nil || len(c.VolumeMounts) != 0 {
		t.Errorf("app container still has tinit: %+v", c)
	}
	checkRestricted(t, d)

	d = onlyDeployment(t, render(t, "-f", "ci/sidecar-values.yaml", "--set", "tinit.enabled=false"))
	pod = &d.Spec.Template.Spec
	if len(pod.InitContainers) != 1 || len(pod.Volumes) != 0 {
		t.Fatalf("sidecar mode without tinit: init containers %v, volumes %v, want the sidecar only", pod.InitContainers, pod.Volumes)
	}
	sc := &pod.InitContainers[0]
	env := envMap(t, sc)
	if !equal(sc.Command, []string{"/fluent-bit/bin/fluent-bit"}) || len(env) != 1 || env["FLB_LOG_LEVEL"] != "info" || sc.StartupProbe != nil || len(sc.Ports) != 1 || len(sc.VolumeMounts) != 0 {
		t.Errorf("sidecar still has tinit: %+v", sc)
	}
	checkRestricted(t, d)
}

// TestRestrictedProfile: every container of every rendered mode meets the
// restricted Pod Security Standard.
func TestRestrictedProfile(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"-f", "ci/inject-values.yaml"},
		{"--set", "mode=sidecar"},
		{"-f", "ci/sidecar-values.yaml"},
		{"-f", "ci/sidecar-values.yaml", "--set", "sidecar.shareProcessNamespace=false"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			checkRestricted(t, onlyDeployment(t, render(t, args...)))
		})
	}
	t.Run("a container that is not restricted is caught", func(t *testing.T) {
		d := onlyDeployment(t, render(t, "--set", "app.securityContext.allowPrivilegeEscalation=null"))
		ft := &fakeT{}
		checkRestricted(ft, d)
		if len(ft.errs) == 0 {
			t.Error("allowPrivilegeEscalation unset was accepted")
		}
	})
}

type errorer interface {
	Helper()
	Errorf(format string, args ...any)
}

type fakeT struct{ errs []string }

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

// checkRestricted checks the pod against the restricted Pod Security
// Standard (https://kubernetes.io/docs/concepts/security/pod-security-standards/),
// the container settings taking the pod's as defaults.
func checkRestricted(t errorer, d *appsv1.Deployment) {
	t.Helper()
	pod := &d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("pod uses a host namespace")
	}
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		t.Errorf("pod runAsUser 0")
	}
	for _, v := range pod.Volumes {
		if v.EmptyDir == nil && v.ConfigMap == nil && v.Secret == nil && v.Projected == nil && v.DownwardAPI == nil && v.PersistentVolumeClaim == nil && v.CSI == nil && v.Ephemeral == nil {
			t.Errorf("volume %s has a type the restricted profile forbids", v.Name)
		}
	}
	all := append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
	for _, c := range all {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil {
			nonRoot = psc.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			t.Errorf("container %s: runAsNonRoot is not true", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Errorf("container %s: runAsUser 0", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s: privileged", c.Name)
		}
		if sc.Capabilities == nil || !equal(capNames(sc.Capabilities.Drop), []string{"ALL"}) {
			t.Errorf("container %s: capabilities do not drop ALL", c.Name)
		} else {
			for _, a := range sc.Capabilities.Add {
				if a != "NET_BIND_SERVICE" {
					t.Errorf("container %s: adds capability %s", c.Name, a)
				}
			}
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
			t.Errorf("container %s: seccompProfile is not RuntimeDefault or Localhost", c.Name)
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				t.Errorf("container %s: hostPort %d", c.Name, p.HostPort)
			}
		}
	}
}

// TestChartAnnotations: both charts carry the SPDX licence identifier, and
// charts/tinit lists tinit-lib as a dependency that is present in charts/.
func TestChartAnnotations(t *testing.T) {
	for _, dir := range []string{chartDir, libDir} {
		var c struct {
			Annotations  map[string]string `json:"annotations"`
			Dependencies []struct {
				Name, Version, Repository string
			} `json:"dependencies"`
		}
		readYAML(t, filepath.Join(dir, "Chart.yaml"), &c)
		if got := c.Annotations["artifacthub.io/license"]; got != "Apache-2.0" {
			t.Errorf("%s/Chart.yaml: artifacthub.io/license %q, want Apache-2.0", filepath.Base(dir), got)
		}
		if dir == chartDir {
			if len(c.Dependencies) != 1 || c.Dependencies[0].Name != "tinit-lib" {
				t.Fatalf("charts/tinit dependencies %+v, want tinit-lib", c.Dependencies)
			}
			var lib struct{ Version string }
			readYAML(t, filepath.Join(chartDir, "charts", "tinit-lib", "Chart.yaml"), &lib)
			if lib.Version != c.Dependencies[0].Version {
				t.Errorf("charts/tinit/charts/tinit-lib is version %q, Chart.yaml wants %q", lib.Version, c.Dependencies[0].Version)
			}
		}
	}
}

// TestSetAppVersion: charts/set-app-version.sh, for the release, writes
// one version into the three Chart.yaml files and tinit-lib's template,
// and the default image tags of the charts follow (tinit-inject's two).
func TestSetAppVersion(t *testing.T) {
	root := t.TempDir()
	copyTree(t, libDir, filepath.Join(root, "tinit-lib"), "")
	copyTree(t, chartDir, filepath.Join(root, "tinit"), "test")
	copyTree(t, injectChartDir(), filepath.Join(root, "tinit-inject"), "")
	link := filepath.Join(root, "tinit", "charts", "tinit-lib")
	if err := os.RemoveAll(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", "..", "tinit-lib"), link); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(filepath.Dir(chartDir), "set-app-version.sh")
	if out, err := exec.Command("sh", script, "1.4.0", root).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	d := onlyDeployment(t, renderIn(t, filepath.Join(root, "tinit")))
	if got := d.Spec.Template.Spec.InitContainers[0].Image; got != "tinit:1.4.0" {
		t.Errorf("after set-app-version.sh 1.4.0, the tinit image is %q", got)
	}
	if got := d.Labels["app.kubernetes.io/version"]; got != "1.4.0" {
		t.Errorf("after set-app-version.sh 1.4.0, app.kubernetes.io/version is %q", got)
	}
	inj := one(t, "Deployments", injRenderIn(t, filepath.Join(root, "tinit-inject")).deploy)
	c := injContainer(t, inj)
	if c.Image != "tinit-inject:1.4.0" {
		t.Errorf("after set-app-version.sh 1.4.0, the tinit-inject image is %q", c.Image)
	}
	if got := flag1(t, serveFlags(t, c), "--tinit-image"); got != "tinit:1.4.0" {
		t.Errorf("after set-app-version.sh 1.4.0, tinit-inject's --tinit-image is %q", got)
	}
	if out, err := exec.Command("sh", script, "1.4.0; echo x", root).CombinedOutput(); err == nil {
		t.Errorf("a version with a shell metacharacter was accepted:\n%s", out)
	}
}

// TestLibNotify: the user chart's tinit.notify renders the TINIT_NOTIFY*
// variables into its own container's env, and nothing with notify or
// tinit off.
func TestLibNotify(t *testing.T) {
	dir := userChart(t)
	on := []string{"--set", "tinit.notify.enabled=true"}
	cases := []struct {
		name string
		args []string
		want map[string]string
	}{
		{"default off", nil, nil},
		{"enabled", on, map[string]string{"TINIT_NOTIFY": "true", "TINIT_NOTIFY_ACCESS": "tree"}},
		{"all four", append(on, "--set", "tinit.notify.access=main", "--set", "tinit.notify.watchdog=20s", "--set", "tinit.notify.timeout=5m"), map[string]string{"TINIT_NOTIFY": "true", "TINIT_NOTIFY_ACCESS": "main", "TINIT_NOTIFY_WATCHDOG": "20s", "TINIT_NOTIFY_TIMEOUT": "5m"}},
		{"tinit disabled", append(on, "--set", "tinit.enabled=false"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lintUserChart(t, dir, tc.args...)
			d := onlyDeployment(t, renderIn(t, dir, tc.args...))
			pod := &d.Spec.Template.Spec
			checkUserOwn(t, pod)
			c := findContainer(pod.Containers, "shop")
			checkNotifyEnv(t, c.Name, envMap(t, c), tc.want)
			checkRestricted(t, d)
		})
	}
}

// TestLibExitZeroOnStop: tinit-lib's tinit.exitZeroOnStop, off by default
// (its templates serve app containers, whose 143 must stay visible),
// renders TINIT_REMAP_EXIT for a sidecar that should exit 0 when its pod
// stops it; a TINIT_REMAP_EXIT in tinit.extraEnv replaces it, so the
// container never names the variable twice.
func TestLibExitZeroOnStop(t *testing.T) {
	dir := userChart(t)
	on := []string{"--set", "tinit.exitZeroOnStop=true"}
	own := []string{"--set", "tinit.extraEnv[0].name=TINIT_REMAP_EXIT", "--set", "tinit.extraEnv[0].value=143:0"}
	cases := []struct {
		name string
		args []string
		want string // TINIT_REMAP_EXIT, "" unset
	}{
		{"off by default", nil, ""},
		{"off, written out", []string{"--set", "tinit.exitZeroOnStop=false"}, ""},
		{"on", on, stopRemap},
		{"on, the user's own in extraEnv replaces it", append(append([]string{}, on...), own...), "143:0"},
		{"off, the user's own in extraEnv", own, "143:0"},
		{"on, tinit disabled", append(append([]string{}, on...), "--set", "tinit.enabled=false"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lintUserChart(t, dir, tc.args...)
			d := onlyDeployment(t, renderIn(t, dir, tc.args...))
			pod := &d.Spec.Template.Spec
			checkUserOwn(t, pod)
			checkRemap(t, findContainer(pod.Containers, "shop"), tc.want)
			checkRestricted(t, d)
		})
	}
}
