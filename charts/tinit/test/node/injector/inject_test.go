package injector

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// TestEntrypointUnderTinit: a labelled pod with no command, its pull
// secret named on the pod. The webhook reads the image's ENTRYPOINT and
// CMD from the registry with that secret and runs them under tinit: the
// pod as stored says so, and in the running container /proc/1/cmdline is
// tinit's, with the app its child.
func TestEntrypointUnderTinit(t *testing.T) {
	in := setupInjector(t)
	ns := newNS(t, in, "inject-pod", nil)
	image := in.reg.Ref(nodetest.RedisImage)
	pod := restrictedPod("redis", image, nil)
	pod.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: pullSecret}}
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(6379)}},
		PeriodSeconds: 1,
	}
	want := wrapped(in.imageArgv(t, nodetest.RedisImage)...)
	p := mustCreate(t, ns, pod)
	in.checkInjected(t, p, map[string][]string{"app": want})
	t.Logf("stored: init container %s %q, app %q, annotations %v", p.Spec.InitContainers[0].Name, argv(&p.Spec.InitContainers[0]), argv(&p.Spec.Containers[0]), p.Annotations)

	ready := ns.WaitReadyPod("app=redis")
	if got := cmdline1(t, ns, ready.Name, "app"); !slices.Equal(got, want) {
		t.Errorf("/proc/1/cmdline in the app container is %q, want %q", got, want)
	}
	procs, err := ns.Processes(ready.Name, "app")
	if err != nil {
		t.Fatal(err)
	}
	var app *nodetest.Proc
	for i := range procs {
		if procs[i].PPid == 1 && procs[i].Comm == "redis-server" {
			app = &procs[i]
		}
	}
	if app == nil {
		t.Fatalf("no redis-server child of PID 1:\n%s", procList(procs))
	}
	if !nodetest.PortOpen(ready, 6379) {
		t.Errorf("redis does not answer on %s:6379", ready.Status.PodIP)
	}
}

// TestDeploymentInjected: a Deployment in a namespace labelled
// tinit.dev/inject=enabled, its pods unlabelled, the pull secret on the
// namespace's ServiceAccount. Both replicas are injected as the
// ReplicaSet creates them, run busybox httpd's ENTRYPOINT under tinit,
// and serve.
func TestDeploymentInjected(t *testing.T) {
	in := setupInjector(t)
	ns := newNS(t, in, "inject-deploy", map[string]string{injectLabel: "enabled"})
	image := in.reg.Ref(nodetest.HTTPDImage)
	d := deployment("web", image, nil, 2, false)
	d.Spec.Template.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1,
	}
	if _, err := env.Client.AppsV1().Deployments(ns.Name).Create(ns.Ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ns.WaitRollout("web")
	pods, err := ns.Pods("app=web")
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 {
		t.Fatalf("%d pods, want 2", len(pods))
	}
	want := wrapped(in.imageArgv(t, nodetest.HTTPDImage)...)
	for i := range pods {
		p := &pods[i]
		in.checkInjected(t, p, map[string][]string{"app": want})
		if got := cmdline1(t, ns, p.Name, "app"); !slices.Equal(got, want) {
			t.Errorf("pod %s: /proc/1/cmdline is %q, want %q", p.Name, got, want)
		}
		if code, _, err := nodetest.HTTPGet(nodetest.PodURL(p, 8080, "/")); err != nil || code != 200 {
			t.Errorf("pod %s: GET / on 8080: %d %v", p.Name, code, err)
		}
	}
}

// TestKubeSystemUntouched: a pod labelled for injection in kube-system
// never reaches the webhook (its namespaceSelector keeps kube-system
// out); the same pod in a test namespace is injected (dry run), so the
// label alone would have done it.
func TestKubeSystemUntouched(t *testing.T) {
	in := setupInjector(t)
	ns := newNS(t, in, "inject-control", nil)
	// An imported image, never pulled, and a command, so that the
	// webhook needs no registry: kube-system has no pull secret.
	command := []string{"sleep", "1000000"}
	pod := restrictedPod("tinit-e2e-"+randHex(), nodetest.HTTPDImage, command)
	pod.Spec.Containers[0].ImagePullPolicy = corev1.PullNever

	ctl, _, err := create(ns, pod.DeepCopy(), true)
	if err != nil {
		t.Fatal(err)
	}
	if ctl.Annotations[injectedAnnotation] == "" {
		t.Fatalf("control: the pod in %s is not injected: %v", ns.Name, ctl.Annotations)
	}

	pods := env.Client.CoreV1().Pods(metav1.NamespaceSystem)
	p, err := pods.Create(ns.Ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pods.Delete(context.Background(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	})
	in.checkUntouched(t, p, map[string][]string{"app": command})
	if len(p.Spec.InitContainers) != 0 {
		t.Errorf("kube-system pod has init containers %v", p.Spec.InitContainers)
	}
}

// TestWebhookDown: with the injector scaled to 0, a labelled pod is still
// created (failurePolicy Ignore), not injected, and runs as it is; then
// the injector is scaled back.
func TestWebhookDown(t *testing.T) {
	in := setupInjector(t)
	ns := newNS(t, in, "inject-down", nil)
	in.scale(t, 0)
	t.Cleanup(func() {
		in.scale(t, 2)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := in.waitEffective(ctx); err != nil {
			t.Errorf("after scaling back: %v", err)
		}
	})
	pod := restrictedPod("plain", in.reg.Ref(nodetest.HTTPDImage), nil)
	pod.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: pullSecret}}
	t0 := time.Now()
	p := mustCreate(t, ns, pod)
	t.Logf("created in %s with no injector", time.Since(t0).Round(time.Millisecond))
	in.checkUntouched(t, p, map[string][]string{"app": nil})
	ready := ns.WaitReadyPod("app=plain")
	want := in.imageArgv(t, nodetest.HTTPDImage)
	if got := cmdline1(t, ns, ready.Name, "app"); !slices.Equal(got, want) {
		t.Errorf("/proc/1/cmdline is %q, want the image's own %q", got, want)
	}
}

// TestReinvocationIdempotent: a pod that already has tinit gets nothing
// more; and when a second webhook, called after tinit-inject, adds a
// container, the apiserver calls tinit-inject again (reinvocationPolicy
// IfNeeded), which adds nothing: one install container, the app wrapped
// once, the added container not wrapped.
func TestReinvocationIdempotent(t *testing.T) {
	in := setupInjector(t)
	ns := newNS(t, in, "inject-again", nil)
	image := in.reg.Ref(nodetest.HTTPDImage)

	t.Run("a pod that already has tinit", func(t *testing.T) {
		ns := ns.With(t)
		first := mustCreate(t, ns, restrictedPod("first", image, []string{"sleep", "1000000"}))
		want := wrapped("sleep", "1000000")
		in.checkInjected(t, first, map[string][]string{"app": want})
		again := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "again", Labels: first.Labels, Annotations: first.Annotations},
			Spec:       *first.Spec.DeepCopy(),
		}
		again.Labels["app"] = "again"
		// What the scheduler and the admission plugins added is theirs
		// to add again: the node, the priority, the token volume.
		again.Spec.NodeName = ""
		again.Spec.Priority = nil
		again.Spec.Volumes = slices.DeleteFunc(again.Spec.Volumes, func(v corev1.Volume) bool { return strings.HasPrefix(v.Name, "kube-api-access-") })
		for i := range again.Spec.Containers {
			c := &again.Spec.Containers[i]
			c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return strings.HasPrefix(m.Name, "kube-api-access-") })
		}
		for i := range again.Spec.InitContainers {
			c := &again.Spec.InitContainers[i]
			c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return strings.HasPrefix(m.Name, "kube-api-access-") })
		}
		p := mustCreate(t, ns, again)
		in.checkInjected(t, p, map[string][]string{"app": want})
		if len(p.Spec.InitContainers) != len(first.Spec.InitContainers) || len(p.Spec.Volumes) != len(first.Spec.Volumes) {
			t.Errorf("the injected pod created again has %d init containers and %d volumes, the first %d and %d",
				len(p.Spec.InitContainers), len(p.Spec.Volumes), len(first.Spec.InitContainers), len(first.Spec.Volumes))
		}
		ready := ns.WaitReadyPod("app=again")
		if got := cmdline1(t, ns, ready.Name, "app"); !slices.Equal(got, want) {
			t.Errorf("/proc/1/cmdline is %q, want %q", got, want)
		}
	})

	// The apiserver calls tinit-inject again for every pod it changed
	// (its own change counts); here the second webhook changes the pod
	// in between: it sees tinit already there, adds a container, and
	// tinit-inject's second call, after it, leaves that container alone.
	t.Run("reinvoked after another webhook added a container", func(t *testing.T) {
		ns := ns.With(t)
		second := startAddContainer(t, ns, image)
		pod := restrictedPod("reinvoked", image, []string{"sleep", "1000000"})
		pod.Labels[secondLabel] = "true"
		before, err := in.admissions(ns.Ctx)
		if err != nil {
			t.Fatalf("the injector's metrics: %v", err)
		}
		calls := second.calls.Load()
		p := mustCreate(t, ns, pod)
		after, err := in.admissions(ns.Ctx)
		if err != nil {
			t.Fatalf("the injector's metrics: %v", err)
		}
		if n := second.calls.Load() - calls; n != 1 {
			t.Errorf("the second webhook was called %d times, want 1", n)
		}
		if !second.sawTinit.Load() {
			t.Errorf("the second webhook was called before tinit-inject: the pod it got had no install container")
		}
		if after-before != 2 {
			t.Errorf("tinit-inject counted %v admissions, want 2 (the first call and the reinvocation)", after-before)
		}
		var outcomes []string
		nodetest.WaitFor(t, "tinit-inject's two log lines for the pod", 30*time.Second, func() (bool, error) {
			lines, err := in.admissionLog(ns.Ctx, ns.Name+"/reinvoked")
			outcomes = outcomes[:0]
			for _, l := range lines {
				_, o, _ := strings.Cut(l, "outcome=")
				o, _, _ = strings.Cut(o, " ")
				outcomes = append(outcomes, o)
			}
			return len(outcomes) >= 2, err
		})
		if !slices.Equal(outcomes, []string{"injected", "unchanged"}) {
			t.Errorf("tinit-inject's admissions of the pod: %q, want injected then unchanged", outcomes)
		}
		in.checkInjected(t, p, map[string][]string{"app": wrapped("sleep", "1000000"), addedName: addedArgv})
		ready := ns.WaitReadyPod("app=reinvoked")
		if got := cmdline1(t, ns, ready.Name, addedName); !slices.Equal(got, addedArgv) {
			t.Errorf("/proc/1/cmdline of the added container is %q, want %q", got, addedArgv)
		}
		t.Logf("tinit-inject admissions %v -> %v, outcomes %q; skipped: %q", before, after, outcomes, p.Annotations[skippedAnnotation])
	})
}

// orphanProbe is the exec probe of kubernetes#81042 (as in the charts'
// TestExecProbeOrphans): it backgrounds a child that outlives the probe
// and exits, an orphan of the container's PID 1.
var orphanProbe = &corev1.Probe{
	ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "sleep 3 </dev/null >/dev/null 2>&1 & exit 0"}}},
	PeriodSeconds:    1,
	TimeoutSeconds:   1,
	FailureThreshold: 3,
}

// TestExecProbeZombiesReaped: kubernetes#81042 in a pod tinit-inject
// changed: the app, sleep, never reaps, and an exec probe leaves an
// orphan every second. tinit, PID 1 by injection, reaps them all (its
// metrics, on the port of tinit.dev/health-port, count them), and no
// zombie stays.
func TestExecProbeZombiesReaped(t *testing.T) {
	in := setupInjector(t)
	ns := newNS(t, in, "inject-zombies", nil)
	const port = 9180
	pod := restrictedPod("sleeper", in.reg.Ref(nodetest.HTTPDImage), []string{"sleep", "1000000"})
	pod.Annotations = map[string]string{healthPortAnnot: fmt.Sprint(port)}
	pod.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: pullSecret}}
	pod.Spec.Containers[0].LivenessProbe = orphanProbe
	want := wrapped("sleep", "1000000")
	p := mustCreate(t, ns, pod)
	in.checkInjected(t, p, map[string][]string{"app": want})
	ready := ns.WaitReadyPod("app=sleeper")
	if got := cmdline1(t, ns, ready.Name, "app"); !slices.Equal(got, want) {
		t.Fatalf("/proc/1/cmdline is %q, want %q", got, want)
	}

	var reaped float64
	var counts map[string]map[string]float64
	nodetest.WaitFor(t, "ten probes run and five orphans reaped by tinit", 2*time.Minute, func() (bool, error) {
		var err error
		if counts, err = ns.ProbeCounts(ready, "app"); err != nil {
			return false, err
		}
		if reaped, err = nodetest.TinitMetric(ready, port, "tinit_zombies_reaped_total"); err != nil {
			return false, err
		}
		return counts[nodetest.Liveness]["successful"] >= 10 && reaped >= 5, nil
	})
	// A zombie may be seen for the instant between its exit and tinit's
	// reap: one still there a second later is left.
	seen := 0
	for i := 0; i < 5; i++ {
		before, err := ns.Processes(ready.Name, "app")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		after, err := ns.Processes(ready.Name, "app")
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range nodetest.Zombies(before) {
			seen++
			for _, a := range after {
				if a.Pid == z.Pid && a.State == "Z" {
					t.Errorf("zombie left: %+v (still a zombie a second later)", z)
				}
			}
		}
	}
	t.Logf("tinit reaped %v orphans; liveness probes %v; zombies seen in 5 looks: %d, none left", reaped, counts[nodetest.Liveness], seen)
}

// TestRestrictedAdmitsInjected: in a namespace enforcing the restricted
// Pod Security Standard, Pod Security (which runs after the mutating
// webhooks) admits the injected pod, install container included, with no
// warning; a control without the pod's restricted settings is refused,
// so that the pass means something. (The other tests' namespaces enforce
// restricted too, and their pods are created for real.)
func TestRestrictedAdmitsInjected(t *testing.T) {
	in := setupInjector(t)
	ns := newNS(t, in, "inject-restricted", nil)
	pod := restrictedPod("restricted", in.reg.Ref(nodetest.RedisImage), nil)
	pod.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: pullSecret}}
	p, warnings, err := create(ns, pod, true)
	if err != nil {
		t.Fatalf("the injected pod was refused: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	in.checkInjected(t, p, map[string][]string{"app": wrapped(in.imageArgv(t, nodetest.RedisImage)...)})
	for _, c := range p.Spec.InitContainers {
		t.Logf("install container %s: securityContext %s", c.Name, jsonString(c.SecurityContext))
	}

	control := pod.DeepCopy()
	control.Spec.SecurityContext = nil
	control.Spec.Containers[0].SecurityContext = nil
	if _, _, err := create(ns, control, true); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("control: a pod without its restricted settings was not refused by Pod Security: %v", err)
	}
}

// TestUnreadableImage: with no pull secret the webhook cannot read the
// image's config from the registry, so it leaves the container alone
// and says why in tinit.dev/skipped; the pod is created all the same.
func TestUnreadableImage(t *testing.T) {
	in := setupInjector(t)
	ns := bareNS(t, "inject-nosecret", nil)
	pod := restrictedPod("nosecret", in.reg.Ref(nodetest.RedisImage), nil)
	p, _, err := create(ns, pod, true)
	if err != nil {
		t.Fatal(err)
	}
	if c := container(p, "app"); c == nil || len(argv(c)) != 0 {
		t.Errorf("the app container was changed: %q", argv(c))
	}
	skipped := p.Annotations[skippedAnnotation]
	if !strings.HasPrefix(skipped, "app: ") {
		t.Errorf("%s=%q, want the app container and a reason", skippedAnnotation, skipped)
	}
	t.Logf("%s: %q; injected %q, init containers %d", skippedAnnotation, skipped, p.Annotations[injectedAnnotation], len(p.Spec.InitContainers))
}

// procList formats processes for a message.
func procList(procs []nodetest.Proc) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "  %d ppid=%d %s %s\n", p.Pid, p.PPid, p.State, p.Cmdline)
	}
	return b.String()
}
