// Command readybench measures what tinit costs a pod's start on a real
// node (issue 20's benchmark 5): the time from the pod's Create call to
// the watch seeing its Ready condition True, on the same clock, for the
// same app (busybox httpd on 8080) deployed three ways:
//
//	(a) plain: charts/tinit with tinit.enabled false, the readiness probe on the app's port;
//	(b) inject: charts/tinit in inject mode, the readiness probe on the app's port;
//	(c) inject, the readiness probe on tinit's /readyz (tinit's TCP check of 8080).
//
// The pods are charts/tinit's renderings with the same readiness probe
// (httpGet, every -period seconds, no initial delay) and no startup or
// liveness probe, created one at a time and interleaved a, b, c, a, b,
// c..., each deleted (and gone) before the next. It prints the machine,
// the versions, every run and a Markdown table of medians, min and max,
// with the differences against (a) and (b), and whether (c) is within
// 300 ms of (b) (the target).
//
// Run it on the node (make kube-bench does up, this, and down):
//
//	.ci/kube/node exec go run ./cmd/readybench
//
// in charts/tinit/test/node.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

var (
	runs     = flag.Int("runs", 12, "measured runs of each variant")
	warmup   = flag.Int("warmup", 1, "rounds of a, b, c run first and not counted")
	period   = flag.Int("period", 1, "the readiness probe's periodSeconds, all variants")
	interval = flag.String("interval", "", "tinit.checks.interval (TINIT_CHECK_INTERVAL) for (b) and (c); empty: tinit's default")
	settle   = flag.Duration("settle", 2*time.Second, "pause after a pod is gone, before the next is created")
	timeout  = flag.Duration("timeout", 2*time.Minute, "longest wait for a pod to turn Ready or go")
)

const (
	appPort    = 8080
	healthPort = 9180
	container  = "app"
)

// tinitImage is the tinit image of the inject-mode pods.
var tinitImage string

// variant is one way of deploying the app.
type variant struct {
	key, name string
	pod       *corev1.Pod
}

// run is one measured start.
type run struct {
	variant string
	round   int
	// From the Create call to the watch seeing: the pod Initialized (its
	// init containers done), the app container running, the pod Ready.
	initialized, running, ready time.Duration
}

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "readybench:", err)
		os.Exit(1)
	}
}

func bench(ctx context.Context) error {
	env, err := nodetest.Setup()
	if err != nil {
		return err
	}
	defer env.Close()

	variants, err := variants(env)
	if err != nil {
		return err
	}
	var b [3]byte
	rand.Read(b[:])
	ns := "readybench-" + hex.EncodeToString(b[:])
	if _, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := env.Client.CoreV1().Namespaces().Delete(c, ns, metav1.DeleteOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, "readybench: deleting namespace", ns+":", err)
		}
	}()
	// The namespace's default ServiceAccount, which a pod needs, comes a
	// moment after the namespace.
	if err := nodetest.Poll(ctx, *timeout, func() (bool, error) {
		_, err := env.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("namespace %s has no default ServiceAccount: %w", ns, err)
	}

	header(env)
	var all []run
	for round := -*warmup; round < *runs; round++ {
		for _, v := range variants {
			r, err := measure(ctx, env, ns, v, round)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", v.key, round, err)
			}
			tag := ""
			if round < 0 {
				tag = " (warm-up, not counted)"
			} else {
				all = append(all, r)
			}
			fmt.Fprintf(os.Stderr, "round %2d %s: initialized %5d ms, running %5d ms, ready %5d ms%s\n",
				round, v.key, ms(r.initialized), ms(r.running), ms(r.ready), tag)
		}
	}
	report(variants, all)
	return nil
}

// variants renders charts/tinit three times and sets the same readiness
// probe on each pod.
func variants(env *nodetest.Env) ([]variant, error) {
	// This checkout's tinit under a tag of its own: the node's tinit:dev
	// is whichever checkout imported it last.
	img, err := env.OwnTinitImage()
	if err != nil {
		return nil, err
	}
	render := func(tinit bool) (*corev1.Pod, error) {
		checks := map[string]any{}
		if *interval != "" {
			checks["interval"] = *interval
		}
		objs, err := env.Template("bench", env.ChartDir, "default", map[string]any{
			"mode": "inject",
			"tinit": map[string]any{
				"enabled": tinit,
				"image":   img,
				"checks":  checks,
			},
			"app": map[string]any{
				"image":           nodetest.ImageValues(nodetest.HTTPDImage),
				"command":         []string{"httpd", "-f", "-p", fmt.Sprint(appPort), "-h", "/www"},
				"port":            appPort,
				"securityContext": map[string]any{"runAsUser": nodetest.NonRoot, "runAsGroup": nodetest.NonRoot},
			},
		})
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			pods, err := nodetest.PodsOf(o)
			if err != nil {
				return nil, err
			}
			if len(pods) == 1 {
				return pods[0], nil
			}
		}
		return nil, fmt.Errorf("charts/tinit rendered no pod")
	}
	probe := func(port int, path string) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt(port)}},
			InitialDelaySeconds: 0, PeriodSeconds: int32(*period), TimeoutSeconds: 1,
			SuccessThreshold: 1, FailureThreshold: 3,
		}
	}
	set := func(p *corev1.Pod, pr *corev1.Probe) *corev1.Pod {
		p = p.DeepCopy()
		c := &p.Spec.Containers[0]
		c.StartupProbe, c.LivenessProbe, c.ReadinessProbe = nil, nil, pr
		return p
	}
	plain, err := render(false)
	if err != nil {
		return nil, err
	}
	inject, err := render(true)
	if err != nil {
		return nil, err
	}
	if len(plain.Spec.InitContainers) != 0 || len(inject.Spec.InitContainers) != 1 {
		return nil, fmt.Errorf("init containers: plain %d, inject %d; want 0 and 1", len(plain.Spec.InitContainers), len(inject.Spec.InitContainers))
	}
	tinitImage = inject.Spec.InitContainers[0].Image
	return []variant{
		{"a", "plain pod, probe on the app's port", set(plain, probe(appPort, "/"))},
		{"b", "inject mode, probe on the app's port", set(inject, probe(appPort, "/"))},
		{"c", "inject mode, probe on tinit's /readyz", set(inject, probe(healthPort, "/readyz"))},
	}, nil
}

// measure creates the variant's pod, waits for the watch to see it Ready,
// deletes it and waits until it is gone and *settle more.
func measure(ctx context.Context, env *nodetest.Env, ns string, v variant, round int) (run, error) {
	r := run{variant: v.key, round: round}
	pods := env.Client.CoreV1().Pods(ns)
	pod := v.pod.DeepCopy()
	pod.Name = fmt.Sprintf("%s-%d", v.key, round+*warmup)
	pod.Namespace = ns
	pod.ResourceVersion = ""

	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	w, err := pods.Watch(wctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", pod.Name).String()})
	if err != nil {
		return r, err
	}
	defer w.Stop()
	start := time.Now()
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return r, err
	}
	var last *corev1.Pod
	for r.ready == 0 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return r, fmt.Errorf("the watch ended before %s was Ready (last status %+v)", pod.Name, status(last))
			}
			at := time.Since(start)
			p, isPod := ev.Object.(*corev1.Pod)
			if ev.Type == watch.Error || !isPod {
				return r, fmt.Errorf("watch: %v", ev.Object)
			}
			last = p
			if r.initialized == 0 && nodetest.PodCondition(p, corev1.PodInitialized) == corev1.ConditionTrue {
				r.initialized = at
			}
			if st := nodetest.ContainerStatus(p, container); r.running == 0 && st != nil && st.State.Running != nil {
				r.running = at
			}
			if nodetest.PodReady(p) {
				r.ready = at
			}
		case <-wctx.Done():
			return r, fmt.Errorf("%s not Ready after %s (last status %+v)", pod.Name, *timeout, status(last))
		}
	}

	grace := int64(1)
	if err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		return r, err
	}
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				// The watch may end (its timeout): ask.
				_, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return r, pause(ctx)
				}
				return r, fmt.Errorf("the watch ended before %s was gone (%v)", pod.Name, err)
			}
			if ev.Type == watch.Deleted {
				return r, pause(ctx)
			}
		case <-wctx.Done():
			return r, fmt.Errorf("%s not gone after %s", pod.Name, *timeout)
		}
	}
}

func pause(ctx context.Context) error {
	select {
	case <-time.After(*settle):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func status(p *corev1.Pod) any {
	if p == nil {
		return nil
	}
	return p.Status
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// header prints the machine and the versions.
func header(env *nodetest.Env) {
	node, err := env.Client.CoreV1().Nodes().Get(context.Background(), env.Node, metav1.GetOptions{})
	info := corev1.NodeSystemInfo{}
	if err == nil {
		info = node.Status.NodeInfo
	}
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, cpu, _ = strings.Cut(l, ": ")
				break
			}
		}
	}
	commit, _ := exec.Command("git", "-C", env.Root, "describe", "--always", "--dirty").Output()
	fmt.Printf("machine: %d CPUs (%s), %s, kernel %s\n", runtime.NumCPU(), cpu, info.OSImage, info.KernelVersion)
	fmt.Printf("node: kubelet %s, %s; tinit %s (this checkout, image %s)\n", info.KubeletVersion, info.ContainerRuntimeVersion, strings.TrimSpace(string(commit)), tinitImage)
	iv := *interval
	if iv == "" {
		iv = "tinit's default"
	}
	fmt.Printf("readiness probe: httpGet every %d s, no initial delay, no startup or liveness probe; tinit's check interval: %s\n", *period, iv)
	fmt.Printf("runs: %d of each variant, interleaved a, b, c, after %d warm-up round(s); each pod gone and %s more before the next\n\n", *runs, *warmup, *settle)
}

type stats struct{ median, min, max time.Duration }

func statsOf(ds []time.Duration) stats {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return stats{}
	}
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return stats{med, s[0], s[n-1]}
}

// report prints the Markdown tables.
func report(variants []variant, all []run) {
	by := func(key string, f func(run) time.Duration) stats {
		var ds []time.Duration
		for _, r := range all {
			if r.variant == key {
				ds = append(ds, f(r))
			}
		}
		return statsOf(ds)
	}
	ready := func(r run) time.Duration { return r.ready }
	a, b := by("a", ready), by("b", ready)
	fmt.Println("| | create to Ready, median | min | max | vs (a) | vs (b) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, v := range variants {
		s := by(v.key, ready)
		vsA := fmt.Sprintf("%+d ms (×%.2f)", ms(s.median-a.median), float64(s.median)/float64(a.median))
		vsB := fmt.Sprintf("%+d ms", ms(s.median-b.median))
		if v.key == "a" {
			vsA, vsB = "", ""
		}
		if v.key == "b" {
			vsB = ""
		}
		fmt.Printf("| (%s) %s | %d ms | %d ms | %d ms | %s | %s |\n", v.key, v.name, ms(s.median), ms(s.min), ms(s.max), vsA, vsB)
	}
	fmt.Println()
	fmt.Println("Where the time goes (medians, from the Create call to the watch seeing it):")
	fmt.Println()
	fmt.Println("| | Initialized | app container running | Ready | running to Ready |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, v := range variants {
		i, r, d := by(v.key, func(r run) time.Duration { return r.initialized }), by(v.key, func(r run) time.Duration { return r.running }), by(v.key, ready)
		gap := by(v.key, func(r run) time.Duration { return r.ready - r.running })
		fmt.Printf("| (%s) | %d ms | %d ms | %d ms | %d ms (%d-%d) |\n", v.key, ms(i.median), ms(r.median), ms(d.median), ms(gap.median), ms(gap.min), ms(gap.max))
	}
	c := by("c", ready)
	verdict := "met"
	if c.median-b.median > 300*time.Millisecond {
		verdict = "MISSED"
	}
	fmt.Printf("\ntarget: (c) Ready no more than 300 ms after (b): %+d ms, %s\n", ms(c.median-b.median), verdict)
}
