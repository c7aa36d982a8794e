// Package render applies tinit-inject's mutation to manifests, for
// `tinit-inject render`: what the webhook would do to a pod, seen before
// anything is applied.
//
// Invariants:
//
//   - Every document is read, checked and mutated before anything is
//     written: an input that cannot be parsed, an object that does not
//     decode strictly into its k8s.io/api type, or a kind other than
//     Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and CronJob
//     is an *InputError, and no output is given. Empty documents are
//     skipped.
//   - The pod template is mutated exactly as the webhook mutates a pod:
//     the same mutate.Mutate, the same patch, applied with package
//     jsonpatch to the template as it was written. The rest of each
//     object is printed as it came (keys sorted, as kubectl prints them).
//   - Every object counts as opted in, unless it opts out itself: the
//     label tinit.dev/inject: "false" on the object or on its pod
//     template. There is no namespace, so no namespace selector.
//   - It never contacts a cluster: image configs come from the Images
//     given, with the caller's credentials.
package render
