// Package injector runs tinit-inject, the admission webhook that puts
// tinit into any pod (issue 21), on the real single-node Kubernetes of
// .ci/kube/node: charts/tinit-inject installed with helm, its image and
// tinit's pulled from the node's registry with a pull secret, the
// apiserver calling it through its Service, and the pods it changes run
// by the kubelet.
//
// Run on the node (make node-test does up, this and down):
//
//	.ci/kube/node exec go test -count=1 -v ./injector
//
// in charts/tinit/test/node. The webhook is installed once for all the
// tests (the first one to need it), in a namespace of its own, and
// removed after the last; each test has its own namespace, which
// enforces the restricted Pod Security Standard.
package injector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// env is the node, helm and the images, set up once by TestMain.
var env *nodetest.Env

func TestMain(m *testing.M) { os.Exit(nodetest.Main(m, &env)) }

// What tinit-inject reads and writes on a pod (issue 21).
const (
	injectLabel        = "tinit.dev/inject"
	injectedAnnotation = "tinit.dev/injected"
	skippedAnnotation  = "tinit.dev/skipped"
	healthPortAnnot    = "tinit.dev/health-port"
	// tinitPath is where the install container puts tinit, and the
	// wrapped command's first word.
	tinitPath = "/tinit-bin/tinit"
	// pullSecret is the name of the registry's pull secret in every
	// namespace that has one.
	pullSecret = "registry"
	// release is charts/tinit-inject's release.
	release = "tinit-inject"
)

// restrictedLabels make a namespace enforce the restricted Pod Security
// Standard, and warn by it.
var restrictedLabels = map[string]string{
	"pod-security.kubernetes.io/enforce": "restricted",
	"pod-security.kubernetes.io/warn":    "restricted",
}

// injector is charts/tinit-inject, installed once for the package.
type injector struct {
	reg *nodetest.Registry
	// ns is the injector's own namespace, deploy its Deployment.
	ns, deploy string
	// tinitImage is the image of the install container
	// (REGISTRY/tinit:dev), bin the tinit-inject binary (for render).
	tinitImage, bin string
}

var inj struct {
	once sync.Once
	v    *injector
	err  error
}

// setupInjector pushes the images to the node's registry and installs
// charts/tinit-inject, once for the package (the first test to call it
// pays), and waits until the apiserver sends pods to it. It is removed
// after the last test.
func setupInjector(t *testing.T) *injector {
	t.Helper()
	nodetest.NeedEnv(t, env)
	inj.once.Do(func() { inj.v, inj.err = installInjector() })
	if inj.err != nil {
		t.Fatalf("setting up tinit-inject: %v", inj.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			inj.v.dump(t)
		}
	})
	return inj.v
}

func installInjector() (*injector, error) {
	t0 := time.Now()
	bin, tar, err := env.BuildInject()
	if err != nil {
		return nil, err
	}
	reg, err := env.Registry(map[string]string{nodetest.InjectImage: tar})
	if err != nil {
		return nil, err
	}
	in := &injector{reg: reg, ns: "tinit-inject-" + randHex(), tinitImage: reg.Ref(nodetest.TinitImage), bin: bin}
	ctx, cancel := context.WithTimeout(context.Background(), nodetest.InstallTimeout+time.Minute)
	defer cancel()
	c := env.Client
	_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: in.ns, Labels: mergeLabels(restrictedLabels, map[string]string{"tinit-node-test": "true"}),
	}}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	env.AtExit(in.uninstall)
	if _, err := c.CoreV1().Secrets(in.ns).Create(ctx, reg.PullSecret(pullSecret), metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	// The pods the webhook changes pull tinit with their own pull
	// secrets, by the pull policy of the tag (IfNotPresent).
	tinitRepo, tinitTag := nodetest.SplitRef(in.tinitImage)
	values, err := env.ValuesFile(map[string]any{
		"image":            reg.ImageValues(nodetest.InjectImage),
		"imagePullSecrets": []map[string]string{{"name": pullSecret}},
		"tinitImage":       map[string]any{"repository": tinitRepo, "tag": tinitTag},
		"registry":         map[string]any{"caBundle": string(reg.CA)},
	})
	if err != nil {
		return nil, err
	}
	args := []string{"install", release, env.Root + "/charts/tinit-inject", "-n", in.ns, "-f", values,
		"--wait", "--timeout", nodetest.InstallTimeout.String()}
	if out, err := env.RunHelm(env.Dir, args...); err != nil {
		return in, fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	deploys, err := c.AppsV1().Deployments(in.ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release})
	if err != nil {
		return in, err
	}
	if len(deploys.Items) != 1 {
		return in, fmt.Errorf("release %s has %d Deployments, want 1", release, len(deploys.Items))
	}
	in.deploy = deploys.Items[0].Name
	t1 := time.Now()
	if err := in.waitEffective(ctx); err != nil {
		return in, err
	}
	fmt.Fprintf(os.Stderr, "injector tests: tinit-inject installed in %s (helm %s, then injecting after %s)\n",
		time.Since(t0).Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	return in, nil
}

// waitEffective waits until a labelled pod, created with dryRun=All in a
// namespace of the tests, comes back injected: the webhook's pods are
// Ready and the apiserver's webhook configuration is the new one.
func (in *injector) waitEffective(ctx context.Context) error {
	probe := "tinit-inject-probe-" + randHex()
	c := env.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: probe, Labels: map[string]string{"tinit-node-test": "true"},
	}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	defer c.CoreV1().Namespaces().Delete(context.Background(), probe, metav1.DeleteOptions{})
	pod := restrictedPod("probe", in.reg.Ref(nodetest.HTTPDImage), []string{"sleep", "1"})
	var last string
	err := nodetest.Poll(ctx, 2*time.Minute, func() (bool, error) {
		p, err := c.CoreV1().Pods(probe).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return false, err
		}
		last = fmt.Sprintf("annotations %v, command %q", p.Annotations, p.Spec.Containers[0].Command)
		return p.Annotations[injectedAnnotation] != "", nil
	})
	if err != nil {
		return fmt.Errorf("a labelled pod never came back injected (last: %s): %w", last, err)
	}
	return nil
}

// uninstall removes the release and the injector's namespace, after the
// last test.
func (in *injector) uninstall() {
	if out, err := env.RunHelm(env.Dir, "uninstall", release, "-n", in.ns, "--timeout", "1m"); err != nil && !strings.Contains(out, "not found") {
		fmt.Fprintf(os.Stderr, "injector tests: helm uninstall %s: %v\n%s", release, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.Client.CoreV1().Namespaces().Delete(ctx, in.ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		fmt.Fprintf(os.Stderr, "injector tests: deleting namespace %s: %v\n", in.ns, err)
	}
}

// dump logs the injector's pods and their logs (a failed test's).
func (in *injector) dump(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods, err := env.Client.CoreV1().Pods(in.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("listing the injector's pods: %v", err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "==== the injector (namespace %s) ====\n", in.ns)
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "---- pod %s: %s, ready %v\n", p.Name, p.Status.Phase, nodetest.PodReady(&p))
		for _, c := range p.Spec.Containers {
			logs, err := env.Client.CoreV1().Pods(in.ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name}).DoRaw(ctx)
			fmt.Fprintf(&b, "---- logs %s/%s (%v)\n%s\n", p.Name, c.Name, err, logs)
		}
	}
	t.Log(b.String())
}

// pods are the injector's own pods that are not being deleted.
func (in *injector) pods(ctx context.Context) ([]corev1.Pod, error) {
	return nodetest.LivePods(ctx, env.Client, in.ns, "app.kubernetes.io/instance="+release)
}

// scale sets the injector's replicas and waits until that many pods are
// Ready and no other is left.
func (in *injector) scale(t *testing.T, replicas int32) {
	t.Helper()
	ctx := context.Background()
	deploys := env.Client.AppsV1().Deployments(in.ns)
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	if _, err := deploys.Patch(ctx, in.deploy, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("scaling %s to %d: %v", in.deploy, replicas, err)
	}
	nodetest.WaitFor(t, fmt.Sprintf("%s at %d Ready replicas", in.deploy, replicas), nodetest.PodTimeout, func() (bool, error) {
		l, err := env.Client.CoreV1().Pods(in.ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, p := range l.Items {
			if p.DeletionTimestamp == nil && nodetest.PodReady(&p) {
				ready++
			}
		}
		return ready == int(replicas) && len(l.Items) == int(replicas), nil
	})
}

// admissions is the sum of tinit_inject_admissions_total over the
// injector's pods (each serves /metrics on its health port).
func (in *injector) admissions(ctx context.Context) (float64, error) {
	pods, err := in.pods(ctx)
	if err != nil {
		return 0, err
	}
	var total float64
	for i := range pods {
		port, err := healthPort(&pods[i])
		if err != nil {
			return 0, err
		}
		samples, err := nodetest.TinitMetrics(&pods[i], port)
		if err != nil {
			return 0, err
		}
		n, _ := nodetest.Sum(samples, "tinit_inject_admissions_total", nil)
		total += n
	}
	return total, nil
}

// admissionLog is the injector's log lines of the admissions of one pod
// (NAMESPACE/NAME), from all its pods, in time order.
func (in *injector) admissionLog(ctx context.Context, pod string) ([]string, error) {
	pods, err := in.pods(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, p := range pods {
		b, err := env.Client.CoreV1().Pods(in.ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, " msg=admission ") && strings.Contains(l, " pod="+pod+" ") {
				lines = append(lines, l)
			}
		}
	}
	// "tinit-inject: time=RFC3339 ...": in time order as text.
	slices.Sort(lines)
	return lines, nil
}

// healthPort is the port of the injector pod's container named by its
// readiness probe (the health address serves /healthz and /metrics).
func healthPort(p *corev1.Pod) (int, error) {
	for _, c := range p.Spec.Containers {
		if pr := c.ReadinessProbe; pr != nil && pr.HTTPGet != nil {
			if n := pr.HTTPGet.Port.IntValue(); n > 0 {
				return n, nil
			}
			for _, cp := range c.Ports {
				if cp.Name == pr.HTTPGet.Port.String() {
					return int(cp.ContainerPort), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("pod %s: no readiness probe naming the health port", p.Name)
}

// newNS is a namespace for one test, enforcing the restricted Pod
// Security Standard, with extra labels and the registry's pull secret,
// which its default ServiceAccount names: its pods get it without naming
// it.
func newNS(t *testing.T, in *injector, prefix string, labels map[string]string) *nodetest.NS {
	t.Helper()
	ns := bareNS(t, prefix, labels)
	if _, err := env.Client.CoreV1().Secrets(ns.Name).Create(ns.Ctx, in.reg.PullSecret(pullSecret), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pullSecretOnServiceAccount(t, ns)
	return ns
}

// bareNS is newNS without the pull secret.
func bareNS(t *testing.T, prefix string, labels map[string]string) *nodetest.NS {
	t.Helper()
	ns := env.Namespace(t, prefix)
	if err := ns.LabelNamespace(mergeLabels(restrictedLabels, labels)); err != nil {
		t.Fatal(err)
	}
	return ns
}

// pullSecretOnServiceAccount adds the pull secret to the namespace's
// default ServiceAccount (made by the controller-manager shortly after
// the namespace). The ServiceAccount admission plugin copies it into
// each pod that names none, before the webhook sees the pod.
func pullSecretOnServiceAccount(t *testing.T, ns *nodetest.NS) {
	t.Helper()
	sas := env.Client.CoreV1().ServiceAccounts(ns.Name)
	patch := fmt.Sprintf(`{"imagePullSecrets":[{"name":%q}]}`, pullSecret)
	nodetest.WaitFor(t, "the default ServiceAccount", time.Minute, func() (bool, error) {
		_, err := sas.Patch(ns.Ctx, "default", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return err == nil, err
	})
}

// restrictedPod is a pod labelled for injection whose one container,
// "app", runs image (with command, if not nil) as the restricted Pod
// Security Standard asks: non-root (the images' numeric USER), no
// privilege escalation, no capabilities, the runtime's seccomp profile.
func restrictedPod(name, image string, command []string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{injectLabel: "true", "app": name}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{restrictedContainer("app", image, command)},
		},
	}
}

func restrictedContainer(name, image string, command []string) corev1.Container {
	return corev1.Container{
		Name:    name,
		Image:   image,
		Command: command,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

// create creates a pod (dryRun=All with dryRun) and returns it as the
// apiserver stored it, after admission, and the warnings of the answer
// (Pod Security's among them).
func create(ns *nodetest.NS, pod *corev1.Pod, dryRun bool) (*corev1.Pod, []string, error) {
	c, w, err := warningClient()
	if err != nil {
		return nil, nil, err
	}
	opts := metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	p, err := c.CoreV1().Pods(ns.Name).Create(ns.Ctx, pod, opts)
	return p, w.get(), err
}

// mustCreate creates a pod for real, and fails the test on an error or
// any warning.
func mustCreate(t *testing.T, ns *nodetest.NS, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	p, warnings, err := create(ns, pod, false)
	if err != nil {
		t.Fatalf("creating pod %s: %v", pod.Name, err)
	}
	if len(warnings) > 0 {
		t.Fatalf("creating pod %s: warnings %q", pod.Name, warnings)
	}
	return p
}

type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	if code == 299 && text != "" {
		w.mu.Lock()
		w.list = append(w.list, text)
		w.mu.Unlock()
	}
}

func (w *warnings) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.list)
}

// warningClient is a client that collects the warnings of its answers.
func warningClient() (kubernetes.Interface, *warnings, error) {
	w := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = w
	c, err := kubernetes.NewForConfig(cfg)
	return c, w, err
}

// argv is what a container runs, as far as the pod says: command then
// args.
func argv(c *corev1.Container) []string {
	return append(slices.Clone(c.Command), c.Args...)
}

// wrapped is argv under tinit: /tinit-bin/tinit -- ARGV.
func wrapped(argv ...string) []string {
	return append([]string{tinitPath, "--"}, argv...)
}

// container is the pod's regular container of that name.
func container(p *corev1.Pod, name string) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}

// installContainers are the pod's init containers that run the tinit
// image: the injector's install container, which is exactly one, first.
func (in *injector) installContainers(p *corev1.Pod) []int {
	var idx []int
	for i, c := range p.Spec.InitContainers {
		if c.Image == in.tinitImage {
			idx = append(idx, i)
		}
	}
	return idx
}

// checkInjected checks what the webhook did to a pod: the injected
// annotation, one install container at index 0, and each named
// container's argv.
func (in *injector) checkInjected(t *testing.T, p *corev1.Pod, want map[string][]string) {
	t.Helper()
	if p.Annotations[injectedAnnotation] == "" {
		t.Fatalf("pod %s is not injected: annotations %v, init containers %d, skipped %q", p.Name, p.Annotations, len(p.Spec.InitContainers), p.Annotations[skippedAnnotation])
	}
	if idx := in.installContainers(p); !slices.Equal(idx, []int{0}) {
		t.Errorf("pod %s: install containers (image %s) at %v, want exactly one at index 0", p.Name, in.tinitImage, idx)
	}
	for name, w := range want {
		c := container(p, name)
		if c == nil {
			t.Errorf("pod %s has no container %s", p.Name, name)
			continue
		}
		if got := argv(c); !slices.Equal(got, w) {
			t.Errorf("pod %s, container %s runs %q, want %q", p.Name, name, got, w)
		}
	}
}

// checkUntouched checks that the webhook left a pod alone.
func (in *injector) checkUntouched(t *testing.T, p *corev1.Pod, want map[string][]string) {
	t.Helper()
	if v, ok := p.Annotations[injectedAnnotation]; ok {
		t.Errorf("pod %s/%s has %s=%q, want it untouched", p.Namespace, p.Name, injectedAnnotation, v)
	}
	if idx := in.installContainers(p); len(idx) > 0 {
		t.Errorf("pod %s/%s has install containers at %v, want none", p.Namespace, p.Name, idx)
	}
	for name, w := range want {
		if c := container(p, name); c == nil || !slices.Equal(argv(c), w) {
			t.Errorf("pod %s/%s, container %s: %v, want %q", p.Namespace, p.Name, name, c, w)
		}
	}
}

// cmdline1 is /proc/1/cmdline in a container, split at its NULs.
func cmdline1(t *testing.T, ns *nodetest.NS, pod, container string) []string {
	t.Helper()
	out := ns.Exec(pod, container, "cat", "/proc/1/cmdline")
	return strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
}

// imageArgv is what an image runs by itself: its ENTRYPOINT and CMD as
// the registry serves its config.
func (in *injector) imageArgv(t *testing.T, ref string) []string {
	t.Helper()
	cfg, err := in.reg.Config(ref)
	if err != nil {
		t.Fatalf("reading %s's config from the registry: %v", ref, err)
	}
	return append(slices.Clone(cfg.Config.Entrypoint), cfg.Config.Cmd...)
}

func mergeLabels(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func randHex() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ptr[T any](v T) *T { return &v }

// jsonString is v as indented JSON, for a message.
func jsonString(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// deployment is a Deployment of replicas restricted pods (the pod
// template of restrictedPod, without the pod label unless podLabel).
func deployment(name, image string, command []string, replicas int32, podLabel bool) *appsv1.Deployment {
	pod := restrictedPod(name, image, command)
	if !podLabel {
		delete(pod.Labels, injectLabel)
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec},
		},
	}
}
