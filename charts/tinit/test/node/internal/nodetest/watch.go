package nodetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Recorder watches objects and keeps every event with the time the test
// received it. A received time is never earlier than the change it shows:
// "seen at T" proves "happened by T".
type Recorder[T runtime.Object] struct {
	mu     sync.Mutex
	events []Event[T]
	err    error
	cancel context.CancelFunc
	done   chan struct{}
	synced chan struct{}
}

// Event is one watch event as the recorder received it.
type Event[T runtime.Object] struct {
	At     time.Time
	Type   watch.EventType
	Object T
}

// record lists (the state at the start, as ADDED events at the time of
// the list) and then watches from the list's resourceVersion, watching
// again from the last one when the server closes the watch, until
// cancelled.
func record[T runtime.Object](parent context.Context,
	list func(context.Context) ([]T, string, error),
	watchFrom func(context.Context, string) (watch.Interface, error)) *Recorder[T] {
	ctx, cancel := context.WithCancel(parent)
	r := &Recorder[T]{cancel: cancel, done: make(chan struct{}), synced: make(chan struct{})}
	go func() {
		defer close(r.done)
		items, rv, err := list(ctx)
		now := time.Now()
		r.mu.Lock()
		r.err = err
		for _, it := range items {
			r.events = append(r.events, Event[T]{At: now, Type: watch.Added, Object: it})
		}
		r.mu.Unlock()
		close(r.synced)
		if err != nil {
			return
		}
		for ctx.Err() == nil {
			w, err := watchFrom(ctx, rv)
			if err != nil {
				if ctx.Err() == nil {
					r.setErr(err)
				}
				return
			}
			for ev := range w.ResultChan() {
				at := time.Now()
				if ev.Type == watch.Error {
					if ctx.Err() == nil { // not the end Stop asked for
						r.setErr(fmt.Errorf("watch error: %v", ev.Object))
					}
					continue
				}
				obj, ok := ev.Object.(T)
				if !ok {
					continue
				}
				if m, err := metaOf(obj); err == nil {
					rv = m.GetResourceVersion()
				}
				if ev.Type == watch.Bookmark {
					continue
				}
				r.mu.Lock()
				r.events = append(r.events, Event[T]{At: at, Type: ev.Type, Object: obj})
				r.mu.Unlock()
			}
			w.Stop()
		}
	}()
	<-r.synced
	return r
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", obj)
	}
	return m, nil
}

func (r *Recorder[T]) setErr(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// Events returns what was received so far, and the watch's first error.
func (r *Recorder[T]) Events() ([]Event[T], error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event[T](nil), r.events...), r.err
}

// Stop ends the watch and returns the events.
func (r *Recorder[T]) Stop() ([]Event[T], error) {
	r.cancel()
	<-r.done
	return r.Events()
}

// RecordPod records the events of one pod, by name.
func (ns *NS) RecordPod(name string) *Recorder[*corev1.Pod] {
	pods := ns.Env.Client.CoreV1().Pods(ns.Name)
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	return record(ns.Ctx,
		func(ctx context.Context) ([]*corev1.Pod, string, error) {
			l, err := pods.List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil {
				return nil, "", err
			}
			var out []*corev1.Pod
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
			return out, l.ResourceVersion, nil
		},
		func(ctx context.Context, rv string) (watch.Interface, error) {
			return pods.Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: rv})
		})
}

// RecordEndpointSlices records the EndpointSlices of a Service.
func (ns *NS) RecordEndpointSlices(service string) *Recorder[*discoveryv1.EndpointSlice] {
	slices := ns.Env.Client.DiscoveryV1().EndpointSlices(ns.Name)
	sel := discoveryv1.LabelServiceName + "=" + service
	return record(ns.Ctx,
		func(ctx context.Context) ([]*discoveryv1.EndpointSlice, string, error) {
			l, err := slices.List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return nil, "", err
			}
			var out []*discoveryv1.EndpointSlice
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
			return out, l.ResourceVersion, nil
		},
		func(ctx context.Context, rv string) (watch.Interface, error) {
			return slices.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv})
		})
}

// EndpointSlices lists the EndpointSlices of a Service.
func (ns *NS) EndpointSlices(service string) ([]discoveryv1.EndpointSlice, error) {
	l, err := ns.Env.Client.DiscoveryV1().EndpointSlices(ns.Name).List(ns.Ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service,
	})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// PodEndpoint is a pod's endpoint in a Service's EndpointSlices now.
func (ns *NS) PodEndpoint(service, pod string) (PodEndpoint, error) {
	slices, err := ns.EndpointSlices(service)
	if err != nil {
		return PodEndpoint{}, err
	}
	ptrs := make([]*discoveryv1.EndpointSlice, len(slices))
	for i := range slices {
		ptrs[i] = &slices[i]
	}
	ep := FindPodEndpoint(ptrs, pod)
	ep.At = time.Now()
	return ep, nil
}

// PodEndpoint is a pod's endpoint in a Service's EndpointSlices at one
// moment: Present false when no slice lists the pod.
type PodEndpoint struct {
	At                          time.Time
	Present                     bool
	Ready, Serving, Terminating bool
}

func (p PodEndpoint) String() string {
	if !p.Present {
		return "absent"
	}
	return fmt.Sprintf("ready=%v serving=%v terminating=%v", p.Ready, p.Serving, p.Terminating)
}

// FindPodEndpoint finds a pod's endpoint in slices (nil conditions read
// as the API says: ready and serving unknown means true, terminating
// false).
func FindPodEndpoint(slices []*discoveryv1.EndpointSlice, pod string) PodEndpoint {
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || ep.TargetRef.Name != pod {
				continue
			}
			c := ep.Conditions
			return PodEndpoint{
				Present:     true,
				Ready:       c.Ready == nil || *c.Ready,
				Serving:     c.Serving == nil || *c.Serving,
				Terminating: c.Terminating != nil && *c.Terminating,
			}
		}
	}
	return PodEndpoint{}
}

// PodEndpointHistory replays EndpointSlice events and returns the pod's
// endpoint after each one that changed it, with the time it was received.
func PodEndpointHistory(events []Event[*discoveryv1.EndpointSlice], pod string) []PodEndpoint {
	current := map[string]*discoveryv1.EndpointSlice{}
	var out []PodEndpoint
	for _, ev := range events {
		switch ev.Type {
		case watch.Deleted:
			delete(current, ev.Object.Name)
		default:
			current[ev.Object.Name] = ev.Object
		}
		var all []*discoveryv1.EndpointSlice
		for _, s := range current {
			all = append(all, s)
		}
		ep := FindPodEndpoint(all, pod)
		ep.At = ev.At
		if n := len(out); n == 0 || out[n-1].String() != ep.String() {
			out = append(out, ep)
		}
	}
	return out
}
