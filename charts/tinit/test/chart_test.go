// Package test lints and renders the tinit Helm chart and a user chart
// built on the tinit-lib library chart with a pinned helm (built from the
// Go module proxy), decodes every rendered document strictly into
// k8s.io/api types, and checks that the probes, ports and commands point at
// tinit and that every container meets the restricted Pod Security
// Standard.
//
// It is a Go module of its own so that the tinit module never depends on
// Kubernetes or Helm. The first run builds helm (about 4 minutes on two
// cores; cached in GOCACHE afterwards), hence the long timeout:
//
//	cd charts/tinit/test && go test -count=1 -timeout 20m ./...
package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// helmModule is the pinned helm, built from the module proxy.
const helmModule = "helm.sh/helm/v3/cmd/helm@v3.22.0"

const (
	binPath     = "/tinit-bin/tinit"
	binDir      = "/tinit-bin"
	healthName  = "tinit-health"
	sidecarName = "sidecar-health"
	termLog     = "/dev/termination-log"
)

var chartDir string

// libDir is charts/tinit-lib.
var libDir string

// helmBin is the pinned helm, built once by TestMain (from the build cache
// after the first run) and copied into a temporary directory: running the
// binary is much faster than a `go run` per call.
var helmBin string

// kubeVersion is passed to every render and lint: helm built from source
// without the release's ldflags defaults .Capabilities.KubeVersion to v1.20.0, below the
// 1.29 that sidecar mode needs.
const kubeVersion = "1.31.0"

// helmEnv keeps helm's cache, config and data out of the user's home.
var helmEnv []string

func TestMain(m *testing.M) {
	dir, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	chartDir = dir
	libDir = filepath.Join(filepath.Dir(dir), "tinit-lib")
	home, err := os.MkdirTemp("", "tinit-chart-helm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	helmEnv = []string{
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
	}
	// Build (or fetch from the cache) helm once, up front, so a build
	// failure is reported once and clearly.
	start := time.Now()
	bin, err := buildHelm(filepath.Join(home, "helm"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "building %s failed: %v\n", helmModule, err)
		os.RemoveAll(home)
		os.Exit(1)
	}
	helmBin = bin
	out, err := runHelm("version", "--short")
	if err != nil {
		fmt.Fprintf(os.Stderr, "building %s failed: %v\n%s", helmModule, err, out)
		os.RemoveAll(home)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "helm %s ready in %s\n", strings.TrimSpace(out), time.Since(start).Round(time.Second))
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// buildHelm builds the pinned helm with `go run -exec "cp -t DIR"`: go run
// hands cp the linked executable, which cp copies to dst's directory
// while it still exists (a fresh link lives in a temporary directory that
// go run removes when cp returns; go install would link helm again on
// every run, about 20 s, while go run caches linked executables). dst
// must end in "helm", the executable's name.
func buildHelm(dst string) (string, error) {
	if filepath.Base(dst) != "helm" {
		return "", fmt.Errorf("buildHelm: %q must be named helm", dst)
	}
	cmd := exec.Command("go", "run", "-exec", "cp -t "+filepath.Dir(dst), helmModule)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil {
		return "", fmt.Errorf("%v\n%s%s", err, out, stderr.String())
	}
	if _, err := os.Stat(dst); err != nil {
		return "", fmt.Errorf("go run -exec cp: %w", err)
	}
	return dst, nil
}

// runHelm runs the pinned helm in the chart directory and returns its
// combined output.
func runHelm(args ...string) (string, error) {
	return runHelmIn(chartDir, args...)
}

// runHelmIn runs the pinned helm in dir and returns its combined output.
func runHelmIn(dir string, args ...string) (string, error) {
	stdout, stderr, err := helmOut(dir, args...)
	return stderr + stdout, err
}

// helmOut runs the pinned helm in dir and returns stdout and stderr apart:
// helm logs the symlink charts/tinit-lib to stderr, which is no part of
// the rendered YAML.
func helmOut(dir string, args ...string) (string, string, error) {
	cmd := exec.Command(helmBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helmEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// ciFiles are the chart-testing values files.
func ciFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("want at least ci/inject-values.yaml and ci/sidecar-values.yaml, got %v", files)
	}
	for i, f := range files {
		files[i] = filepath.Join("ci", filepath.Base(f))
	}
	return files
}

func TestLint(t *testing.T) {
	cases := [][]string{{"lint", "--strict", "--kube-version", kubeVersion, "."}}
	for _, f := range ciFiles(t) {
		cases = append(cases, []string{"lint", "--strict", "--kube-version", kubeVersion, "-f", f, "."})
	}
	for _, args := range cases {
		t.Run(strings.Join(args[4:], " "), func(t *testing.T) {
			out, err := runHelm(args...)
			if err != nil {
				t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint output:\n%s", out)
			}
		})
	}
}

// render runs helm template on charts/tinit with the given extra
// arguments and decodes every document strictly.
func render(t *testing.T, args ...string) []any {
	t.Helper()
	return renderIn(t, chartDir, args...)
}

// renderIn runs helm template on the chart in dir (at Kubernetes
// kubeVersion unless args say otherwise) and decodes every document
// strictly.
func renderIn(t *testing.T, dir string, args ...string) []any {
	t.Helper()
	all := append([]string{"template", "tinit-test", ".", "--namespace", "apps", "--kube-version", kubeVersion}, args...)
	out, stderr, err := helmOut(dir, all...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(all, " "), err, stderr, out)
	}
	objs, err := decodeAll(out)
	if err != nil {
		t.Fatalf("%v\nrendered:\n%s", err, out)
	}
	if len(objs) == 0 {
		t.Fatalf("helm template rendered no documents:\n%s", out)
	}
	return objs
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeAll splits a multi-document YAML stream and decodes each document
// into its k8s.io/api type, chosen from apiVersion and kind. Unknown kinds,
// unknown fields and duplicate keys are errors.
func decodeAll(stream string) ([]any, error) {
	var objs []any
	for i, doc := range docSep.Split(stream, -1) {
		if isEmptyDoc(doc) {
			continue
		}
		obj, err := decodeStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w\n%s", i, err, doc)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

func isEmptyDoc(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// kinds maps "apiVersion/kind" to a constructor of the typed object.
var kinds = map[string]func() any{
	"apps/v1/Deployment": func() any { return new(appsv1.Deployment) },
	"v1/Pod":             func() any { return new(corev1.Pod) },
}

func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("YAML to JSON: %w", err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return nil, fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	newObj, ok := kinds[head.APIVersion+"/"+head.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q (apiVersion %q): add it to kinds to decode it", head.Kind, head.APIVersion)
	}
	obj := newObj()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("strict decode into %T: %w", obj, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after the %s object", head.Kind)
	}
	return obj, nil
}

func TestDecodeStrictRejectsUnknownFields(t *testing.T) {
	doc := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: 1\n  replicaz: 2\n"
	if _, err := decodeStrict([]byte(doc)); err == nil || !strings.Contains(err.Error(), "replicaz") {
		t.Fatalf("unknown field accepted: %v", err)
	}
	doc = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          livenesProbe: {}\n"
	if _, err := decodeStrict([]byte(doc)); err == nil {
		t.Fatal("unknown nested field accepted")
	}
	if _, err := decodeStrict([]byte("apiVersion: v1\nkind: Bogus\n")); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if _, err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nkind: Deployment\n")); err == nil {
		t.Fatal("duplicate key accepted")
	}
}

func onlyDeployment(t *testing.T, objs []any) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	for _, o := range objs {
		if x, ok := o.(*appsv1.Deployment); ok {
			if d != nil {
				t.Fatal("more than one Deployment rendered")
			}
			d = x
		}
	}
	if d == nil {
		t.Fatal("no Deployment rendered")
	}
	return d
}

func envMap(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, e := range c.Env {
		if _, dup := m[e.Name]; dup && strings.HasPrefix(e.Name, "TINIT_") {
			t.Errorf("container %s: %s set twice", c.Name, e.Name)
		}
		m[e.Name] = e.Value
	}
	return m
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// checkInstall asserts the init container that copies tinit into the
// emptyDir: the right command, non-root, read-only root filesystem.
func checkInstall(t *testing.T, pod *corev1.PodSpec) {
	t.Helper()
	if len(pod.InitContainers) == 0 {
		t.Fatal("no init containers")
	}
	ic := &pod.InitContainers[0]
	if want := []string{"/tinit", "--install", binDir}; !equal(ic.Command, want) {
		t.Errorf("install container command = %q, want %q", ic.Command, want)
	}
	if ic.RestartPolicy != nil {
		t.Errorf("install container has restartPolicy %q: it must run to completion", *ic.RestartPolicy)
	}
	sc := ic.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("install container has no securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("install container: runAsNonRoot is not true")
	case sc.RunAsUser == nil || *sc.RunAsUser == 0:
		t.Error("install container: runAsUser is unset or 0")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("install container: readOnlyRootFilesystem is not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("install container: allowPrivilegeEscalation is not false")
	case sc.Capabilities == nil || !equal(capNames(sc.Capabilities.Drop), []string{"ALL"}):
		t.Error("install container: capabilities do not drop ALL")
	}
	if !mounts(ic, binDir, false) {
		t.Errorf("install container does not mount the tinit-bin volume at %s", binDir)
	}
	var found bool
	for _, v := range pod.Volumes {
		if v.Name == "tinit-bin" {
			found = true
			if v.EmptyDir == nil {
				t.Error("tinit-bin volume is not an emptyDir")
			}
		}
	}
	if !found {
		t.Error("no tinit-bin volume")
	}
}

func capNames(cs []corev1.Capability) []string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return s
}

// mounts reports whether c mounts tinit-bin at path (read-only if ro).
func mounts(c *corev1.Container, path string, ro bool) bool {
	for _, m := range c.VolumeMounts {
		if m.Name == "tinit-bin" && m.MountPath == path && (!ro || m.ReadOnly) {
			return true
		}
	}
	return false
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkUnderTinit asserts a container that runs its process under tinit:
// the command, the named health port, the probes, TINIT_HEALTH_ADDR, the
// termination log, and the read-only tinit-bin mount. It returns the
// container's environment.
func checkUnderTinit(t *testing.T, c *corev1.Container, portName string, wantCmd []string) map[string]string {
	t.Helper()
	if len(c.Command) < 3 || c.Command[0] != binPath || c.Command[1] != "--" {
		t.Fatalf("container %s: command %q does not start with %q, %q and a program", c.Name, c.Command, binPath, "--")
	}
	if wantCmd != nil && !equal(c.Command[2:], wantCmd) {
		t.Errorf("container %s: program %q, want %q", c.Name, c.Command[2:], wantCmd)
	}
	var port int32
	for _, p := range c.Ports {
		if p.Name == portName {
			if port != 0 {
				t.Errorf("container %s: port %s declared twice", c.Name, portName)
			}
			port = p.ContainerPort
		}
	}
	if port == 0 {
		t.Fatalf("container %s: no containerPort named %q", c.Name, portName)
	}
	for _, pr := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		switch {
		case pr.probe == nil:
			t.Errorf("container %s: no %s probe", c.Name, pr.kind)
		case pr.probe.HTTPGet == nil:
			t.Errorf("container %s: %s probe is not httpGet", c.Name, pr.kind)
		case pr.probe.HTTPGet.Path != pr.path:
			t.Errorf("container %s: %s probe path %q, want %q", c.Name, pr.kind, pr.probe.HTTPGet.Path, pr.path)
		case pr.probe.HTTPGet.Port.String() != portName:
			t.Errorf("container %s: %s probe port %q, want the named port %q", c.Name, pr.kind, pr.probe.HTTPGet.Port.String(), portName)
		}
	}
	env := envMap(t, c)
	if got, want := env["TINIT_HEALTH_ADDR"], fmt.Sprintf(":%d", port); got != want {
		t.Errorf("container %s: TINIT_HEALTH_ADDR=%q, want %q (the %s port)", c.Name, got, want, portName)
	}
	if got := env["TINIT_TERMINATION_LOG"]; got != termLog {
		t.Errorf("container %s: TINIT_TERMINATION_LOG=%q, want %q", c.Name, got, termLog)
	}
	if c.TerminationMessagePath != "" && c.TerminationMessagePath != termLog {
		t.Errorf("container %s: terminationMessagePath %q, tinit writes %q", c.Name, c.TerminationMessagePath, termLog)
	}
	if r := env["TINIT_RESTART"]; r != "never" && r != "on-failure" && r != "always" {
		t.Errorf("container %s: TINIT_RESTART=%q", c.Name, r)
	}
	if !mounts(c, binDir, true) {
		t.Errorf("container %s: tinit-bin is not mounted read-only at %s", c.Name, binDir)
	}
	return env
}

// checkGrace asserts terminationGracePeriodSeconds > TINIT_DRAIN + TINIT_GRACE
// (TINIT_GRACE defaults to 8s, TINIT_DRAIN to 0).
func checkGrace(t *testing.T, pod *corev1.PodSpec, env map[string]string) time.Duration {
	t.Helper()
	dur := func(name string, def time.Duration) time.Duration {
		v, ok := env[name]
		if !ok || v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, v, err)
		}
		return d
	}
	deadline := dur("TINIT_DRAIN", 0) + dur("TINIT_GRACE", 8*time.Second)
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatal("terminationGracePeriodSeconds is unset (the kubelet default is 30s)")
	}
	tgp := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if tgp <= deadline {
		t.Errorf("terminationGracePeriodSeconds %s is not above drain+grace %s", tgp, deadline)
	}
	return deadline
}

func TestInjectMode(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		app      string
		cmd      []string
		tcpCheck string
		deadline time.Duration
	}{
		{"defaults", nil, "app", []string{"nginx", "-g", "daemon off;"}, "127.0.0.1:8080", 8 * time.Second},
		{"ci/inject-values.yaml", []string{"-f", "ci/inject-values.yaml"}, "web", []string{"nginx", "-g", "daemon off;"}, "127.0.0.1:8080", 25 * time.Second},
		{"no app port, custom health port", []string{"--set", "app.port=null", "--set", "tinit.healthPort=9999", "--set", "tinit.graceSeconds=30", "--set", "tinit.drainSeconds=7"}, "app", nil, "", 37 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := onlyDeployment(t, render(t, tc.args...))
			pod := &d.Spec.Template.Spec
			checkInstall(t, pod)
			if len(pod.InitContainers) != 1 {
				t.Errorf("inject mode: %d init containers, want only the install one", len(pod.InitContainers))
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("inject mode: %d containers, want 1", len(pod.Containers))
			}
			app := findContainer(pod.Containers, tc.app)
			if app == nil {
				t.Fatalf("no container named %q", tc.app)
			}
			env := checkUnderTinit(t, app, healthName, tc.cmd)
			if got := env["TINIT_CHECK_TCP"]; got != tc.tcpCheck && !strings.HasPrefix(got, tc.tcpCheck+",") {
				t.Errorf("TINIT_CHECK_TCP=%q, want %q first", got, tc.tcpCheck)
			}
			if tc.tcpCheck == "" {
				if _, ok := env["TINIT_CHECK_TCP"]; ok {
					t.Errorf("TINIT_CHECK_TCP set without app.port")
				}
			}
			if _, ok := env["TINIT_SUBREAPER"]; ok {
				t.Error("TINIT_SUBREAPER set in inject mode (tinit is PID 1 there)")
			}
			if pod.ShareProcessNamespace != nil && *pod.ShareProcessNamespace {
				t.Error("shareProcessNamespace set in inject mode")
			}
			if got := checkGrace(t, pod, env); got != tc.deadline {
				t.Errorf("drain+grace = %s, want %s", got, tc.deadline)
			}
		})
	}
}

func TestInjectCIValues(t *testing.T) {
	d := onlyDeployment(t, render(t, "-f", "ci/inject-values.yaml"))
	env := envMap(t, findContainer(d.Spec.Template.Spec.Containers, "web"))
	for k, want := range map[string]string{
		"TINIT_RESTART":               "on-failure",
		"TINIT_GRACE":                 "20s",
		"TINIT_DRAIN":                 "5s",
		"TINIT_REWRITE":               "TERM:QUIT",
		"TINIT_CHECK_HTTP":            "http://127.0.0.1:8080/",
		"TINIT_CHECK_FAIL_AFTER":      "30s",
		"TINIT_MAX_RESTARTS":          "5",
		"NGINX_ENTRYPOINT_QUIET_LOGS": "1",
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
}

func TestSidecarMode(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		sidecar   string
		app       string
		restart   string
		subreaper bool
		tcpCheck  string
	}{
		{"defaults", []string{"--set", "mode=sidecar"}, "sidecar", "app", "on-failure", false, ""},
		{"ci/sidecar-values.yaml", []string{"-f", "ci/sidecar-values.yaml"}, "fluent-bit", "echo", "on-failure", true, "127.0.0.1:2020"},
		{"restart always, no shared namespace", []string{"-f", "ci/sidecar-values.yaml", "--set", "sidecar.restart=always", "--set", "sidecar.shareProcessNamespace=false"}, "fluent-bit", "echo", "always", false, "127.0.0.1:2020"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := onlyDeployment(t, render(t, tc.args...))
			pod := &d.Spec.Template.Spec
			checkInstall(t, pod)
			var sc *corev1.Container
			for i := range pod.InitContainers {
				c := &pod.InitContainers[i]
				if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
					if sc != nil {
						t.Fatal("more than one native sidecar")
					}
					sc = c
				}
			}
			if sc == nil {
				t.Fatal("no init container with restartPolicy Always")
			}
			if sc.Name != tc.sidecar {
				t.Errorf("sidecar named %q, want %q", sc.Name, tc.sidecar)
			}
			if sc.Name == pod.InitContainers[0].Name {
				t.Error("the sidecar starts before tinit is installed")
			}
			env := checkUnderTinit(t, sc, sidecarName, nil)
			if got := env["TINIT_RESTART"]; got != tc.restart {
				t.Errorf("sidecar TINIT_RESTART=%q, want %q", got, tc.restart)
			}
			if got := env["TINIT_CHECK_TCP"]; got != tc.tcpCheck {
				t.Errorf("sidecar TINIT_CHECK_TCP=%q, want %q", got, tc.tcpCheck)
			}
			shared := pod.ShareProcessNamespace != nil && *pod.ShareProcessNamespace
			if shared != tc.subreaper {
				t.Errorf("shareProcessNamespace=%v, want %v", shared, tc.subreaper)
			}
			if sub, ok := env["TINIT_SUBREAPER"]; tc.subreaper && sub != "true" {
				t.Errorf("shared process namespace but TINIT_SUBREAPER=%q", sub)
			} else if !tc.subreaper && ok {
				t.Errorf("TINIT_SUBREAPER=%q without a shared process namespace", sub)
			}
			// The app is a plain container: no tinit, no tinit probes.
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want the app only", len(pod.Containers))
			}
			app := findContainer(pod.Containers, tc.app)
			if app == nil {
				t.Fatalf("no app container %q", tc.app)
			}
			if len(app.Command) > 0 && app.Command[0] == binPath {
				t.Errorf("app container runs under tinit in sidecar mode: %q", app.Command)
			}
			for _, p := range app.Ports {
				if p.Name == healthName || p.Name == sidecarName {
					t.Errorf("app container declares tinit's port %q", p.Name)
				}
			}
			checkGrace(t, pod, env)
		})
	}
}

// stopRemap is TINIT_REMAP_EXIT of sidecar.exitZeroOnStop and
// tinit-lib's tinit.exitZeroOnStop: 128 + INT, QUIT and TERM become 0.
const stopRemap = "130:0,131:0,143:0"

// checkRemap: c names TINIT_REMAP_EXIT at most once (the API server takes
// a duplicate and the last one wins, silently), with the value want, or
// not at all when want is "".
func checkRemap(t *testing.T, c *corev1.Container, want string) {
	t.Helper()
	var got []string
	for _, e := range c.Env {
		if e.Name == "TINIT_REMAP_EXIT" {
			got = append(got, e.Value)
		}
	}
	switch {
	case len(got) > 1:
		t.Errorf("container %s: TINIT_REMAP_EXIT named %d times (%q): the user's own must replace the chart's", c.Name, len(got), got)
	case want == "" && len(got) == 1:
		t.Errorf("container %s: TINIT_REMAP_EXIT=%q, want it unset", c.Name, got[0])
	case want != "" && len(got) == 0:
		t.Errorf("container %s: TINIT_REMAP_EXIT unset, want %q", c.Name, want)
	case want != "" && got[0] != want:
		t.Errorf("container %s: TINIT_REMAP_EXIT=%q, want %q", c.Name, got[0], want)
	}
}

// TestSidecarExitZeroOnStop: in sidecar mode the sidecar's tinit maps the
// stop signals' codes to 0 (sidecar.exitZeroOnStop, on by default), so a
// sidecar ended with its pod shows exit 0 and Completed; off, it shows
// 143. A TINIT_REMAP_EXIT of the user's own, in sidecar.env or
// tinit.extraEnv, replaces the chart's. The app container never gets it:
// in inject mode its 143 must stay visible.
func TestSidecarExitZeroOnStop(t *testing.T) {
	sidecar := []string{"--set", "mode=sidecar"}
	cases := []struct {
		name    string
		args    []string
		sidecar string // the sidecar's TINIT_REMAP_EXIT, "" unset
		tinit   bool   // the sidecar runs under tinit
	}{
		{"on by default in sidecar mode", sidecar, stopRemap, true},
		{"ci/sidecar-values.yaml", []string{"-f", "ci/sidecar-values.yaml"}, stopRemap, true},
		{"turned off", append(sidecar, "--set", "sidecar.exitZeroOnStop=false"), "", true},
		{"the user's own in sidecar.env replaces it", append(sidecar, "--set", "sidecar.env[0].name=TINIT_REMAP_EXIT", "--set", "sidecar.env[0].value=143:0"), "143:0", true},
		{"the user's own in tinit.extraEnv replaces it", append(sidecar, "--set", "tinit.extraEnv[0].name=TINIT_REMAP_EXIT", "--set", "tinit.extraEnv[0].value=137:0"), "137:0", true},
		{"the user's own with the key off", append(sidecar, "--set", "sidecar.exitZeroOnStop=false", "--set", "sidecar.env[0].name=TINIT_REMAP_EXIT", "--set", "sidecar.env[0].value=1:0"), "1:0", true},
		{"the user's own beside the chart's sidecar env (ci/sidecar-values.yaml)", []string{"-f", "ci/sidecar-values.yaml", "--set", "sidecar.env[0].name=TINIT_REMAP_EXIT", "--set", "sidecar.env[0].value=143:0"}, "143:0", true},
		{"tinit disabled", append(sidecar, "--set", "tinit.enabled=false"), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := onlyDeployment(t, render(t, tc.args...))
			pod := &d.Spec.Template.Spec
			var sc *corev1.Container
			for i := range pod.InitContainers {
				if c := &pod.InitContainers[i]; c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
					sc = c
				}
			}
			if sc == nil {
				t.Fatal("no native sidecar")
			}
			if tc.tinit {
				checkUnderTinit(t, sc, sidecarName, nil)
			}
			checkRemap(t, sc, tc.sidecar)
			for i := range pod.Containers {
				checkRemap(t, &pod.Containers[i], "")
			}
			checkRestricted(t, d)
		})
	}

	t.Run("inject mode: the app's 143 stays", func(t *testing.T) {
		for _, args := range [][]string{nil, {"-f", "ci/inject-values.yaml"}, {"--set", "sidecar.exitZeroOnStop=true"}} {
			d := onlyDeployment(t, render(t, args...))
			checkRemap(t, &d.Spec.Template.Spec.Containers[0], "")
		}
	})

	// The chart has no tinit.exitZeroOnStop: tinit's values there are the
	// app's too, and only the sidecar's stop is routine.
	for _, tc := range []struct{ name, set, want string }{
		{"no tinit.exitZeroOnStop in the chart", "tinit.exitZeroOnStop=true", "'exitZeroOnStop' not allowed"},
		{"a string is refused", "sidecar.exitZeroOnStop=yes", "/sidecar/exitZeroOnStop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := helmOut(chartDir, "template", "tinit-test", ".", "--kube-version", kubeVersion, "--set", "mode=sidecar", "--set-string", tc.set)
			if err == nil {
				t.Fatalf("--set-string %s rendered:\n%s", tc.set, stdout)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("--set-string %s: the error does not say %q:\n%s", tc.set, tc.want, stderr)
			}
		})
	}
}

func TestSidecarCIValues(t *testing.T) {
	d := onlyDeployment(t, render(t, "-f", "ci/sidecar-values.yaml"))
	pod := &d.Spec.Template.Spec
	sc := findContainer(pod.InitContainers, "fluent-bit")
	if sc == nil {
		t.Fatal("no fluent-bit sidecar")
	}
	want := []string{binPath, "--", "/fluent-bit/bin/fluent-bit"}
	if !equal(sc.Command, want) {
		t.Errorf("sidecar command %q, want %q", sc.Command, want)
	}
	if !equal(sc.Args, []string{"-c", "/fluent-bit/etc/fluent-bit.conf", "-H", "-P", "2020"}) {
		t.Errorf("sidecar args %q", sc.Args)
	}
	app := findContainer(pod.Containers, "echo")
	if app == nil || len(app.Command) != 0 || len(app.Args) != 2 {
		t.Errorf("app container should keep its image's entrypoint with two args: %+v", app)
	}
}

// TestTemplateFailures: values the schema or the templates must reject.
func TestTemplateFailures(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad restart policy", []string{"--set", "tinit.restart=sometimes"}, "restart"},
		{"bad sidecar restart policy", []string{"--set", "sidecar.restart=sometimes"}, "restart"},
		{"health port out of range", []string{"--set", "tinit.healthPort=70000"}, "healthPort"},
		{"health port zero", []string{"--set", "tinit.healthPort=0"}, "healthPort"},
		{"app port out of range", []string{"--set", "app.port=65536"}, "port"},
		{"health port not an integer", []string{"--set-string", "tinit.healthPort=9180"}, "healthPort"},
		{"bad mode", []string{"--set", "mode=bogus"}, "mode"},
		{"unknown top-level key", []string{"--set", "bogusKey=1"}, "bogusKey"},
		{"unknown nested key", []string{"--set", "tinit.graceSecond=9"}, "graceSecond"},
		{"bad duration", []string{"--set", "tinit.checks.failAfter=soon"}, "failAfter"},
		{"grace period not above drain+grace", []string{"--set", "terminationGracePeriodSeconds=8"}, "terminationGracePeriodSeconds"},
		{"inject without a command", []string{"--set", "app.command=null"}, "app.command"},
		{"health port equals app port", []string{"--set", "tinit.healthPort=8080"}, "healthPort"},
		{"an https check, which tinit cannot make", []string{"--set", "tinit.checks.http[0]=https://127.0.0.1:8443/"}, "http"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"template", "tinit-test", "."}, tc.args...)
			out, err := runHelm(args...)
			if err == nil {
				t.Fatalf("helm %s succeeded, want a failure:\n%s", strings.Join(args, " "), out)
			}
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) {
				t.Fatalf("helm did not run: %v\n%s", err, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("error does not mention %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestSchemaRejectsBadValues: the three rejections the chart promises come
// from values.schema.json itself, not from a template check.
func TestSchemaRejectsBadValues(t *testing.T) {
	for _, set := range []string{"tinit.restart=sometimes", "tinit.healthPort=70000", "mode=bogus"} {
		t.Run(set, func(t *testing.T) {
			out, err := runHelm("template", "tinit-test", ".", "--set", set)
			if err == nil {
				t.Fatalf("--set %s accepted:\n%s", set, out)
			}
			if !strings.Contains(out, "schema") {
				t.Errorf("--set %s failed, but not on the schema:\n%s", set, out)
			}
		})
	}
}

// TestNotes renders NOTES.txt (which helm template skips) in both modes:
// a temporary copy of the chart wraps it in a named template and prints it
// through a one-key YAML document.
func TestNotes(t *testing.T) {
	dir := notesChart(t, chartDir, "test")
	write(t, filepath.Join(dir, "disabled-values.yaml"), "tinit:\n  enabled: false\n")
	cases := []struct {
		file string
		want []string
	}{
		{"values.yaml", []string{`["/tinit-bin/tinit","--","nginx","-g","daemon off;"]`, ":9180", "/healthz", "/readyz", "containerStatuses[?(@.name==\"app\")]", ".lastState.terminated.message", "terminationGracePeriodSeconds is 13s"}},
		{"ci/inject-values.yaml", []string{"port-forward", "9180:9180", "terminationGracePeriodSeconds is 30s", "drain 5s + grace 20s"}},
		{"disabled-values.yaml", []string{"tinit.enabled is false", "runs\nwithout tinit"}},
		{"ci/sidecar-values.yaml", []string{"sidecar mode", "initContainerStatuses[?(@.name==\"fluent-bit\")]", "9181:9181", "subreaper", "TINIT_RESTART=on-failure", "the sidecar exits 0, not 130, 131 or 143"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			checkNotes(t, dir, []string{"template", "tinit-test", ".", "-n", "apps", "--kube-version", kubeVersion, "-f", tc.file}, tc.want)
		})
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies the regular files under src to dst, skipping the
// top-level directory named skip and following symbolic links (such as
// charts/tinit/charts/tinit-lib).
func copyTree(t *testing.T, src, dst, skip string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel == skip {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if d.Type()&os.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(path)
			if err != nil {
				return err
			}
			fi, err := os.Stat(target)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				copyTree(t, target, filepath.Join(dst, rel), "")
				return nil
			}
			path = target
		} else if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadmePodWithoutHelm decodes the README's plain Kubernetes example
// strictly, and checks that it has what /tinit-bin/tinit needs: the init
// container that installs it into the shared volume, and the mount.
func TestReadmePodWithoutHelm(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const intro = "Kubernetes, with tinit in the app container, without Helm"
	i := strings.Index(string(data), intro)
	if i < 0 {
		t.Fatalf("README.md lacks %q", intro)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(data[i:])
	if m == nil {
		t.Fatal("no YAML block after the plain Kubernetes example's introduction")
	}
	obj, err := decodeStrict(m[1])
	if err != nil {
		t.Fatalf("README's Pod: %v", err)
	}
	pod := obj.(*corev1.Pod)
	checkInstall(t, &pod.Spec)
	app := findContainer(pod.Spec.Containers, "app")
	if app == nil || len(app.Command) == 0 || app.Command[0] != "/tinit-bin/tinit" {
		t.Fatalf("README's Pod: the app does not start through /tinit-bin/tinit: %+v", app)
	}
}

// notifyEnv are the TINIT_* variables of tinit.notify.
var notifyEnv = []string{"TINIT_NOTIFY", "TINIT_NOTIFY_ACCESS", "TINIT_NOTIFY_WATCHDOG", "TINIT_NOTIFY_TIMEOUT"}

// checkNotifyEnv: the tinit.notify variables of env are exactly want (a
// variable missing from want must be absent), and no notify socket path
// is set: the chart uses tinit's default abstract socket.
func checkNotifyEnv(t *testing.T, who string, env, want map[string]string) {
	t.Helper()
	for _, k := range notifyEnv {
		got, set := env[k]
		w, wantSet := want[k]
		switch {
		case wantSet && !set:
			t.Errorf("%s: %s unset, want %q", who, k, w)
		case !wantSet && set:
			t.Errorf("%s: %s=%q, want it unset", who, k, got)
		case got != w:
			t.Errorf("%s: %s=%q, want %q", who, k, got, w)
		}
	}
	if v, ok := env["TINIT_NOTIFY_SOCKET"]; ok {
		t.Errorf("%s: TINIT_NOTIFY_SOCKET=%q: the chart has no socket path value", who, v)
	}
}

// TestNotify: tinit.notify renders TINIT_NOTIFY and TINIT_NOTIFY_ACCESS
// whenever enabled, the watchdog and timeout when set, and nothing when
// disabled; in sidecar mode they go to the sidecar (the process tinit
// supervises there), not to the app.
func TestNotify(t *testing.T) {
	on := []string{"--set", "tinit.notify.enabled=true"}
	cases := []struct {
		name string
		args []string
		want map[string]string
	}{
		{"defaults: off", nil, nil},
		{"off, defaults written out", []string{"--set", "tinit.notify.enabled=false", "--set", "tinit.notify.access=tree", "--set", "tinit.notify.watchdog=", "--set", "tinit.notify.timeout="}, nil},
		{"ci/inject-values.yaml", []string{"-f", "ci/inject-values.yaml"}, nil},
		{"enabled: access shown", on, map[string]string{"TINIT_NOTIFY": "true", "TINIT_NOTIFY_ACCESS": "tree"}},
		{"access main", append(on, "--set", "tinit.notify.access=main"), map[string]string{"TINIT_NOTIFY": "true", "TINIT_NOTIFY_ACCESS": "main"}},
		{"watchdog", append(on, "--set", "tinit.notify.watchdog=30s"), map[string]string{"TINIT_NOTIFY": "true", "TINIT_NOTIFY_ACCESS": "tree", "TINIT_NOTIFY_WATCHDOG": "30s"}},
		{"timeout", append(on, "--set", "tinit.notify.timeout=1m30s"), map[string]string{"TINIT_NOTIFY": "true", "TINIT_NOTIFY_ACCESS": "tree", "TINIT_NOTIFY_TIMEOUT": "1m30s"}},
		{"all four", append(on, "--set", "tinit.notify.access=main", "--set", "tinit.notify.watchdog=500ms", "--set", "tinit.notify.timeout=2m"), map[string]string{"TINIT_NOTIFY": "true", "TINIT_NOTIFY_ACCESS": "main", "TINIT_NOTIFY_WATCHDOG": "500ms", "TINIT_NOTIFY_TIMEOUT": "2m"}},
		{"with ci/inject-values.yaml", append([]string{"-f", "ci/inject-values.yaml"}, append(on, "--set", "tinit.notify.timeout=45s")...), map[string]string{"TINIT_NOTIFY": "true", "TINIT_NOTIFY_ACCESS": "tree", "TINIT_NOTIFY_TIMEOUT": "45s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := onlyDeployment(t, render(t, tc.args...))
			pod := &d.Spec.Template.Spec
			c := &pod.Containers[0]
			env := checkUnderTinit(t, c, healthName, nil)
			checkNotifyEnv(t, c.Name, env, tc.want)
			checkRestricted(t, d)
		})
	}

	t.Run("sidecar mode", func(t *testing.T) {
		d := onlyDeployment(t, render(t, "-f", "ci/sidecar-values.yaml", "--set", "tinit.notify.enabled=true", "--set", "tinit.notify.watchdog=1m"))
		pod := &d.Spec.Template.Spec
		sc := findContainer(pod.InitContainers, "fluent-bit")
		if sc == nil {
			t.Fatal("no fluent-bit sidecar")
		}
		env := checkUnderTinit(t, sc, sidecarName, nil)
		checkNotifyEnv(t, "sidecar", env, map[string]string{"TINIT_NOTIFY": "true", "TINIT_NOTIFY_ACCESS": "tree", "TINIT_NOTIFY_WATCHDOG": "1m"})
		app := findContainer(pod.Containers, "echo")
		if app == nil {
			t.Fatal("no app container echo")
		}
		checkNotifyEnv(t, "app (not under tinit)", envMap(t, app), nil)
	})

	t.Run("tinit disabled", func(t *testing.T) {
		d := onlyDeployment(t, render(t, "--set", "tinit.enabled=false", "--set", "tinit.notify.enabled=true", "--set", "tinit.notify.access=main"))
		c := &d.Spec.Template.Spec.Containers[0]
		if len(c.Env) != 0 {
			t.Errorf("tinit disabled: env %v, want none", c.Env)
		}
	})
}

// TestNotifyFailures: a wrong tinit.notify value fails the render in one
// line naming it, from the schema (types, enum, pattern, unknown keys) or
// from tinit-lib (a setting without notify.enabled, which the schema lets
// through), and renders nothing.
func TestNotifyFailures(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"access without enabled", []string{"--set", "tinit.notify.access=main"}, `tinit-lib: tinit.notify.access is "main" but tinit.notify.enabled is false`},
		{"watchdog without enabled", []string{"--set", "tinit.notify.watchdog=30s"}, `tinit-lib: tinit.notify.watchdog is "30s" but tinit.notify.enabled is false`},
		{"timeout without enabled", []string{"--set", "tinit.notify.timeout=2m"}, `tinit-lib: tinit.notify.timeout is "2m" but tinit.notify.enabled is false`},
		{"timeout with enabled false written out", []string{"--set", "tinit.notify.enabled=false", "--set-string", "tinit.notify.timeout=0"}, `tinit.notify.timeout is "0" but tinit.notify.enabled is false`},
		{"a setting without enabled, tinit disabled too", []string{"--set", "tinit.enabled=false", "--set", "tinit.notify.watchdog=1m"}, `tinit.notify.watchdog is "1m" but tinit.notify.enabled is false`},
		{"sidecar mode, access without enabled", []string{"-f", "ci/sidecar-values.yaml", "--set", "tinit.notify.access=main"}, `tinit.notify.access is "main" but tinit.notify.enabled is false`},
		{"unknown access", []string{"--set", "tinit.notify.enabled=true", "--set", "tinit.notify.access=all"}, "/tinit/notify/access"},
		{"empty access", []string{"--set", "tinit.notify.enabled=true", "--set", "tinit.notify.access="}, "/tinit/notify/access"},
		{"bad watchdog", []string{"--set", "tinit.notify.enabled=true", "--set", "tinit.notify.watchdog=soon"}, "/tinit/notify/watchdog"},
		{"timeout a number", []string{"--set", "tinit.notify.enabled=true", "--set", "tinit.notify.timeout=30"}, "/tinit/notify/timeout"},
		{"enabled a string", []string{"--set-string", "tinit.notify.enabled=true"}, "/tinit/notify/enabled"},
		{"unknown key", []string{"--set", "tinit.notify.socket=/run/notify"}, "'socket' not allowed"},
		{"notify not a map", []string{"--set", "tinit.notify=true"}, "/tinit/notify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"template", "tinit-test", ".", "--kube-version", kubeVersion}, tc.args...)
			stderr := wantRenderRefused(t, chartDir, args, tc.want)
			if strings.HasPrefix(tc.want, "tinit") {
				for _, line := range strings.Split(stderr, "\n") {
					if strings.Contains(line, tc.want) && !strings.HasSuffix(line, "unset") {
						t.Errorf("the message is not one line ending in its advice: %q", line)
					}
				}
			}
		})
	}
}

// wantRenderRefused runs helm with args in the chart at dir and wants it
// to refuse: helm ran and failed, printed no manifest, and said want. It
// returns helm's stderr.
func wantRenderRefused(t *testing.T, dir string, args []string, want string) string {
	t.Helper()
	stdout, stderr, err := helmOut(dir, args...)
	if err == nil {
		t.Fatalf("helm %s succeeded, want a failure:\n%s", strings.Join(args, " "), stdout)
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("helm did not run: %v\n%s", err, stderr)
	}
	if strings.TrimSpace(stdout) != "" {
		t.Errorf("a failed render printed manifests:\n%s", stdout)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("error does not say %q:\n%s", want, stderr)
	}
	return stderr
}

// notesChart copies the chart at src (less skip) to a temporary directory
// with NOTES.txt, which helm template skips, wrapped in a named template
// that templates/notes-check.yaml prints as one YAML key.
func notesChart(t *testing.T, src, skip string) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, src, dir, skip)
	notes, err := os.ReadFile(filepath.Join(dir, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "templates", "_notes_check.tpl"), "{{- define \"notes.check\" -}}\n"+string(notes)+"{{- end }}\n")
	write(t, filepath.Join(dir, "templates", "notes-check.yaml"), "notes: {{ include \"notes.check\" . | toJson }}\n")
	if err := os.Remove(filepath.Join(dir, "templates", "NOTES.txt")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkNotes renders the NOTES.txt of a notesChart at dir with helm's
// args and wants each of want in it.
func checkNotes(t *testing.T, dir string, args, want []string) {
	t.Helper()
	args = append(args, "--show-only", "templates/notes-check.yaml")
	out, stderr, err := helmOut(dir, args...)
	if err != nil {
		t.Fatalf("rendering NOTES.txt: %v\n%s%s", err, stderr, out)
	}
	js, err := yaml.YAMLToJSONStrict([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Notes string `json:"notes"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(doc.Notes, w) {
			t.Errorf("NOTES.txt lacks %q:\n%s", w, doc.Notes)
		}
	}
}
