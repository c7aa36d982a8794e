package nodetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Timeouts generous enough for a 2-core machine under load; no test
// asserts that anything is fast.
const (
	// InstallTimeout is helm install's --timeout.
	InstallTimeout = 4 * time.Minute
	// PodTimeout bounds a wait for a pod to start, turn Ready or go.
	PodTimeout = 3 * time.Minute
	// CleanupTimeout bounds the wait for a namespace to disappear.
	CleanupTimeout = 3 * time.Minute
)

// NS is one test's namespace: created by Env.Namespace, and at the end of
// the test (after a dump if it failed) its helm releases are uninstalled
// and the namespace is deleted and waited for.
type NS struct {
	Env  *Env
	T    testing.TB
	Name string
	// Ctx is cancelled when the test ends.
	Ctx context.Context

	rel *releases
}

// releases are the helm releases to uninstall at the end, shared by the
// copies With makes.
type releases struct {
	mu    sync.Mutex
	names []string
}

// With is ns for a subtest: failures are reported to t (t.Fatal must be
// called from the goroutine of the test it fails), the namespace and its
// cleanup stay the parent's.
func (ns *NS) With(t testing.TB) *NS {
	c := *ns
	c.T = t
	return &c
}

// Namespace creates a namespace named prefix-XXXXXX for the test.
func (e *Env) Namespace(t testing.TB, prefix string) *NS {
	t.Helper()
	NeedEnv(t, e)
	var b [3]byte
	rand.Read(b[:])
	ctx, cancel := context.WithCancel(context.Background())
	ns := &NS{Env: e, T: t, Name: prefix + "-" + hex.EncodeToString(b[:]), Ctx: ctx, rel: &releases{}}
	_, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: ns.Name, Labels: map[string]string{"tinit-node-test": "true"}},
	}, metav1.CreateOptions{})
	if err != nil {
		cancel()
		t.Fatalf("creating namespace %s: %v", ns.Name, err)
	}
	t.Logf("namespace %s", ns.Name)
	t.Cleanup(func() {
		if t.Failed() {
			ns.Dump()
		}
		ns.cleanup()
		cancel()
	})
	return ns
}

// cleanup uninstalls the releases and deletes the namespace. Pods get a
// 1 s grace: what they do when stopped is tested before, not here.
func (ns *NS) cleanup() {
	t := ns.T
	ctx, cancel := context.WithTimeout(context.Background(), CleanupTimeout)
	defer cancel()
	ns.rel.mu.Lock()
	names := append([]string(nil), ns.rel.names...)
	ns.rel.mu.Unlock()
	for _, r := range names {
		if out, err := ns.Env.RunHelm(ns.Env.Dir, "uninstall", r, "-n", ns.Name, "--timeout", "1m"); err != nil && !strings.Contains(out, "not found") {
			t.Errorf("helm uninstall %s: %v\n%s", r, err, out)
		}
	}
	pods := ns.Env.Client.CoreV1().Pods(ns.Name)
	grace := int64(1)
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &grace}, metav1.ListOptions{}); err != nil {
		t.Logf("deleting the pods of %s: %v", ns.Name, err)
	}
	if err := ns.Env.Client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting namespace %s: %v", ns.Name, err)
		return
	}
	for {
		_, err := ns.Env.Client.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		select {
		case <-ctx.Done():
			t.Errorf("namespace %s still there %s after its deletion (last: %v)", ns.Name, CleanupTimeout, err)
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Values writes chart values (maps, encoded as JSON, which YAML reads)
// to a file for helm's -f.
func (ns *NS) Values(values any) string {
	ns.T.Helper()
	p, err := ns.writeValues(values)
	if err != nil {
		ns.T.Fatal(err)
	}
	return p
}

func (ns *NS) writeValues(values any) (string, error) {
	b, err := json.MarshalIndent(values, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(ns.Env.Dir, ns.Name+"-values-*.json")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.Write(b)
	return f.Name(), err
}

// Helm runs the pinned helm in the Env's directory with this namespace
// (-n) and returns its output; safe from any goroutine.
func (ns *NS) Helm(args ...string) (string, error) {
	return ns.Env.RunHelm(ns.Env.Dir, append(args, "-n", ns.Name)...)
}

// InstallErr runs `helm install RELEASE CHART -f VALUES --wait --timeout`
// (plus extra arguments, e.g. --wait-for-jobs) and returns helm's output;
// the release is uninstalled at the end of the test. Safe from any
// goroutine: the caller reports the error.
func (ns *NS) InstallErr(release, chart string, values any, extra ...string) (string, error) {
	args := []string{"install", release, chart, "--wait", "--timeout", InstallTimeout.String()}
	if values != nil {
		p, err := ns.writeValues(values)
		if err != nil {
			return "", err
		}
		args = append(args, "-f", p)
	}
	args = append(args, extra...)
	ns.rel.mu.Lock()
	ns.rel.names = append(ns.rel.names, release)
	ns.rel.mu.Unlock()
	start := time.Now()
	out, err := ns.Helm(args...)
	if err != nil {
		return out, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	ns.T.Logf("helm install %s %s: %s", release, filepath.Base(chart), time.Since(start).Round(time.Millisecond))
	return out, nil
}

// Install is InstallErr that fails the test on an error.
func (ns *NS) Install(release, chart string, values any, extra ...string) string {
	ns.T.Helper()
	out, err := ns.InstallErr(release, chart, values, extra...)
	if err != nil {
		ns.T.Fatal(err)
	}
	return out
}

// Selector is the label selector charts/tinit's pods of a release have.
func Selector(release string) string {
	return "app.kubernetes.io/instance=" + release
}

// SelectorLabels are charts/tinit's selector labels of a release, for a
// Service.
func SelectorLabels(release string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "tinit", "app.kubernetes.io/instance": release}
}

// CreateService creates a ClusterIP Service selecting the labels, port to
// targetPort (no kube-proxy here: it is for its EndpointSlices).
func (ns *NS) CreateService(name string, selector map[string]string, port int32) {
	ns.T.Helper()
	_, err := ns.Env.Client.CoreV1().Services(ns.Name).Create(ns.Ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(port)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		ns.T.Fatalf("creating service %s: %v", name, err)
	}
}

// Dump logs what explains a failure: `kubectl describe pods` (or the
// pods' status when there is no kubectl), the namespace's events in time
// order, and the logs of every container, the previous instance's too.
func (ns *NS) Dump() {
	t := ns.T
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "==== dump of namespace %s ====\n", ns.Name)
	if ns.Env.Kubectl != "" {
		cmd := exec.CommandContext(ctx, ns.Env.Kubectl, "describe", "pods", "-n", ns.Name)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+ns.Env.Kubeconfig)
		out, err := cmd.CombinedOutput()
		fmt.Fprintf(&b, "---- kubectl describe pods (%v)\n%s\n", err, out)
	}
	pods, err := ns.Env.Client.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&b, "listing pods: %v\n", err)
	} else {
		for _, p := range pods.Items {
			if ns.Env.Kubectl == "" {
				st, _ := json.MarshalIndent(p.Status, "", "  ")
				fmt.Fprintf(&b, "---- pod %s status\n%s\n", p.Name, st)
			}
			var names []string
			for _, c := range p.Spec.InitContainers {
				names = append(names, c.Name)
			}
			for _, c := range p.Spec.Containers {
				names = append(names, c.Name)
			}
			for _, c := range names {
				for _, prev := range []bool{false, true} {
					logs, err := ns.Logs(p.Name, c, prev)
					if prev && (err != nil || logs == "") {
						continue
					}
					fmt.Fprintf(&b, "---- logs %s/%s previous=%v (%v)\n%s\n", p.Name, c, prev, err, logs)
				}
			}
		}
	}
	evs, err := ns.Env.Client.CoreV1().Events(ns.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&b, "listing events: %v\n", err)
	} else {
		items := evs.Items
		sort.SliceStable(items, func(i, j int) bool { return eventTime(items[i]).Before(eventTime(items[j])) })
		fmt.Fprintf(&b, "---- events\n")
		for _, ev := range items {
			fmt.Fprintf(&b, "%s %s %s/%s %s: %s (x%d)\n", eventTime(ev).Format("15:04:05.000"), ev.Type,
				ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Reason, ev.Message, max(ev.Count, 1))
		}
	}
	t.Log(b.String())
}

func eventTime(ev corev1.Event) time.Time {
	switch {
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	default:
		return ev.CreationTimestamp.Time
	}
}
