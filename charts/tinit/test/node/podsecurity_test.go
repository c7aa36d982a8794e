package node

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// restrictedLabels make a namespace enforce the restricted Pod Security
// Standard (and warn and audit by it).
var restrictedLabels = map[string]string{
	"pod-security.kubernetes.io/enforce": "restricted",
	"pod-security.kubernetes.io/warn":    "restricted",
	"pod-security.kubernetes.io/audit":   "restricted",
}

// TestPodSecurityRestricted is issue 20's test 7: a namespace that
// enforces the restricted Pod Security Standard admits the pods of
// charts/tinit rendered with its defaults and with each ci/*-values.yaml,
// and of the user chart (test 4's) with tinit on. Every rendered object is
// created with dryRun=All, as `kubectl apply --dry-run=server` does: the
// apiserver admits or refuses it and stores nothing, so no pod runs and
// no image is pulled. Pod Security only warns about a workload whose pods
// it would refuse, so each workload's pod template is also dry-run
// created as a Pod, which it enforces on; any Pod Security warning fails
// too. (The ServiceAccounts the pods name are created for real: the
// ServiceAccount admission looks them up before Pod Security runs.) A
// control, the user chart with helm create's empty
// securityContext, must be refused, so that a pass means something.
func TestPodSecurityRestricted(t *testing.T) {
	ns := env.Namespace(t, "restricted")
	if err := ns.LabelNamespace(restrictedLabels); err != nil {
		t.Fatal(err)
	}
	ver, err := env.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	kube := []string{"--kube-version", ver.GitVersion}
	userChart, err := env.UserChart(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	type rendering struct {
		name    string
		chart   string
		values  any
		extra   []string
		refused bool // the control
	}
	cases := []rendering{{name: "charts/tinit defaults", chart: env.ChartDir}}
	ci, err := filepath.Glob(filepath.Join(env.ChartDir, "ci", "*-values.yaml"))
	if err != nil || len(ci) == 0 {
		t.Fatalf("no charts/tinit/ci/*-values.yaml (%v)", err)
	}
	for _, f := range ci {
		cases = append(cases, rendering{name: "charts/tinit -f ci/" + filepath.Base(f), chart: env.ChartDir, extra: []string{"-f", f}})
	}
	// helm create's chart has a helm test hook, a busybox Pod with no
	// securityContext: not what the issue asks about (--skip-tests).
	cases = append(cases, rendering{name: "the user chart, tinit on", chart: userChart, values: nodetest.UserChartValues(true), extra: []string{"--skip-tests"}})
	control := nodetest.UserChartValues(true)
	control["securityContext"] = map[string]any{}
	cases = append(cases, rendering{name: "control: the user chart with helm create's empty securityContext", chart: userChart, values: control, extra: []string{"--skip-tests"}, refused: true})

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := ns.With(t)
			// A release of its own: the ServiceAccounts stay.
			release := fmt.Sprintf("psa%d", i)
			objs, err := env.Template(release, c.chart, ns.Name, c.values, append(append([]string{}, kube...), c.extra...)...)
			if err != nil {
				t.Fatal(err)
			}
			var pods, refusedPods int
			var psaWarnings []string
			for _, obj := range objs {
				warnings, err := ns.DryRunCreate(obj)
				if err != nil {
					t.Errorf("dry-run create %s %s: %v", obj.GetKind(), obj.GetName(), err)
				}
				if obj.GetKind() == "ServiceAccount" {
					// The pods' dry runs look their ServiceAccount up
					// (before Pod Security sees them): create it.
					if err := createServiceAccount(ns, obj.GetName()); err != nil {
						t.Fatal(err)
					}
				}
				for _, w := range warnings {
					t.Logf("%s %s: warning: %s", obj.GetKind(), obj.GetName(), w)
					if strings.Contains(w, "PodSecurity") {
						psaWarnings = append(psaWarnings, obj.GetKind()+" "+obj.GetName()+": "+w)
					}
				}
				ps, err := nodetest.PodsOf(obj)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ps {
					pods++
					u, err := nodetest.ToUnstructured(p)
					if err != nil {
						t.Fatal(err)
					}
					_, err = ns.DryRunCreate(u)
					if err != nil && c.refused && !strings.Contains(err.Error(), "violates PodSecurity") {
						t.Errorf("control: the pod of %s %s refused for another reason than Pod Security: %v", obj.GetKind(), obj.GetName(), err)
					} else if err != nil {
						refusedPods++
						if c.refused {
							t.Logf("the pod of %s %s refused, as it should be: %v", obj.GetKind(), obj.GetName(), err)
						} else {
							t.Errorf("the pod of %s %s refused: %v", obj.GetKind(), obj.GetName(), err)
						}
					} else {
						t.Logf("the pod of %s %s admitted (%s)", obj.GetKind(), obj.GetName(), podSummary(u))
					}
				}
			}
			if pods == 0 {
				t.Fatalf("no pod in the rendering of %s: %s", c.name, kindsOf(objs))
			}
			switch {
			case c.refused && (refusedPods != pods || len(psaWarnings) == 0):
				t.Errorf("control: %d of %d pods refused and %d Pod Security warnings; want every pod refused and a warning: the check does not bite", refusedPods, pods, len(psaWarnings))
			case !c.refused && len(psaWarnings) > 0:
				t.Errorf("Pod Security warnings:\n  %s", strings.Join(psaWarnings, "\n  "))
			}
		})
	}

	// No workload was created, so nothing ran or was pulled.
	pods, err := env.Client.CoreV1().Pods(ns.Name).List(ns.Ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deploys, err := env.Client.AppsV1().Deployments(ns.Name).List(ns.Ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 || len(deploys.Items) != 0 {
		t.Errorf("the dry runs left %d pods and %d deployments in %s", len(pods.Items), len(deploys.Items), ns.Name)
	}
}

// createServiceAccount creates a ServiceAccount, if it is not there yet.
func createServiceAccount(ns *nodetest.NS, name string) error {
	_, err := env.Client.CoreV1().ServiceAccounts(ns.Name).Create(ns.Ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// podSummary names a pod's containers, for the log.
func podSummary(u *unstructured.Unstructured) string {
	var parts []string
	for _, key := range []string{"initContainers", "containers"} {
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", key)
		for _, c := range cs {
			m, _ := c.(map[string]any)
			name, _ := m["name"].(string)
			parts = append(parts, key+": "+name)
		}
	}
	return strings.Join(parts, ", ")
}

func kindsOf(objs []*unstructured.Unstructured) string {
	var k []string
	for _, o := range objs {
		k = append(k, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(k, " ")
}
