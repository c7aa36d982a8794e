// Package webhook serves tinit-inject's mutating admission webhook:
// AdmissionReview v1 in, the patch of package mutate out, and the
// metrics of what it did.
//
// Invariants:
//
//   - It never rejects: every answer it gives is allowed. A request it
//     cannot decode, a pod it cannot read, an image it cannot look up or
//     a deadline run out ends in "allowed, no patch" (or the containers
//     concerned skipped), a warning for the client and a log line. Only a
//     body it cannot even find a uid in gets an HTTP error, which the API
//     server treats as the webhook failing: failurePolicy Ignore then
//     admits the pod as it is.
//   - Decoding is strict: a body over MaxBody (413), not JSON, with
//     unknown or duplicate fields, with fields in the wrong case, or
//     other than an admission.k8s.io/v1 AdmissionReview with a request
//     and a uid is refused (allowed, not mutated). What this build does
//     not know it cannot be sure to mutate correctly. The pod inside is
//     read case-sensitively but not strictly: a newer API server's pod
//     fields must not stop injection, and the patch never rewrites them.
//   - Only pods at CREATE are mutated (the resource "pods", no
//     subresource); anything else is answered allowed and counted as
//     "ignored".
//   - Each admission runs under its own deadline (Timeout), which must
//     sit under the webhook's timeoutSeconds so that the answer, not the
//     API server's timeout, decides.
//   - The cluster is read (the pod's service account and pull secrets)
//     only when a container's image must be looked up, once per
//     admission, and only in the pod's namespace. A secret that cannot be
//     read is logged and left out: a public image still resolves.
//   - Every admission is counted once in tinit_inject_admissions_total
//     by outcome (injected, skipped, unchanged, ignored, error) and
//     observed once in tinit_inject_admission_seconds; every image lookup
//     once in tinit_inject_image_lookups_total (hit, miss, error). The
//     metrics are written by hand in Prometheus' text format.
//   - Log lines start with "tinit-inject: ", as tinit's start with
//     "tinit: ", then slog's text format.
package webhook
