package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jsonpatchv5 "github.com/evanphx/json-patch/v5"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"

	"github.com/tinit/tinit/cmd/tinit-inject/mutate"
)

var settings = mutate.Settings{Image: "tinit:v1", Version: "v1"}

// fakeCluster serves service accounts and secrets from maps.
type fakeCluster struct {
	mu    sync.Mutex
	sas   map[string]*corev1.ServiceAccount // by namespace/name
	secs  map[string]*corev1.Secret
	reads int
}

func (f *fakeCluster) ServiceAccount(_ context.Context, ns, n string) (*corev1.ServiceAccount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if sa, ok := f.sas[ns+"/"+n]; ok {
		return sa, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, n)
}

func (f *fakeCluster) Secret(_ context.Context, ns, n string) (*corev1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if s, ok := f.secs[ns+"/"+n]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, n)
}

func dockerSecret(ns, n, registry, user string) *corev1.Secret {
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{registry: map[string]string{"username": user, "password": "pw"}}})
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: cfg},
	}
}

// fakeReader answers every lookup with the same config, after block
// (if set) or the context ends; it records the user the keychain gives.
type fakeReader struct {
	mu    sync.Mutex
	users []string
	block chan struct{}
	err   error
}

func (f *fakeReader) Config(ctx context.Context, ref string, kc authn.Keychain) (mutate.ImageConfig, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return mutate.ImageConfig{}, err
	}
	a, err := kc.Resolve(r.Context())
	if err != nil {
		return mutate.ImageConfig{}, err
	}
	cfg, _ := a.Authorization()
	f.mu.Lock()
	f.users = append(f.users, cfg.Username)
	f.mu.Unlock()
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return mutate.ImageConfig{}, ctx.Err()
		}
	}
	if f.err != nil {
		return mutate.ImageConfig{}, f.err
	}
	return mutate.ImageConfig{Entrypoint: []string{"/app"}, Cmd: []string{"serve"}}, nil
}

func podJSON(t testing.TB, y string) []byte {
	t.Helper()
	var p corev1.Pod
	if err := json.Unmarshal([]byte(y), &p); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// review builds an AdmissionReview body.
func review(t testing.TB, op admissionv1.Operation, resource, sub string, obj []byte) []byte {
	t.Helper()
	rev := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:         "0b0e-uid",
			Kind:        metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:    metav1.GroupVersionResource{Version: "v1", Resource: resource},
			SubResource: sub,
			Namespace:   "shop",
			Operation:   op,
			Object:      runtime.RawExtension{Raw: obj},
		},
	}
	b, err := json.Marshal(rev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t testing.TB, h http.Handler, body []byte, contentType string) (*httptest.ResponseRecorder, *admissionv1.AdmissionReview) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		return w, nil
	}
	var rev admissionv1.AdmissionReview
	if strict, err := sigsjson.UnmarshalStrict(w.Body.Bytes(), &rev); err != nil || len(strict) > 0 {
		t.Fatalf("answer does not decode: %v %v\n%s", err, strict, w.Body)
	}
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" || rev.Response == nil || !rev.Response.Allowed {
		t.Fatalf("answer is not an allowed AdmissionReview: %s", w.Body)
	}
	return w, &rev
}

const appPod = `{"metadata":{"name":"web","labels":{"tinit.dev/inject":"true"}},"spec":{"imagePullSecrets":[{"name":"mine"}],"containers":[{"name":"app","image":"r.example/app:1"}]}}`

func TestAdmission(t *testing.T) {
	cluster := &fakeCluster{
		sas:  map[string]*corev1.ServiceAccount{"shop/default": {ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-secret"}, {Name: "mine"}, {Name: "gone"}}}},
		secs: map[string]*corev1.Secret{"shop/mine": dockerSecret("shop", "mine", "r.example", "pod-user"), "shop/sa-secret": dockerSecret("shop", "sa-secret", "r.example", "sa-user")},
	}
	withCommand := podJSON(t, `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"r.example/app:1","command":["/app"]}]}}`)
	for _, tc := range []struct {
		name     string
		body     []byte
		ctype    string
		reader   *fakeReader
		status   int
		outcome  string
		patched  bool
		warning  string // a warning containing this
		users    []string
		noLookup bool
	}{
		{name: "a pod at CREATE without a command is injected, looked up with the pod's pull secret", body: review(t, admissionv1.Create, "pods", "", podJSON(t, appPod)),
			status: 200, outcome: "injected", patched: true, users: []string{"pod-user"}},
		{name: "a pod with a command is injected without reading the cluster", body: review(t, admissionv1.Create, "pods", "", withCommand),
			status: 200, outcome: "injected", patched: true, noLookup: true},
		{name: "an UPDATE is ignored", body: review(t, admissionv1.Update, "pods", "", podJSON(t, appPod)), status: 200, outcome: OutcomeIgnored, noLookup: true},
		{name: "a subresource is ignored", body: review(t, admissionv1.Create, "pods", "binding", podJSON(t, appPod)), status: 200, outcome: OutcomeIgnored, noLookup: true},
		{name: "another resource is ignored", body: review(t, admissionv1.Create, "deployments", "", []byte(`{}`)), status: 200, outcome: OutcomeIgnored, noLookup: true},
		{name: "an opted-out pod is unchanged", body: review(t, admissionv1.Create, "pods", "", podJSON(t, `{"metadata":{"labels":{"tinit.dev/inject":"false"}},"spec":{"containers":[{"name":"a","image":"x"}]}}`)),
			status: 200, outcome: "unchanged", noLookup: true},
		{name: "an image that cannot be read skips its container with a warning", body: review(t, admissionv1.Create, "pods", "", podJSON(t, appPod)),
			reader: &fakeReader{err: errors.New("UNAUTHORIZED")}, status: 200, outcome: "skipped", patched: true, warning: "container app left alone: image r.example/app:1: UNAUTHORIZED"},
		{name: "a pod that does not decode is allowed with a warning", body: review(t, admissionv1.Create, "pods", "", []byte(`{"spec":{"containers":"no"}}`)),
			status: 200, outcome: OutcomeError, warning: "not injected: decode the pod"},
		{name: "an unknown field is refused, and the pod allowed", body: bytes.Replace(review(t, admissionv1.Create, "pods", "", withCommand), []byte(`"request":{`), []byte(`"request":{"surprise":1,`), 1),
			status: 200, outcome: OutcomeError, warning: `unknown field "request.surprise"`},
		{name: "a duplicate field is refused, and the pod allowed", body: bytes.Replace(review(t, admissionv1.Create, "pods", "", withCommand), []byte(`"request":{`), []byte(`"request":{"namespace":"x",`), 1),
			status: 200, outcome: OutcomeError, warning: "duplicate field"},
		{name: "a field in the wrong case is refused, and the pod allowed", body: bytes.Replace(review(t, admissionv1.Create, "pods", "", withCommand), []byte(`"operation"`), []byte(`"Operation"`), 1),
			status: 200, outcome: OutcomeError, warning: `unknown field "request.Operation"`},
		{name: "admission.k8s.io/v1beta1 is refused, and the pod allowed", body: bytes.Replace(review(t, admissionv1.Create, "pods", "", withCommand), []byte(`admission.k8s.io/v1"`), []byte(`admission.k8s.io/v1beta1"`), 1),
			status: 200, outcome: OutcomeError, warning: "want admission.k8s.io/v1 AdmissionReview"},
		{name: "a body without a uid is an HTTP error", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`), status: 400, outcome: OutcomeError},
		{name: "a body that is not JSON is an HTTP error", body: []byte(`<xml/>`), status: 400, outcome: OutcomeError},
		{name: "trailing data is an HTTP error", body: append(review(t, admissionv1.Create, "pods", "", withCommand), []byte(`{}`)...), status: 400, outcome: OutcomeError},
		{name: "a body over the limit is 413", body: append(review(t, admissionv1.Create, "pods", "", withCommand), bytes.Repeat([]byte(" "), DefaultMaxBody)...), status: 413, outcome: OutcomeError},
		{name: "another content type is 415", body: review(t, admissionv1.Create, "pods", "", withCommand), ctype: "application/yaml", status: 415, outcome: OutcomeError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.reader == nil {
				tc.reader = &fakeReader{}
			}
			if tc.ctype == "" {
				tc.ctype = "application/json; charset=utf-8"
			}
			cluster.reads = 0
			m := NewMetrics("v1")
			h := New(Config{Settings: settings, Images: tc.reader, Cluster: cluster, Metrics: m})
			w, rev := post(t, h, tc.body, tc.ctype)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if m.Admissions(tc.outcome) != 1 {
				t.Errorf("outcome %s not counted once: %+v", tc.outcome, m.admissions)
			}
			if tc.noLookup && (cluster.reads != 0 || len(tc.reader.users) != 0) {
				t.Errorf("%d cluster reads, %d lookups", cluster.reads, len(tc.reader.users))
			}
			if tc.users != nil && strings.Join(tc.reader.users, ",") != strings.Join(tc.users, ",") {
				t.Errorf("looked up as %v, want %v", tc.reader.users, tc.users)
			}
			if rev == nil {
				return
			}
			r := rev.Response
			if r.UID != "0b0e-uid" {
				t.Errorf("uid %q", r.UID)
			}
			if tc.patched != (r.Patch != nil) || (r.Patch != nil) != (r.PatchType != nil) || (r.PatchType != nil && *r.PatchType != admissionv1.PatchTypeJSONPatch) {
				t.Fatalf("patch %s type %v", r.Patch, r.PatchType)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q, want one with %q", r.Warnings, tc.warning)
			}
			if r.Patch != nil {
				var req admissionv1.AdmissionReview
				json.Unmarshal(tc.body, &req)
				p, err := jsonpatchv5.DecodePatch(r.Patch)
				if err != nil {
					t.Fatal(err)
				}
				out, err := p.Apply(req.Request.Object.Raw)
				if err != nil {
					t.Fatalf("apply: %v", err)
				}
				var pod corev1.Pod
				if strict, err := sigsjson.UnmarshalStrict(out, &pod); err != nil || len(strict) > 0 {
					t.Fatalf("patched pod: %v %v", err, strict)
				}
				if tc.outcome == "injected" && pod.Annotations[mutate.AnnotationInjected] != "v1" {
					t.Errorf("annotations %v", pod.Annotations)
				}
			}
		})
	}
}

func TestAdmissionKeepsItsDeadline(t *testing.T) {
	reader := &fakeReader{block: make(chan struct{})}
	defer close(reader.block)
	h := New(Config{Settings: settings, Images: reader, Timeout: 100 * time.Millisecond})
	start := time.Now()
	_, rev := post(t, h, review(t, admissionv1.Create, "pods", "", podJSON(t, appPod)), "application/json")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %v with a 100ms deadline", took)
	}
	if rev == nil || !strings.Contains(strings.Join(rev.Response.Warnings, ""), "deadline exceeded") {
		t.Errorf("answer %+v", rev)
	}
}

func TestAdmissionOnlyPOST(t *testing.T) {
	h := Mux(New(Config{Settings: settings}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/mutate", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/other", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("POST /other: %d", w.Code)
	}
}

func TestMetricsParse(t *testing.T) {
	m := NewMetrics("v1.2.3")
	m.Admission("injected", 3*time.Millisecond)
	m.Admission("error", 2*time.Second)
	m.Lookup("hit")
	srv := httptest.NewServer(HealthMux(m))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("not Prometheus text: %v", err)
	}
	count := func(fam, outcome string) float64 {
		for _, mm := range fams[fam].GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return mm.GetCounter().GetValue()
				}
			}
		}
		return -1
	}
	for fam, want := range map[string]map[string]float64{
		"tinit_inject_admissions_total":    {"injected": 1, "error": 1, "skipped": 0, "unchanged": 0, "ignored": 0},
		"tinit_inject_image_lookups_total": {"hit": 1, "miss": 0, "error": 0},
	} {
		for o, n := range want {
			if got := count(fam, o); got != n {
				t.Errorf("%s{outcome=%q} = %v, want %v", fam, o, got, n)
			}
		}
	}
	h := fams["tinit_inject_admission_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() < 2 {
		t.Errorf("histogram count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 0.003 {
			want = 1
		}
		if b.GetUpperBound() >= 2 {
			want = 2
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz: %v %v", resp, err)
	}
}

func TestLogLinesArePrefixed(t *testing.T) {
	var b bytes.Buffer
	log := NewLogger(&b, 0)
	log.Info("admission", "pod", "shop/web", "outcome", "injected")
	log.Info("two\nlines")
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, LogPrefix+"time=") {
			t.Errorf("line %q", line)
		}
	}
	if !strings.Contains(b.String(), `msg=admission pod=shop/web outcome=injected`) {
		t.Errorf("%s", b.String())
	}
}
