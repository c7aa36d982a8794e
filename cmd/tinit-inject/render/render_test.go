package render

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/tinit/tinit/cmd/tinit-inject/mutate"
)

type images map[string]mutate.ImageConfig

func (m images) Config(_ context.Context, ref string, _ mutate.PullContext) (mutate.ImageConfig, error) {
	if c, ok := m[ref]; ok {
		return c, nil
	}
	return mutate.ImageConfig{}, errors.New("manifest unknown")
}

var opts = Options{
	Settings: mutate.Settings{Image: "tinit:dev", Version: "dev"},
	Images:   images{"shop:1": {Entrypoint: []string{"shop"}, Cmd: []string{"serve"}}},
}

const deployment = `# a comment before the first document
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels: {app: shop}
spec:
  replicas: 3
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
      annotations: {tinit.dev/grace: 20s}
    spec:
      containers:
      - name: shop
        image: shop:1
        ports: [{containerPort: 8080}]
---
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: job, image: shop:1, args: [report]}
---
apiVersion: v1
kind: Pod
metadata:
  name: left
  labels: {tinit.dev/inject: "false"}
spec:
  containers:
  - {name: a, image: shop:1}
`

// docs splits rendered output into its documents.
func docs(t *testing.T, out []byte) [][]byte {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufioReader(out))
	var all [][]byte
	for {
		d, err := r.Read()
		if err != nil {
			break
		}
		all = append(all, d)
	}
	return all
}

func TestRenderWorkloads(t *testing.T) {
	out, objs, err := Render(context.Background(), strings.NewReader(deployment), "in.yaml", opts)
	if err != nil {
		t.Fatal(err)
	}
	d := docs(t, out)
	if len(d) != 3 || len(objs) != 3 {
		t.Fatalf("%d documents, %d objects:\n%s", len(d), len(objs), out)
	}

	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict(d[0], &dep); err != nil {
		t.Fatalf("Deployment: %v\n%s", err, d[0])
	}
	if *dep.Spec.Replicas != 3 || dep.Spec.Selector.MatchLabels["app"] != "shop" || dep.Labels["app"] != "shop" {
		t.Errorf("the rest of the Deployment changed: %+v", dep)
	}
	tp := dep.Spec.Template
	c := tp.Spec.Containers[0]
	if strings.Join(c.Command, " ") != "/tinit-bin/tinit -- shop" || strings.Join(c.Args, " ") != "serve" {
		t.Errorf("command %q args %q", c.Command, c.Args)
	}
	if tp.Spec.InitContainers[0].Name != mutate.InstallName || tp.Annotations[mutate.AnnotationInjected] != "dev" || tp.Labels["app"] != "shop" {
		t.Errorf("template %+v", tp)
	}
	if len(c.Env) != 1 || c.Env[0].Value != "20s" || tp.Spec.TerminationGracePeriodSeconds != nil {
		t.Errorf("env %+v grace %v", c.Env, tp.Spec.TerminationGracePeriodSeconds)
	}
	if objs[0].Kind != "Deployment" || objs[0].Name != "shop" || objs[0].Result.Outcome != mutate.Injected {
		t.Errorf("object %+v", objs[0])
	}

	var cj batchv1.CronJob
	if err := yaml.UnmarshalStrict(d[1], &cj); err != nil {
		t.Fatalf("CronJob: %v\n%s", err, d[1])
	}
	jt := cj.Spec.JobTemplate.Spec.Template
	if c := jt.Spec.Containers[0]; strings.Join(c.Command, " ") != "/tinit-bin/tinit -- shop" || strings.Join(c.Args, " ") != "report" {
		t.Errorf("CronJob container %+v", c)
	}
	if jt.Annotations[mutate.AnnotationWrapped] != "job" || cj.Spec.Schedule != "0 3 * * *" {
		t.Errorf("CronJob %+v", cj)
	}

	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(d[2], &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.Containers[0].Command != nil || len(pod.Annotations) != 0 || objs[2].Result.Outcome != mutate.Unchanged {
		t.Errorf("an opted-out pod changed: %+v %+v", pod, objs[2])
	}

	// Rendering the output again changes nothing: it has been here.
	again, objs2, err := Render(context.Background(), strings.NewReader(string(out)), "out.yaml", opts)
	if err != nil || string(again) != string(out) {
		t.Errorf("a second render differs (%v):\n%s", err, again)
	}
	for _, o := range objs2 {
		if o.Result.Outcome != mutate.Unchanged {
			t.Errorf("second render of %s: %s", o.Name, o.Result.Outcome)
		}
	}
}

func TestRenderOptOutOnTheWorkload(t *testing.T) {
	in := `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: d, labels: {tinit.dev/inject: "false"}}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: shop:1}]}
`
	out, objs, err := Render(context.Background(), strings.NewReader(in), "in", opts)
	if err != nil || objs[0].Result.Outcome != mutate.Unchanged || strings.Contains(string(out), "tinit-bin") {
		t.Errorf("%v %+v\n%s", err, objs, out)
	}
}

func TestRenderSkipsAnUnreadableImageAndStillPrints(t *testing.T) {
	in := `
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: private:1}]
`
	out, objs, err := Render(context.Background(), strings.NewReader(in), "in", opts)
	if err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(out, &job); err != nil {
		t.Fatal(err)
	}
	if got := job.Spec.Template.Annotations[mutate.AnnotationSkipped]; got != "c: image private:1: manifest unknown" || objs[0].Result.Outcome != mutate.Skipped {
		t.Errorf("skipped %q, outcome %s", got, objs[0].Result.Outcome)
	}
}

func TestRenderRefusesInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not YAML", "a: [b\n", "in: document 1: "},
		{"an unknown kind", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", `in: document 1: apiVersion "v1" kind "Service"`},
		{"a known kind at another version", "apiVersion: extensions/v1beta1\nkind: Deployment\n", `kind "Deployment": want`},
		{"an unknown field", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b, imagee: c}]}\n", `unknown field "spec.containers[0].imagee"`},
		{"a wrong type", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: 3}\n", "Pod: "},
		{"a list", "- a\n- b\n", "not an object"},
		{"a bad second document", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b, command: [x]}]}\n---\nkind: List\n", "in: document 2: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := Render(context.Background(), strings.NewReader(tc.in), "in", opts)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) || out != nil {
				t.Errorf("error %v (%T), want an InputError with %q; output %q", err, err, tc.want, out)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("the error is more than one line: %q", err)
			}
		})
	}
}

func TestRenderEmptyInput(t *testing.T) {
	out, objs, err := Render(context.Background(), strings.NewReader("---\n# nothing\n---\n"), "in", opts)
	if err != nil || len(out) != 0 || len(objs) != 0 {
		t.Errorf("%q %v %v", out, objs, err)
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
