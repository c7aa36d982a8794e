package render

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/tinit/tinit/cmd/tinit-inject/jsonpatch"
	"github.com/tinit/tinit/cmd/tinit-inject/mutate"
)

// InputError is input that cannot be rendered: unparsable, not strictly
// one of the known kinds. The command exits 2 on it.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Options are what a render needs.
type Options struct {
	Settings mutate.Settings
	Images   mutate.Images // nil: containers without a command are skipped
}

// Object is one document's outcome.
type Object struct {
	Kind, Name string
	Result     mutate.Result
}

// kind says where a kind keeps its pod template, and how to decode it.
type kind struct {
	apiVersion string
	path       []string                                // the template's keys from the root; nil for a Pod
	decode     func([]byte) (template, []error, error) // strictly
}

// template is a decoded object's metadata and pod template.
type template struct {
	meta metav1.ObjectMeta
	pod  corev1.PodTemplateSpec
}

func decodeAs[T any](get func(*T) (metav1.ObjectMeta, corev1.PodTemplateSpec)) func([]byte) (template, []error, error) {
	return func(b []byte) (template, []error, error) {
		var v T
		strict, err := sigsjson.UnmarshalStrict(b, &v)
		if err != nil || len(strict) > 0 {
			return template{}, strict, err
		}
		m, p := get(&v)
		return template{m, p}, nil, nil
	}
}

var kinds = map[string]kind{
	"Pod": {"v1", nil, decodeAs(func(p *corev1.Pod) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		return p.ObjectMeta, corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}
	})},
	"Deployment": {"apps/v1", []string{"spec", "template"}, decodeAs(func(d *appsv1.Deployment) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		return d.ObjectMeta, d.Spec.Template
	})},
	"StatefulSet": {"apps/v1", []string{"spec", "template"}, decodeAs(func(d *appsv1.StatefulSet) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		return d.ObjectMeta, d.Spec.Template
	})},
	"DaemonSet": {"apps/v1", []string{"spec", "template"}, decodeAs(func(d *appsv1.DaemonSet) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		return d.ObjectMeta, d.Spec.Template
	})},
	"ReplicaSet": {"apps/v1", []string{"spec", "template"}, decodeAs(func(d *appsv1.ReplicaSet) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		return d.ObjectMeta, d.Spec.Template
	})},
	"Job": {"batch/v1", []string{"spec", "template"}, decodeAs(func(d *batchv1.Job) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		return d.ObjectMeta, d.Spec.Template
	})},
	"CronJob": {"batch/v1", []string{"spec", "jobTemplate", "spec", "template"}, decodeAs(func(d *batchv1.CronJob) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		return d.ObjectMeta, d.Spec.JobTemplate.Spec.Template
	})},
}

// Render reads YAML documents from in, named name in messages, and
// returns them as YAML with their pod templates mutated, and what was
// done to each.
func Render(ctx context.Context, in io.Reader, name string, o Options) ([]byte, []Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(in))
	var out bytes.Buffer
	var objs []Object
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, &InputError{fmt.Sprintf("%s: document %d: %v", name, n, err)}
		}
		y, obj, err := renderDoc(ctx, doc, o)
		if err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				return nil, nil, &InputError{fmt.Sprintf("%s: document %d: %s", name, n, ie.Msg)}
			}
			return nil, nil, fmt.Errorf("%s: document %d: %w", name, n, err)
		}
		if y == nil {
			continue // empty
		}
		if out.Len() > 0 {
			out.WriteString("---\n")
		}
		out.Write(y)
		objs = append(objs, obj)
	}
	return out.Bytes(), objs, nil
}

// renderDoc renders one document; nil for an empty one.
func renderDoc(ctx context.Context, doc []byte, o Options) ([]byte, Object, error) {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, Object{}, &InputError{fmt.Sprintf("not YAML: %v", err)}
	}
	if t := bytes.TrimSpace(j); bytes.Equal(t, []byte("null")) || len(t) == 0 {
		return nil, Object{}, nil
	}
	var root map[string]any
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		return nil, Object{}, &InputError{fmt.Sprintf("not an object: %v", err)}
	}
	apiVersion, _ := root["apiVersion"].(string)
	kindName, _ := root["kind"].(string)
	k, ok := kinds[kindName]
	if !ok || k.apiVersion != apiVersion {
		return nil, Object{}, &InputError{fmt.Sprintf("apiVersion %q kind %q: want v1 Pod, apps/v1 Deployment, StatefulSet, DaemonSet or ReplicaSet, or batch/v1 Job or CronJob", apiVersion, kindName)}
	}
	tmpl, strict, err := k.decode(j)
	if err != nil || len(strict) > 0 {
		if err == nil {
			err = errors.Join(strict...)
		}
		return nil, Object{}, &InputError{fmt.Sprintf("%s: %v", kindName, err)}
	}
	obj := Object{Kind: kindName, Name: tmpl.meta.Name}
	pod := &corev1.Pod{ObjectMeta: tmpl.pod.ObjectMeta, Spec: tmpl.pod.Spec}
	if pod.Namespace == "" {
		pod.Namespace = tmpl.meta.Namespace
	}
	if tmpl.meta.Labels[mutate.LabelInject] == "false" {
		obj.Result = mutate.Result{Outcome: mutate.Unchanged, Why: "opted out: label " + mutate.LabelInject + ` is "false" on the ` + kindName}
	} else if obj.Result, err = mutate.Mutate(ctx, pod, o.Settings, o.Images); err != nil {
		return nil, Object{}, err
	}
	if len(obj.Result.Patch) > 0 {
		if err := patchTemplate(root, k.path, obj.Result.Patch); err != nil {
			return nil, Object{}, err
		}
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, Object{}, fmt.Errorf("write %s: %w", kindName, err)
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return nil, Object{}, fmt.Errorf("write %s as YAML: %w", kindName, err)
	}
	return y, obj, nil
}

// patchTemplate applies a pod's patch to the pod template at path in
// root: a template has the pod's metadata and spec, so the paths are the
// same.
func patchTemplate(root map[string]any, path []string, ops []jsonpatch.Op) error {
	parent, key := root, ""
	tmpl := root
	for i, k := range path {
		next, ok := tmpl[k].(map[string]any)
		if !ok {
			return fmt.Errorf("no pod template at .%s", strings.Join(path[:i+1], "."))
		}
		parent, key, tmpl = tmpl, k, next
	}
	if _, ok := tmpl["metadata"].(map[string]any); !ok {
		// A template may leave metadata out; the patch adds to it.
		tmpl["metadata"] = map[string]any{}
	}
	b, err := json.Marshal(tmpl)
	if err != nil {
		return err
	}
	b, err = jsonpatch.Apply(b, ops)
	if err != nil {
		return err
	}
	var out map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		return err
	}
	if key == "" {
		for k := range root {
			delete(root, k)
		}
		for k, v := range out {
			root[k] = v
		}
		return nil
	}
	parent[key] = out
	return nil
}
