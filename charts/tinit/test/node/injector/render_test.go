package injector

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// render runs `tinit-inject render -f FILE` with the flags given and
// returns its stdout, stderr and exit code.
func (in *injector) render(t *testing.T, file string, flags ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(in.bin, append([]string{"render", "-f", file}, flags...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("tinit-inject render: %v", err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// TestRender: `tinit-inject render` reads a Deployment whose image has no
// command in the manifest, fetches the image's ENTRYPOINT and CMD from the
// node's registry with the credentials of --docker-config and the CA of
// --ca-file, and prints the Deployment with its pod template mutated
// exactly as the webhook mutates the same pod. The rendered Deployment,
// applied in a namespace the webhook does not serve, runs tinit as
// PID 1. Without credentials the container is left alone, with a reason,
// and render still exits 0.
func TestRender(t *testing.T) {
	in := setupInjector(t)
	ns := newNS(t, in, "inject-render", nil)
	image := in.reg.Ref(nodetest.RedisImage)
	d := deployment("rendered", image, nil, 1, false)
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	manifest, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "deploy.yaml")
	if err := os.WriteFile(file, manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	dockerConfig, err := in.reg.WriteDockerConfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	flags := []string{"--ca-file", in.reg.CAFile, "--tinit-image", in.tinitImage}

	out, errOut, code := in.render(t, file, append([]string{"--docker-config", dockerConfig}, flags...)...)
	if code != 0 {
		t.Fatalf("render exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	rendered := decodeDeployment(t, out)
	tmpl := rendered.Spec.Template
	want := wrapped(in.imageArgv(t, nodetest.RedisImage)...)
	asPod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
	asPod.Name = "rendered"
	in.checkInjected(t, asPod, map[string][]string{"app": want})

	// The webhook, given the same pod template as a labelled pod.
	byWebhook := restrictedPod("by-webhook", image, nil)
	byWebhook.Labels = map[string]string{injectLabel: "true", "app": "rendered"}
	byWebhook.Spec = *d.Spec.Template.Spec.DeepCopy()
	hooked, _, err := create(ns, byWebhook, true)
	if err != nil {
		t.Fatal(err)
	}
	in.checkInjected(t, hooked, map[string][]string{"app": want})
	if !reflect.DeepEqual(hooked.Spec.InitContainers[0].Command, tmpl.Spec.InitContainers[0].Command) ||
		!reflect.DeepEqual(hooked.Spec.InitContainers[0].Args, tmpl.Spec.InitContainers[0].Args) ||
		hooked.Spec.InitContainers[0].Image != tmpl.Spec.InitContainers[0].Image ||
		!reflect.DeepEqual(hooked.Spec.InitContainers[0].SecurityContext, tmpl.Spec.InitContainers[0].SecurityContext) {
		t.Errorf("render's install container differs from the webhook's:\nrender: %s\nwebhook: %s",
			jsonString(tmpl.Spec.InitContainers[0]), jsonString(hooked.Spec.InitContainers[0]))
	}
	for _, k := range []string{injectedAnnotation, skippedAnnotation} {
		if tmpl.Annotations[k] != hooked.Annotations[k] {
			t.Errorf("annotation %s: render %q, webhook %q", k, tmpl.Annotations[k], hooked.Annotations[k])
		}
	}

	// Applied for real, where the webhook does not look (no label).
	rendered.ResourceVersion = ""
	if _, err := env.Client.AppsV1().Deployments(ns.Name).Create(ns.Ctx, rendered, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the rendered Deployment: %v", err)
	}
	ns.WaitRollout("rendered")
	pods, err := ns.Pods("app=rendered")
	if err != nil || len(pods) != 1 {
		t.Fatalf("pods of the rendered Deployment: %d, %v", len(pods), err)
	}
	if got := cmdline1(t, ns, pods[0].Name, "app"); !slices.Equal(got, want) {
		t.Errorf("/proc/1/cmdline is %q, want %q", got, want)
	}

	// No credentials: the registry refuses, the container is skipped.
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "config.json"), []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = in.render(t, file, append([]string{"--docker-config", empty}, flags...)...)
	if code != 0 {
		t.Fatalf("render without credentials exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	anon := decodeDeployment(t, out)
	skipped := anon.Spec.Template.Annotations[skippedAnnotation]
	if !strings.HasPrefix(skipped, "app: ") {
		t.Errorf("without credentials: %s=%q, want the app container and a reason", skippedAnnotation, skipped)
	}
	if c := anon.Spec.Template.Spec.Containers[0]; len(argv(&c)) != 0 {
		t.Errorf("without credentials the app container was changed: %q", argv(&c))
	}
	t.Logf("without credentials: %s=%q (stderr %q)", skippedAnnotation, skipped, errOut)
}

// decodeDeployment decodes render's output, one Deployment, strictly.
func decodeDeployment(t *testing.T, out string) *appsv1.Deployment {
	t.Helper()
	objs, err := nodetest.DecodeObjects([]byte(out))
	if err != nil {
		t.Fatalf("render's output: %v\n%s", err, out)
	}
	if len(objs) != 1 || objs[0].GetKind() != "Deployment" {
		t.Fatalf("render printed %d objects, want one Deployment:\n%s", len(objs), out)
	}
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(objs[0].Object, &d, true); err != nil {
		t.Fatalf("render's Deployment: %v\n%s", err, out)
	}
	return &d
}
