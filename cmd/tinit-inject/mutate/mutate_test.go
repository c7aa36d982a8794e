package mutate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	jsonpatchv5 "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/tinit/tinit/cmd/tinit-inject/jsonpatch"
)

var testSettings = Settings{Image: "registry.example/tinit:v1", Version: "v1.0.0"}

// fakeImages serves image configs from a map; any other ref is an error.
type fakeImages struct {
	configs map[string]ImageConfig
	calls   []string
	pulls   []PullContext
}

func (f *fakeImages) Config(_ context.Context, ref string, pull PullContext) (ImageConfig, error) {
	f.calls = append(f.calls, ref)
	f.pulls = append(f.pulls, pull)
	if c, ok := f.configs[ref]; ok {
		return c, nil
	}
	return ImageConfig{}, errors.New("manifest unknown")
}

func newImages() *fakeImages {
	return &fakeImages{configs: map[string]ImageConfig{
		"app:1":        {Entrypoint: []string{"/app/server"}, Cmd: []string{"--port", "8080"}},
		"cmdonly:1":    {Cmd: []string{"nginx", "-g", "daemon off;"}},
		"dollar:1":     {Entrypoint: []string{"sh", "-c"}, Cmd: []string{"echo $(date) $$ $HOME $(("}},
		"tini:1":       {Entrypoint: []string{"/sbin/tini", "-g", "--"}, Cmd: []string{"/app/server"}},
		"tinistatic:1": {Entrypoint: []string{"/usr/bin/tini-static", "--", "/app/server"}},
		"dumbinit:1":   {Entrypoint: []string{"/usr/bin/dumb-init"}, Cmd: []string{"nginx", "-g", "daemon off;"}},
		"tinicmd:1":    {Cmd: []string{"tini", "--", "/app/server"}},
		"catatonit:1":  {Entrypoint: []string{"/usr/bin/catatonit", "--"}, Cmd: []string{"/app/server"}},
		"empty:1":      {},
		"logs:1":       {Entrypoint: []string{"/fluent-bit"}},
	}}
}

// decodePod reads a test pod written in YAML, strictly.
func decodePod(t *testing.T, y string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(y), &p); err != nil {
		t.Fatalf("test pod: %v\n%s", err, y)
	}
	return &p
}

// applyPatch applies the patch to the pod as the API server would (with
// evanphx/json-patch), checks that the package's own applier gives the
// same document, and decodes the result strictly into a Pod.
func applyPatch(t *testing.T, pod *corev1.Pod, ops []jsonpatch.Op) *corev1.Pod {
	t.Helper()
	doc, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jsonpatch.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatchv5.DecodePatch(raw)
	if err != nil {
		t.Fatalf("decode patch: %v\n%s", err, raw)
	}
	want, err := p.Apply(doc)
	if err != nil {
		t.Fatalf("apply patch: %v\n%s", err, raw)
	}
	got, err := jsonpatch.Apply(doc, ops)
	if err != nil {
		t.Fatalf("jsonpatch.Apply: %v\n%s", err, raw)
	}
	if !jsonEqual(t, want, got) {
		t.Errorf("jsonpatch.Apply differs from evanphx/json-patch:\n%s\n%s", got, want)
	}
	var out corev1.Pod
	strict, err := sigsjson.UnmarshalStrict(want, &out)
	if err != nil || len(strict) > 0 {
		t.Fatalf("patched pod does not decode strictly: %v %v\n%s", err, strict, want)
	}
	return &out
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func opStrings(ops []jsonpatch.Op) []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.String()
	}
	return out
}

func container(t *testing.T, p *corev1.Pod, name string) *corev1.Container {
	t.Helper()
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

func env(c *corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

func wantArgv(t *testing.T, c *corev1.Container, cmd, args []string) {
	t.Helper()
	if !slices.Equal(c.Command, cmd) || !slices.Equal(c.Args, args) {
		t.Errorf("container %s: command %q args %q, want %q %q", c.Name, c.Command, c.Args, cmd, args)
	}
}

func wantInstalled(t *testing.T, p *corev1.Pod, wrapped ...string) {
	t.Helper()
	if len(p.Spec.InitContainers) == 0 || p.Spec.InitContainers[0].Name != InstallName {
		t.Fatalf("initContainers[0] is not %s: %+v", InstallName, p.Spec.InitContainers)
	}
	ic := p.Spec.InitContainers[0]
	if ic.Image != testSettings.Image || !slices.Equal(ic.Command, []string{"/tinit", "--install", BinDir}) {
		t.Errorf("install container: %s %q", ic.Image, ic.Command)
	}
	sc := ic.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || *sc.RunAsUser != InstallUser || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("install container is not restricted: %+v", sc)
	}
	n := 0
	for _, v := range p.Spec.Volumes {
		if v.Name == VolumeName {
			n++
			if v.EmptyDir == nil {
				t.Errorf("volume %s is not an emptyDir", VolumeName)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d volumes named %s, want 1", n, VolumeName)
	}
	if got := p.Annotations[AnnotationInjected]; got != testSettings.Version {
		t.Errorf("%s = %q", AnnotationInjected, got)
	}
	if got := p.Annotations[AnnotationWrapped]; got != strings.Join(wrapped, ",") {
		t.Errorf("%s = %q, want %q", AnnotationWrapped, got, strings.Join(wrapped, ","))
	}
	for _, name := range wrapped {
		c := container(t, p, name)
		m := 0
		for _, vm := range c.VolumeMounts {
			if vm.Name == VolumeName {
				m++
				if vm.MountPath != BinDir || !vm.ReadOnly {
					t.Errorf("container %s: mount %+v, want %s read-only", name, vm, BinDir)
				}
			}
		}
		if m != 1 {
			t.Errorf("container %s: %d mounts of %s", name, m, VolumeName)
		}
	}
}

const basePod = `
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ns}
spec:
  containers:
  - name: app
    image: app:1
`

func n(i int) *int { return &i }

type mutateCase struct {
	name    string
	pod     string
	outcome Outcome
	ops     []string // the operations, in order; nil: not checked
	skipped string   // tinit.dev/skipped, exactly ("" for none); "*" not checked
	lookups *int     // image lookups expected; nil: not checked
	check   func(t *testing.T, before, after *corev1.Pod)
}

func TestMutate(t *testing.T) {
	cases := []mutateCase{
		{
			name: "a container with command and args starts them under tinit, and nothing is looked up",
			pod: `
metadata: {name: p}
spec:
  containers:
  - {name: app, image: app:1, command: [/bin/server, serve], args: [--port, "80"]}
`,
			outcome: Injected,
			lookups: n(0),
			ops: []string{
				"add /metadata/annotations",
				"replace /spec/containers/0/command",
				"add /spec/containers/0/volumeMounts",
				"add /spec/volumes",
				"add /spec/initContainers",
			},
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantInstalled(t, p, "app")
				wantArgv(t, container(t, p, "app"), []string{BinPath, "--", "/bin/server", "serve"}, []string{"--port", "80"})
			},
		},
		{
			name: "a container with command only keeps no args: the image's CMD is not run",
			pod: `
spec:
  containers:
  - {name: app, image: app:1, command: [/bin/server]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "app"), []string{BinPath, "--", "/bin/server"}, nil)
			},
		},
		{
			name:    "a container with neither gets the image's ENTRYPOINT as command and CMD as args",
			pod:     basePod,
			outcome: Injected,
			lookups: n(1),
			ops: []string{
				"add /metadata/annotations",
				"add /spec/containers/0/command",
				"add /spec/containers/0/args",
				"add /spec/containers/0/volumeMounts",
				"add /spec/volumes",
				"add /spec/initContainers",
			},
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantInstalled(t, p, "app")
				wantArgv(t, container(t, p, "app"), []string{BinPath, "--", "/app/server"}, []string{"--port", "8080"})
			},
		},
		{
			name: "a container with args only keeps its args after the image's ENTRYPOINT",
			pod: `
spec:
  containers:
  - {name: app, image: app:1, args: [--port, "9090"]}
`,
			outcome: Injected,
			lookups: n(1),
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "app"), []string{BinPath, "--", "/app/server"}, []string{"--port", "9090"})
			},
		},
		{
			name: "an image with CMD only runs it as args after tinit --",
			pod: `
spec:
  containers:
  - {name: web, image: cmdonly:1}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "web"), []string{BinPath, "--"}, []string{"nginx", "-g", "daemon off;"})
			},
		},
		{
			name: "image values moved into command and args have $( and $$ escaped",
			pod: `
spec:
  containers:
  - {name: sh, image: dollar:1}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "sh"), []string{BinPath, "--", "sh", "-c"}, []string{"echo $$(date) $$$ $HOME $$(("})
			},
		},
		{
			name: "the user's own $(VAR) in command and args is left for the kubelet",
			pod: `
spec:
  containers:
  - {name: app, image: app:1, command: [sh, -c, 'echo $(POD_NAME)'], env: [{name: POD_NAME, value: x}]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "app"), []string{BinPath, "--", "sh", "-c", "echo $(POD_NAME)"}, nil)
			},
		},
		{
			name: "an image whose ENTRYPOINT starts tini gets tinit in tini's place, with tini's arguments",
			pod: `
spec:
  containers:
  - {name: app, image: tini:1}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "app"), []string{BinPath, "-g", "--"}, []string{"/app/server"})
			},
		},
		{
			name: "tini-static's whole command line in ENTRYPOINT is kept after tinit",
			pod: `
spec:
  containers:
  - {name: app, image: tinistatic:1}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "app"), []string{BinPath, "--", "/app/server"}, nil)
			},
		},
		{
			name: "dumb-init alone in ENTRYPOINT becomes tinit, the CMD its program",
			pod: `
spec:
  containers:
  - {name: web, image: dumbinit:1}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "web"), []string{BinPath}, []string{"nginx", "-g", "daemon off;"})
			},
		},
		{
			name: "tini as the first word of a CMD without ENTRYPOINT is taken out of args",
			pod: `
spec:
  containers:
  - {name: app, image: tinicmd:1}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "app"), []string{BinPath}, []string{"--", "/app/server"})
			},
		},
		{
			name: "the user's own command starting tini is replaced the same way",
			pod: `
spec:
  containers:
  - {name: app, image: app:1, command: [/sbin/tini, -s, --, /app/server]}
`,
			outcome: Injected,
			lookups: n(0),
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "app"), []string{BinPath, "-s", "--", "/app/server"}, nil)
			},
		},
		{
			name: "tini as the first of the user's args, with no ENTRYPOINT, is removed from args",
			pod: `
spec:
  containers:
  - {name: web, image: cmdonly:1, args: [tini]}
`,
			outcome: Injected,
			ops: []string{
				"add /metadata/annotations",
				"add /spec/containers/0/command",
				"remove /spec/containers/0/args",
				"add /spec/containers/0/volumeMounts",
				"add /spec/volumes",
				"add /spec/initContainers",
			},
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantArgv(t, container(t, p, "web"), []string{BinPath}, nil)
			},
		},
		{
			name: "an image starting catatonit is left alone with a reason",
			pod: `
spec:
  containers:
  - {name: app, image: catatonit:1}
`,
			outcome: Skipped,
			ops:     []string{"add /metadata/annotations"},
			skipped: "app: it starts catatonit, whose flags tinit does not take",
		},
		{
			name: "a command that starts tinit already is left alone",
			pod: `
spec:
  containers:
  - {name: app, image: app:1, command: [/tinit, --, /app]}
`,
			outcome: Skipped,
			skipped: "app: it starts tinit already",
		},
		{
			name: "an image that cannot be read leaves its container alone, and the others are wrapped",
			pod: `
metadata: {annotations: {team: a}}
spec:
  containers:
  - {name: app, image: app:1}
  - {name: gone, image: missing:1}
`,
			outcome: Injected,
			lookups: n(2),
			skipped: "gone: image missing:1: manifest unknown",
			ops: []string{
				"add /metadata/annotations/tinit.dev~1injected",
				"add /metadata/annotations/tinit.dev~1skipped",
				"add /metadata/annotations/tinit.dev~1wrapped",
				"add /spec/containers/0/command",
				"add /spec/containers/0/args",
				"add /spec/containers/0/volumeMounts",
				"add /spec/volumes",
				"add /spec/initContainers",
			},
			check: func(t *testing.T, before, p *corev1.Pod) {
				wantInstalled(t, p, "app")
				if !reflect.DeepEqual(container(t, p, "gone"), container(t, before, "gone")) {
					t.Error("the skipped container changed")
				}
				if p.Annotations["team"] != "a" {
					t.Error("the pod's own annotation is gone")
				}
			},
		},
		{
			name: "an image with neither ENTRYPOINT nor CMD and a container without command is left alone",
			pod: `
spec:
  containers:
  - {name: app, image: empty:1}
`,
			outcome: Skipped,
			skipped: "app: nothing to run: no command or args, and the image has no ENTRYPOINT or CMD",
		},
		{
			name: "init containers and native sidecars are not wrapped by default; the install container goes first",
			pod: `
spec:
  initContainers:
  - {name: migrate, image: app:1, command: [/app/migrate]}
  - {name: logs, image: logs:1, restartPolicy: Always}
  containers:
  - {name: app, image: app:1, command: [/app/server]}
`,
			outcome: Injected,
			ops: []string{
				"add /metadata/annotations",
				"replace /spec/containers/0/command",
				"add /spec/containers/0/volumeMounts",
				"add /spec/volumes",
				"add /spec/initContainers/0",
			},
			check: func(t *testing.T, before, p *corev1.Pod) {
				wantInstalled(t, p, "app")
				if n := len(p.Spec.InitContainers); n != 3 {
					t.Fatalf("%d init containers, want 3", n)
				}
				if !reflect.DeepEqual(p.Spec.InitContainers[1:], before.Spec.InitContainers) {
					t.Error("the user's init containers changed")
				}
			},
		},
		{
			name: "tinit.dev/containers can name a native sidecar; its operations use its index before the insert",
			pod: `
metadata:
  annotations: {tinit.dev/containers: "logs, app"}
spec:
  initContainers:
  - {name: migrate, image: app:1, command: [/app/migrate]}
  - {name: logs, image: logs:1, restartPolicy: Always, volumeMounts: [{name: v, mountPath: /v}]}
  containers:
  - {name: app, image: app:1, command: [/app/server]}
  volumes: [{name: v, emptyDir: {}}]
`,
			outcome: Injected,
			ops: []string{
				"add /metadata/annotations/tinit.dev~1injected",
				"add /metadata/annotations/tinit.dev~1wrapped",
				"add /spec/initContainers/1/command",
				"add /spec/initContainers/1/volumeMounts/-",
				"replace /spec/containers/0/command",
				"add /spec/containers/0/volumeMounts",
				"add /spec/volumes/-",
				"add /spec/initContainers/0",
			},
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantInstalled(t, p, "logs", "app")
				if p.Spec.InitContainers[2].Name != "logs" {
					t.Fatalf("init containers: %+v", p.Spec.InitContainers)
				}
				wantArgv(t, container(t, p, "logs"), []string{BinPath, "--", "/fluent-bit"}, nil)
				wantArgv(t, container(t, p, "migrate"), []string{"/app/migrate"}, nil)
			},
		},
		{
			name: "tinit.dev/containers naming a container that does not exist lists it as skipped",
			pod: `
metadata:
  annotations: {tinit.dev/containers: "app,nope,app"}
spec:
  containers:
  - {name: app, image: app:1, command: [/a]}
  - {name: other, image: app:1, command: [/b]}
`,
			outcome: Injected,
			skipped: "nope: no such container (named in tinit.dev/containers)",
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantInstalled(t, p, "app")
				wantArgv(t, container(t, p, "other"), []string{"/b"}, nil)
			},
		},
		{
			name:    "a pod injected before gets nothing",
			pod:     "metadata: {annotations: {tinit.dev/injected: v0.9.0}}\n" + basePod[strings.Index(basePod, "spec:"):],
			outcome: Unchanged,
			lookups: n(0),
		},
		{
			name:    "a pod skipped before gets nothing either",
			pod:     "metadata: {annotations: {tinit.dev/skipped: 'app: x'}}\n" + basePod[strings.Index(basePod, "spec:"):],
			outcome: Unchanged,
		},
		{
			name: "a pod that has tinit from the chart gets nothing",
			pod: `
spec:
  volumes: [{name: tinit-bin, emptyDir: {}}]
  containers:
  - {name: app, image: app:1, command: [/tinit-bin/tinit, --, /app]}
`,
			outcome: Unchanged,
		},
		{
			name:    "a pod that opts out gets nothing",
			pod:     "metadata: {labels: {tinit.dev/inject: \"false\"}}\n" + basePod[strings.Index(basePod, "spec:"):],
			outcome: Unchanged,
			lookups: n(0),
		},
		{
			name: "annotations become TINIT_* variables, added to the env the container has",
			pod: `
metadata:
  annotations:
    tinit.dev/restart: " on-failure"
    tinit.dev/drain: 2s
    tinit.dev/grace: 8s
    tinit.dev/notify: "true"
spec:
  containers:
  - {name: app, image: app:1, command: [/a], env: [{name: A, value: "1"}]}
`,
			outcome: Injected,
			ops: []string{
				"add /metadata/annotations/tinit.dev~1injected",
				"add /metadata/annotations/tinit.dev~1wrapped",
				"replace /spec/containers/0/command",
				"add /spec/containers/0/env/-",
				"add /spec/containers/0/env/-",
				"add /spec/containers/0/env/-",
				"add /spec/containers/0/env/-",
				"add /spec/containers/0/volumeMounts",
				"add /spec/volumes",
				"add /spec/initContainers",
			},
			check: func(t *testing.T, _, p *corev1.Pod) {
				got := env(container(t, p, "app"))
				want := map[string]string{"A": "1", "TINIT_RESTART": "on-failure", "TINIT_DRAIN": "2s", "TINIT_GRACE": "8s", "TINIT_NOTIFY": "true"}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("env %v, want %v", got, want)
				}
				if p.Spec.TerminationGracePeriodSeconds != nil {
					t.Errorf("terminationGracePeriodSeconds set to %d: 2s + 8s + 5s is under the default 30", *p.Spec.TerminationGracePeriodSeconds)
				}
			},
		},
		{
			name: "a TINIT_* variable the container sets itself wins over the annotation",
			pod: `
metadata:
  annotations: {tinit.dev/restart: never, tinit.dev/grace: 3s}
spec:
  containers:
  - {name: app, image: app:1, command: [/a], env: [{name: TINIT_RESTART, value: always}]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				c := container(t, p, "app")
				if got := env(c); got["TINIT_RESTART"] != "always" || got["TINIT_GRACE"] != "3s" || len(c.Env) != 2 {
					t.Errorf("env %+v", c.Env)
				}
			},
		},
		{
			name: "empty and blank annotations are unset, as tinit reads empty variables",
			pod: `
metadata:
  annotations: {tinit.dev/restart: "", tinit.dev/grace: "  ", tinit.dev/containers: ""}
spec:
  containers:
  - {name: app, image: app:1, command: [/a]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				if c := container(t, p, "app"); len(c.Env) != 0 {
					t.Errorf("env %+v", c.Env)
				}
			},
		},
		{
			name: "a bad setting leaves the whole pod alone, every chosen container listed",
			pod: `
metadata:
  annotations: {tinit.dev/grace: "8", tinit.dev/restart: sometimes}
spec:
  containers:
  - {name: a, image: app:1, command: [/a]}
  - {name: b, image: app:1}
`,
			outcome: Skipped,
			lookups: n(0),
			ops:     []string{"add /metadata/annotations/tinit.dev~1skipped"},
			skipped: `a: pod left alone: tinit.dev/restart: "sometimes": want never, on-failure or always, and tinit.dev/grace: "8": want a duration from 0 (SIGKILL at once) to 24h, such as 8s` +
				`; b: pod left alone: tinit.dev/restart: "sometimes": want never, on-failure or always, and tinit.dev/grace: "8": want a duration from 0 (SIGKILL at once) to 24h, such as 8s`,
		},
		{
			name: "a bad tinit.dev/notify or tinit.dev/probes leaves the pod alone",
			pod: `
metadata:
  annotations: {tinit.dev/notify: "yes", tinit.dev/probes: "on", tinit.dev/health-port: "9180"}
spec:
  containers:
  - {name: a, image: app:1, command: [/a]}
`,
			outcome: Skipped,
			skipped: `a: pod left alone: tinit.dev/notify: "yes": want true or false, and tinit.dev/probes: "on": want true or false`,
		},
		{
			name: "a container whose own TINIT_GRACE tinit would refuse is left alone",
			pod: `
spec:
  containers:
  - {name: a, image: app:1, command: [/a], env: [{name: TINIT_GRACE, value: "-1s"}]}
  - {name: b, image: app:1, command: [/b], env: [{name: TINIT_GRACE, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]}
`,
			outcome: Injected,
			skipped: `a: its own TINIT_GRACE is one tinit would refuse: "-1s": want a duration from 0 (SIGKILL at once) to 24h, such as 8s`,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantInstalled(t, p, "b")
			},
		},
		{
			name: "tinit.dev/health-port adds the port and TINIT_HEALTH_ADDR, and no probes without tinit.dev/probes",
			pod: `
metadata:
  annotations: {tinit.dev/health-port: "9180"}
spec:
  containers:
  - {name: app, image: app:1, command: [/a], ports: [{containerPort: 8080}]}
`,
			outcome: Injected,
			ops: []string{
				"add /metadata/annotations/tinit.dev~1injected",
				"add /metadata/annotations/tinit.dev~1wrapped",
				"replace /spec/containers/0/command",
				"add /spec/containers/0/env",
				"add /spec/containers/0/volumeMounts",
				"add /spec/containers/0/ports/-",
				"add /spec/volumes",
				"add /spec/initContainers",
			},
			check: func(t *testing.T, _, p *corev1.Pod) {
				c := container(t, p, "app")
				if env(c)["TINIT_HEALTH_ADDR"] != ":9180" || len(c.Ports) != 2 || c.Ports[1].Name != HealthPortName || c.Ports[1].ContainerPort != 9180 {
					t.Errorf("env %+v ports %+v", c.Env, c.Ports)
				}
				if c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil {
					t.Error("probes added without tinit.dev/probes")
				}
			},
		},
		{
			name: "tinit.dev/probes adds the probes the container lacks and never replaces the user's",
			pod: `
metadata:
  annotations: {tinit.dev/health-port: "9180", tinit.dev/probes: "true", tinit.dev/drain: 5s}
spec:
  containers:
  - name: app
    image: app:1
    command: [/a]
    livenessProbe: {tcpSocket: {port: 8080}}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				c := container(t, p, "app")
				if c.LivenessProbe.TCPSocket == nil || c.LivenessProbe.HTTPGet != nil {
					t.Errorf("the user's liveness probe was replaced: %+v", c.LivenessProbe)
				}
				r, s := c.ReadinessProbe, c.StartupProbe
				if r == nil || r.HTTPGet.Path != "/readyz" || r.HTTPGet.Port.StrVal != HealthPortName || s == nil || s.HTTPGet.Path != "/healthz" {
					t.Fatalf("readiness %+v startup %+v", r, s)
				}
				// A 5 s drain: the kubelet must see /readyz fail within
				// 2.5 s, so 2 failures 1 s apart.
				if r.PeriodSeconds != 1 || r.FailureThreshold != 2 {
					t.Errorf("readiness period %d failures %d, want 1 and 2", r.PeriodSeconds, r.FailureThreshold)
				}
			},
		},
		{
			name: "a native sidecar's startup probe waits for /readyz",
			pod: `
metadata:
  annotations: {tinit.dev/health-port: "9180", tinit.dev/probes: "true", tinit.dev/containers: logs}
spec:
  initContainers:
  - {name: logs, image: logs:1, restartPolicy: Always}
  containers:
  - {name: app, image: app:1, command: [/a]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				c := container(t, p, "logs")
				if c.StartupProbe == nil || c.StartupProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil {
					t.Errorf("probes %+v %+v", c.StartupProbe, c.LivenessProbe)
				}
				if a := container(t, p, "app"); len(a.Ports) != 0 || a.Command[0] != "/a" {
					t.Errorf("app changed: %+v", a)
				}
			},
		},
		{
			name: "tinit.dev/health-port with two chosen containers leaves the pod alone",
			pod: `
metadata:
  annotations: {tinit.dev/health-port: "9180"}
spec:
  containers:
  - {name: a, image: app:1, command: [/a]}
  - {name: b, image: app:1, command: [/b]}
`,
			outcome: Skipped,
			skipped: "a: pod left alone: tinit.dev/health-port needs exactly one chosen container, not 2 (a,b): name it with tinit.dev/containers" +
				"; b: pod left alone: tinit.dev/health-port needs exactly one chosen container, not 2 (a,b): name it with tinit.dev/containers",
		},
		{
			name: "tinit.dev/health-port with one container named of two is fine",
			pod: `
metadata:
  annotations: {tinit.dev/health-port: "9180", tinit.dev/containers: b}
spec:
  containers:
  - {name: a, image: app:1, command: [/a]}
  - {name: b, image: app:1, command: [/b]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				wantInstalled(t, p, "b")
			},
		},
		{
			name: "tinit.dev/health-port on a port another container declares leaves the pod alone",
			pod: `
metadata:
  annotations: {tinit.dev/health-port: "8080", tinit.dev/containers: a}
spec:
  containers:
  - {name: a, image: app:1, command: [/a]}
  - {name: b, image: app:1, command: [/b], ports: [{containerPort: 8080}]}
`,
			outcome: Skipped,
			skipped: "a: pod left alone: tinit.dev/health-port: port 8080 is declared by container b already",
		},
		{
			name: "tinit.dev/probes without tinit.dev/health-port leaves the pod alone",
			pod: `
metadata:
  annotations: {tinit.dev/probes: "true"}
spec:
  containers:
  - {name: a, image: app:1, command: [/a]}
`,
			outcome: Skipped,
			skipped: `a: pod left alone: tinit.dev/probes is "true" without tinit.dev/health-port: the probes need tinit's health port`,
		},
		{
			name: "a bad tinit.dev/health-port leaves the pod alone",
			pod: `
metadata:
  annotations: {tinit.dev/health-port: "70000"}
spec:
  containers:
  - {name: a, image: app:1, command: [/a]}
`,
			outcome: Skipped,
			skipped: `a: pod left alone: tinit.dev/health-port: "70000": want a port number from 1 to 65535`,
		},
		{
			name: "the container's own TINIT_HEALTH_ADDR decides the port",
			pod: `
metadata:
  annotations: {tinit.dev/health-port: "9180"}
spec:
  containers:
  - {name: a, image: app:1, command: [/a], env: [{name: TINIT_HEALTH_ADDR, value: ":9999"}]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				c := container(t, p, "a")
				if len(c.Env) != 1 || len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9999 {
					t.Errorf("env %+v ports %+v", c.Env, c.Ports)
				}
			},
		},
		{
			name: "terminationGracePeriodSeconds is raised to drain + grace + 5 s, the largest across containers",
			pod: `
metadata:
  annotations: {tinit.dev/drain: 20s, tinit.dev/grace: 10s}
spec:
  containers:
  - {name: a, image: app:1, command: [/a]}
  - {name: b, image: app:1, command: [/b], env: [{name: TINIT_GRACE, value: 40500ms}]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				// b: 20 s + 40.5 s, rounded up, + 5 s.
				if g := p.Spec.TerminationGracePeriodSeconds; g == nil || *g != 66 {
					t.Errorf("terminationGracePeriodSeconds %v, want 66", g)
				}
			},
		},
		{
			name: "a lower terminationGracePeriodSeconds is replaced",
			pod: `
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - {name: a, image: app:1, command: [/a]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				if g := *p.Spec.TerminationGracePeriodSeconds; g != 13 {
					t.Errorf("terminationGracePeriodSeconds %d, want 13 (tinit's default 8s grace + 5)", g)
				}
			},
		},
		{
			name: "a higher terminationGracePeriodSeconds is never lowered",
			pod: `
metadata:
  annotations: {tinit.dev/grace: 1s}
spec:
  terminationGracePeriodSeconds: 60
  containers:
  - {name: a, image: app:1, command: [/a]}
`,
			outcome: Injected,
			check: func(t *testing.T, _, p *corev1.Pod) {
				if g := *p.Spec.TerminationGracePeriodSeconds; g != 60 {
					t.Errorf("terminationGracePeriodSeconds %d, want 60", g)
				}
			},
		},
		{
			name: "a Windows pod is left alone",
			pod: `
spec:
  os: {name: windows}
  containers:
  - {name: a, image: app:1, command: [/a]}
`,
			outcome: Skipped,
			skipped: "a: pod left alone: a Windows pod: tinit runs on Linux only",
		},
		{
			name: "a container that mounts something at /tinit-bin is left alone",
			pod: `
spec:
  volumes: [{name: x, emptyDir: {}}]
  containers:
  - {name: a, image: app:1, command: [/a], volumeMounts: [{name: x, mountPath: /tinit-bin/}]}
`,
			outcome: Skipped,
			skipped: "a: it mounts something at /tinit-bin already",
		},
		{
			name: "a pod without containers gets nothing",
			pod: `
spec:
  containers: []
`,
			outcome: Unchanged,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := decodePod(t, tc.pod)
			before := pod.DeepCopy()
			imgs := newImages()
			res, err := Mutate(context.Background(), pod, testSettings, imgs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pod, before) {
				t.Error("Mutate changed its input")
			}
			if res.Outcome != tc.outcome {
				t.Fatalf("outcome %s (%s), want %s; skipped %v", res.Outcome, res.Why, tc.outcome, res.Skipped)
			}
			if tc.ops != nil && !reflect.DeepEqual(opStrings(res.Patch), tc.ops) {
				t.Errorf("operations:\n  %s\nwant\n  %s", strings.Join(opStrings(res.Patch), "\n  "), strings.Join(tc.ops, "\n  "))
			}
			if tc.lookups != nil && len(imgs.calls) != *tc.lookups {
				t.Errorf("%d image lookups %v, want %d", len(imgs.calls), imgs.calls, *tc.lookups)
			}
			if res.Outcome == Unchanged {
				if len(res.Patch) != 0 || res.Why == "" {
					t.Errorf("unchanged with patch %v, why %q", res.Patch, res.Why)
				}
				return
			}
			after := applyPatch(t, pod, res.Patch)
			if tc.skipped != "*" && after.Annotations[AnnotationSkipped] != tc.skipped {
				t.Errorf("%s:\n  %q\nwant\n  %q", AnnotationSkipped, after.Annotations[AnnotationSkipped], tc.skipped)
			}
			if res.Outcome == Skipped {
				rest := after.DeepCopy()
				rest.Annotations = before.Annotations
				if !reflect.DeepEqual(rest, before) {
					t.Error("a skipped pod changed beyond its annotations")
				}
			}
			if tc.check != nil {
				tc.check(t, before, after)
			}
			// Safe to run twice, and a container another webhook adds
			// in between is not wrapped.
			after.Spec.Containers = append(after.Spec.Containers, corev1.Container{Name: "late", Image: "app:1"})
			again, err := Mutate(context.Background(), after, testSettings, imgs)
			if err != nil || again.Outcome != Unchanged || len(again.Patch) != 0 {
				t.Errorf("second run: %s %v %v", again.Outcome, again.Patch, err)
			}
		})
	}
}

// TestMutatePatchJSON pins the whole patch of the common case: the JSON
// the API server gets.
func TestMutatePatchJSON(t *testing.T) {
	pod := decodePod(t, basePod)
	res, err := Mutate(context.Background(), pod, testSettings, newImages())
	if err != nil {
		t.Fatal(err)
	}
	got, err := jsonpatch.Marshal(res.Patch)
	if err != nil {
		t.Fatal(err)
	}
	want := `[
{"op":"add","path":"/metadata/annotations","value":{"tinit.dev/injected":"v1.0.0","tinit.dev/wrapped":"app"}},
{"op":"add","path":"/spec/containers/0/command","value":["/tinit-bin/tinit","--","/app/server"]},
{"op":"add","path":"/spec/containers/0/args","value":["--port","8080"]},
{"op":"add","path":"/spec/containers/0/volumeMounts","value":[{"name":"tinit-bin","readOnly":true,"mountPath":"/tinit-bin"}]},
{"op":"add","path":"/spec/volumes","value":[{"name":"tinit-bin","emptyDir":{"sizeLimit":"64Mi"}}]},
{"op":"add","path":"/spec/initContainers","value":[{"name":"tinit-install","image":"registry.example/tinit:v1","command":["/tinit","--install","/tinit-bin"],` +
		`"resources":{"limits":{"memory":"32Mi"},"requests":{"cpu":"10m","memory":"16Mi"}},"volumeMounts":[{"name":"tinit-bin","mountPath":"/tinit-bin"}],` +
		`"securityContext":{"capabilities":{"drop":["ALL"]},"runAsUser":65532,"runAsGroup":65532,"runAsNonRoot":true,"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,"seccompProfile":{"type":"RuntimeDefault"}}}]}
]`
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(want)); err != nil {
		t.Fatal(err)
	}
	if string(got) != compact.String() {
		t.Errorf("patch:\n%s\nwant\n%s", got, compact.String())
	}
}

func TestMutatePullContext(t *testing.T) {
	pod := decodePod(t, `
metadata: {namespace: shop}
spec:
  serviceAccountName: builder
  imagePullSecrets: [{name: one}, {name: two}]
  containers:
  - {name: app, image: app:1}
`)
	imgs := newImages()
	if _, err := Mutate(context.Background(), pod, testSettings, imgs); err != nil {
		t.Fatal(err)
	}
	want := []PullContext{{Namespace: "shop", ServiceAccount: "builder", PullSecrets: []string{"one", "two"}}}
	if !reflect.DeepEqual(imgs.pulls, want) {
		t.Errorf("pull contexts %+v, want %+v", imgs.pulls, want)
	}
	pod.Spec.ServiceAccountName = ""
	pod.Spec.ImagePullSecrets = nil
	imgs = newImages()
	if _, err := Mutate(context.Background(), pod, testSettings, imgs); err != nil {
		t.Fatal(err)
	}
	if p := imgs.pulls[0]; p.ServiceAccount != "default" || p.PullSecrets != nil {
		t.Errorf("pull context %+v, want the default service account and no secrets", p)
	}
}

func TestMutateRefusesNoImage(t *testing.T) {
	if _, err := Mutate(context.Background(), decodePod(t, basePod), Settings{}, newImages()); err == nil {
		t.Error("no error without a tinit image")
	}
	if _, err := Mutate(context.Background(), nil, testSettings, newImages()); err == nil {
		t.Error("no error without a pod")
	}
}
