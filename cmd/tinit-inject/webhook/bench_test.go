package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/tinit/tinit/cmd/tinit-inject/images"
	"github.com/tinit/tinit/cmd/tinit-inject/internal/testregistry"
)

// BenchmarkAdmission measures one admission in process: the handler
// decoding the review, the pull secrets read from a fake cluster, the
// image's config read from an in-process registry over TLS with basic
// auth (go-containerregistry's, on loopback), the patch and the answer.
//
//	hit:     the tag resolves (ping, HEAD) to a digest whose config is cached
//	miss:    the cache is empty: ping, HEAD, manifest, config blob
//	command: a pod with a command: no lookup, the handler alone
//
// The transport is shared, as one Reader's is for the life of the
// process, so connections are kept alive across admissions; the
// credentials are per admission, so every one pings and authenticates.
func BenchmarkAdmission(b *testing.B) {
	reg := testregistry.Start(b, testregistry.Options{TLS: true, User: "u", Password: "p"})
	reg.Push(b, "app:1", testregistry.Image{Entrypoint: []string{"/app/server"}, Cmd: []string{"--port", "8080"}})
	cluster := &fakeCluster{
		sas:  map[string]*corev1.ServiceAccount{},
		secs: map[string]*corev1.Secret{"shop/pull": dockerSecret("shop", "pull", reg.Host, "u")},
	}
	cluster.secs["shop/pull"].Data[corev1.DockerConfigJsonKey] = reg.DockerConfigJSON()
	lookup := review(b, admissionv1.Create, "pods", "", podJSON(b,
		`{"metadata":{"name":"web"},"spec":{"imagePullSecrets":[{"name":"pull"}],"containers":[{"name":"app","image":"`+reg.Host+`/app:1"}]}}`))
	command := review(b, admissionv1.Create, "pods", "", podJSON(b,
		`{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"`+reg.Host+`/app:1","command":["/app/server"]}]}}`))

	newHandler := func(m *Metrics) (*Handler, *images.Reader) {
		r, err := images.New(images.Options{Transport: reg.Transport, OnLookup: func(o images.Outcome) { m.Lookup(string(o)) }})
		if err != nil {
			b.Fatal(err)
		}
		return New(Config{Settings: settings, Images: r, Cluster: cluster, Metrics: m}), r
	}
	admit := func(b *testing.B, h http.Handler, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	run := func(b *testing.B, body []byte, fresh bool, want string) {
		m := NewMetrics("bench")
		h, _ := newHandler(m)
		admit(b, h, body) // warm: connections, and for a hit the cache
		reg.Requests()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if fresh {
				b.StopTimer()
				h, _ = newHandler(m)
				b.StartTimer()
			}
			admit(b, h, body)
		}
		b.StopTimer()
		b.ReportMetric(float64(len(reg.Requests()))/float64(b.N), "registry-requests/op")
		if got := m.Lookups(want); want != "" && got < uint64(b.N) {
			b.Fatalf("%d lookups with outcome %s in %d admissions", got, want, b.N)
		}
		if m.Admissions("injected") != uint64(b.N)+1 {
			b.Fatalf("%d injected of %d", m.Admissions("injected"), b.N+1)
		}
	}
	b.Run("hit", func(b *testing.B) { run(b, lookup, false, "hit") })
	b.Run("miss", func(b *testing.B) { run(b, lookup, true, "miss") })
	b.Run("command", func(b *testing.B) { run(b, command, false, "") })
}
