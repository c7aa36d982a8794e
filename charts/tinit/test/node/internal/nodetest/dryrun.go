package nodetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Template runs `helm template RELEASE CHART --namespace NAMESPACE` with
// values (written as JSON for -f; nil for none) and extra arguments (e.g.
// --kube-version, --skip-tests) and returns the rendered objects, in
// order.
func (e *Env) Template(release, chart, namespace string, values any, extra ...string) ([]*unstructured.Unstructured, error) {
	args := []string{"template", release, chart, "--namespace", namespace}
	if values != nil {
		p, err := e.ValuesFile(values)
		if err != nil {
			return nil, err
		}
		args = append(args, "-f", p)
	}
	args = append(args, extra...)
	cmd := e.HelmCmd(e.Dir, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return DecodeObjects(stdout.Bytes())
}

// ValuesFile writes chart values (encoded as JSON, which YAML reads) to a
// new file in the Env's directory, for helm's -f.
func (e *Env) ValuesFile(values any) (string, error) {
	b, err := json.MarshalIndent(values, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(e.Dir, "values-*.json")
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

// DecodeObjects splits a YAML stream into objects, skipping empty
// documents.
func DecodeObjects(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// PodsOf returns the pods an object would make: a Pod itself, the pod
// template of a Deployment, StatefulSet, DaemonSet, ReplicaSet or Job,
// and a CronJob's job's; none for other kinds. A template's pod is named
// after the object, in its namespace.
func PodsOf(obj *unstructured.Unstructured) ([]*corev1.Pod, error) {
	var tmpl *corev1.PodTemplateSpec
	conv := runtime.DefaultUnstructuredConverter
	switch obj.GetKind() {
	case "Pod":
		var p corev1.Pod
		if err := conv.FromUnstructured(obj.Object, &p); err != nil {
			return nil, err
		}
		return []*corev1.Pod{&p}, nil
	case "Deployment":
		var d appsv1.Deployment
		if err := conv.FromUnstructured(obj.Object, &d); err != nil {
			return nil, err
		}
		tmpl = &d.Spec.Template
	case "StatefulSet":
		var s appsv1.StatefulSet
		if err := conv.FromUnstructured(obj.Object, &s); err != nil {
			return nil, err
		}
		tmpl = &s.Spec.Template
	case "DaemonSet":
		var s appsv1.DaemonSet
		if err := conv.FromUnstructured(obj.Object, &s); err != nil {
			return nil, err
		}
		tmpl = &s.Spec.Template
	case "ReplicaSet":
		var s appsv1.ReplicaSet
		if err := conv.FromUnstructured(obj.Object, &s); err != nil {
			return nil, err
		}
		tmpl = &s.Spec.Template
	case "Job":
		var j batchv1.Job
		if err := conv.FromUnstructured(obj.Object, &j); err != nil {
			return nil, err
		}
		tmpl = &j.Spec.Template
	case "CronJob":
		var c batchv1.CronJob
		if err := conv.FromUnstructured(obj.Object, &c); err != nil {
			return nil, err
		}
		tmpl = &c.Spec.JobTemplate.Spec.Template
	default:
		return nil, nil
	}
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: *tmpl.ObjectMeta.DeepCopy(),
		Spec:       *tmpl.Spec.DeepCopy(),
	}
	p.Name = strings.ToLower(obj.GetKind()) + "-" + obj.GetName()
	p.Namespace = obj.GetNamespace()
	return []*corev1.Pod{p}, nil
}

// ToUnstructured converts a typed object (with its TypeMeta set).
func ToUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// warnings collects the Warning headers of the apiserver's answers.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	w.list = append(w.list, text)
	w.mu.Unlock()
}

// DryRunCreate creates obj in the namespace with dryRun=All, as `kubectl
// apply --dry-run=server` of a new object does: admission (Pod Security
// included) runs and nothing is stored, so no pod is scheduled and no
// image pulled. It returns the warnings of the answer (Pod Security's
// for a workload whose pods it would refuse) and the error (a refused
// Pod's).
func (ns *NS) DryRunCreate(obj *unstructured.Unstructured) ([]string, error) {
	w := &warnings{}
	cfg := rest.CopyConfig(ns.Env.Config)
	cfg.WarningHandler = w
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gvk, err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	obj = obj.DeepCopy()
	var ri dynamic.ResourceInterface = client.Resource(mapping.Resource)
	if mapping.Scope.Name() == "namespace" {
		obj.SetNamespace(ns.Name)
		ri = client.Resource(mapping.Resource).Namespace(ns.Name)
	}
	_, err = ri.Create(ns.Ctx, obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...), err
}

// LabelNamespace sets labels on the test's namespace (a merge patch).
func (ns *NS) LabelNamespace(labels map[string]string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
	if err != nil {
		return err
	}
	_, err = ns.Env.Client.CoreV1().Namespaces().Patch(ns.Ctx, ns.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
