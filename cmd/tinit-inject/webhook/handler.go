package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	sigsjson "sigs.k8s.io/json"

	"github.com/tinit/tinit/cmd/tinit-inject/images"
	"github.com/tinit/tinit/cmd/tinit-inject/jsonpatch"
	"github.com/tinit/tinit/cmd/tinit-inject/mutate"
)

// DefaultMaxBody bounds a request body. The API server caps an object at
// 3 MiB (etcd's 1.5 MiB in practice); a CREATE review carries one, with
// the request around it.
const DefaultMaxBody = 4 << 20

// DefaultTimeout is an admission's own deadline: under the chart's
// timeoutSeconds of 10, with room for the answer to travel.
const DefaultTimeout = 8 * time.Second

// maxWarning is the longest warning sent: the API server may truncate
// longer ones.
const maxWarning = 250

// ImageReader reads image configs with a keychain (images.Reader).
type ImageReader interface {
	Config(ctx context.Context, ref string, kc authn.Keychain) (mutate.ImageConfig, error)
}

// Cluster reads what the pull credentials come from.
type Cluster interface {
	ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
}

// Config sets up a Handler.
type Config struct {
	Settings mutate.Settings
	Images   ImageReader // nil: containers without a command are skipped
	Cluster  Cluster     // nil: lookups are anonymous
	Timeout  time.Duration
	MaxBody  int64
	Log      *slog.Logger
	Metrics  *Metrics
}

// Handler answers AdmissionReview requests.
type Handler struct {
	c Config
}

// New makes a Handler; zero Timeout, MaxBody, Log and Metrics take their
// defaults.
func New(c Config) *Handler {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.Log == nil {
		c.Log = discard()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics("")
	}
	return &Handler{c: c}
}

// Mux serves the handler at POST /mutate, the path the
// MutatingWebhookConfiguration names.
func Mux(h *Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/mutate", h)
	return mux
}

// answer is what one admission came to.
type answer struct {
	outcome  string
	response *admissionv1.AdmissionResponse
	attrs    []any // for the log line
	err      error
}

// ServeHTTP answers one AdmissionReview.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "tinit-inject: POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.fail(w, start, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: want application/json", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.c.MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		h.fail(w, start, http.StatusRequestEntityTooLarge, fmt.Errorf("request body over %d bytes", h.c.MaxBody))
		return
	}
	if err != nil {
		h.fail(w, start, http.StatusBadRequest, fmt.Errorf("read request body: %w", err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.c.Timeout)
	defer cancel()
	a := h.admit(ctx, body)
	if a.response == nil {
		h.fail(w, start, http.StatusBadRequest, a.err)
		return
	}
	out, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: reviewType,
		Response: a.response,
	})
	if err != nil { // cannot happen with these types; never fail the pod
		h.fail(w, start, http.StatusInternalServerError, fmt.Errorf("write AdmissionReview: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
	took := time.Since(start)
	h.c.Metrics.Admission(a.outcome, took)
	level := slog.LevelInfo
	switch {
	case a.err != nil:
		level = slog.LevelWarn
		a.attrs = append(a.attrs, "error", a.err.Error())
	case a.outcome == OutcomeIgnored:
		level = slog.LevelDebug
	}
	h.c.Log.Log(r.Context(), level, "admission", append(a.attrs, "outcome", a.outcome, "took", took.Round(time.Microsecond).String())...)
}

// fail answers a request that has no uid to answer with: an HTTP error,
// which failurePolicy Ignore turns into the pod admitted as it is.
func (h *Handler) fail(w http.ResponseWriter, start time.Time, code int, err error) {
	http.Error(w, "tinit-inject: "+err.Error(), code)
	h.c.Metrics.Admission(OutcomeError, time.Since(start))
	h.c.Log.Warn("admission not understood", "status", code, "error", err.Error())
}

var reviewType = metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}

// admit decodes a review and mutates its pod.
func (h *Handler) admit(ctx context.Context, body []byte) answer {
	rev, err := DecodeReview(body)
	if err != nil {
		uid := lenientUID(body)
		if uid == "" {
			return answer{outcome: OutcomeError, err: err}
		}
		return allowed(uid, OutcomeError, err, []any{"uid", uid})
	}
	req := rev.Request
	attrs := []any{"uid", string(req.UID), "pod", podName(req)}
	if !isPodCreate(req) {
		a := allowed(string(req.UID), OutcomeIgnored, nil, attrs)
		a.attrs = append(a.attrs, "kind", req.Kind.Kind, "operation", string(req.Operation))
		return a
	}
	var pod corev1.Pod
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(req.Object.Raw, &pod); err != nil {
		return allowed(string(req.UID), OutcomeError, fmt.Errorf("decode the pod: %w", err), attrs)
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	lookups := &podImages{h: h, pod: attrs}
	res, err := mutate.Mutate(ctx, &pod, h.c.Settings, lookups)
	if err != nil {
		return allowed(string(req.UID), OutcomeError, err, attrs)
	}
	patch, err := jsonpatch.Marshal(res.Patch)
	if err != nil {
		return allowed(string(req.UID), OutcomeError, err, attrs)
	}
	a := allowed(string(req.UID), string(res.Outcome), nil, attrs)
	if len(res.Patch) > 0 {
		pt := admissionv1.PatchTypeJSONPatch
		a.response.Patch, a.response.PatchType = patch, &pt
	}
	for _, s := range res.Skipped {
		a.response.Warnings = append(a.response.Warnings, warning("container "+s.Container+" left alone: "+s.Reason))
	}
	if res.Outcome == mutate.Unchanged {
		a.attrs = append(a.attrs, "why", res.Why)
	}
	if len(res.Wrapped) > 0 {
		a.attrs = append(a.attrs, "wrapped", strings.Join(res.Wrapped, ","))
	}
	if len(res.Skipped) > 0 {
		s := make([]string, len(res.Skipped))
		for i, sk := range res.Skipped {
			s[i] = sk.String()
		}
		a.attrs = append(a.attrs, "skipped", strings.Join(s, "; "))
	}
	return a
}

// allowed is an answer that admits the pod as it is, with a warning when
// err says why nothing was done.
func allowed(uid, outcome string, err error, attrs []any) answer {
	resp := &admissionv1.AdmissionResponse{UID: types.UID(uid), Allowed: true}
	if err != nil {
		resp.Warnings = []string{warning("not injected: " + err.Error())}
	}
	return answer{outcome: outcome, response: resp, attrs: attrs, err: err}
}

func warning(s string) string {
	s = "tinit-inject: " + s
	if len(s) > maxWarning {
		s = s[:maxWarning-3] + "..."
	}
	return s
}

// DecodeReview reads an AdmissionReview strictly: admission.k8s.io/v1,
// no unknown or duplicate field, field names in their case, a request
// with a uid.
func DecodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	var rev admissionv1.AdmissionReview
	strict, err := sigsjson.UnmarshalStrict(body, &rev)
	if err != nil {
		return nil, fmt.Errorf("decode AdmissionReview: %w", err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("decode AdmissionReview: %w", errors.Join(strict...))
	}
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("decode AdmissionReview: apiVersion %q kind %q: want admission.k8s.io/v1 AdmissionReview", rev.APIVersion, rev.Kind)
	}
	if rev.Request == nil {
		return nil, errors.New("decode AdmissionReview: no request")
	}
	if rev.Request.UID == "" {
		return nil, errors.New("decode AdmissionReview: the request has no uid")
	}
	return &rev, nil
}

// lenientUID finds the request's uid in a body DecodeReview refused, so
// that the answer can still say "allowed".
func lenientUID(body []byte) string {
	var v struct {
		Request struct {
			UID string `json:"uid"`
		} `json:"request"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return v.Request.UID
}

func isPodCreate(req *admissionv1.AdmissionRequest) bool {
	return req.Operation == admissionv1.Create && req.Resource.Group == "" && req.Resource.Resource == "pods" && req.SubResource == ""
}

// podName names the pod in log lines; a pod made from generateName has
// no name yet at admission.
func podName(req *admissionv1.AdmissionRequest) string {
	if req.Name != "" {
		return req.Namespace + "/" + req.Name
	}
	var meta struct {
		Metadata struct {
			Name, GenerateName string
		} `json:"metadata"`
	}
	json.Unmarshal(req.Object.Raw, &meta)
	if meta.Metadata.Name != "" {
		return req.Namespace + "/" + meta.Metadata.Name
	}
	return req.Namespace + "/" + meta.Metadata.GenerateName + "*"
}

// podImages is mutate.Images for one admission: the keychain is built
// from the cluster at the first lookup, and kept for the others.
type podImages struct {
	h     *Handler
	pod   []any
	built bool
	kc    authn.Keychain
}

func (p *podImages) Config(ctx context.Context, ref string, pull mutate.PullContext) (mutate.ImageConfig, error) {
	if p.h.c.Images == nil {
		return mutate.ImageConfig{}, errors.New("image lookups are not set up")
	}
	if !p.built {
		p.kc, p.built = p.h.keychain(ctx, pull, p.pod), true
	}
	return p.h.c.Images.Config(ctx, ref, p.kc)
}

// keychain reads the pod's pull secrets and its service account's, as
// the kubelet would use them to pull. What cannot be read is logged and
// left out.
func (h *Handler) keychain(ctx context.Context, pull mutate.PullContext, pod []any) authn.Keychain {
	k := &images.Keychain{}
	if h.c.Cluster == nil || pull.Namespace == "" {
		return k
	}
	names := append([]string{}, pull.PullSecrets...)
	sa, err := h.c.Cluster.ServiceAccount(ctx, pull.Namespace, pull.ServiceAccount)
	switch {
	case err == nil:
		for _, r := range sa.ImagePullSecrets {
			names = append(names, r.Name)
		}
	case apierrors.IsNotFound(err):
		// Not created yet, or none: the pod's own secrets are all there is.
	default:
		h.c.Log.Warn("read service account for pull secrets", append(pod, "serviceAccount", pull.ServiceAccount, "error", err.Error())...)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		s, err := h.c.Cluster.Secret(ctx, pull.Namespace, n)
		if err == nil {
			err = k.AddSecret(s)
		}
		if err != nil {
			h.c.Log.Warn("pull secret left out", append(pod, "secret", n, "error", err.Error())...)
		}
	}
	return k
}
