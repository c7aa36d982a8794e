package images

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/tinit/tinit/cmd/tinit-inject/internal/testregistry"
	"github.com/tinit/tinit/cmd/tinit-inject/mutate"
)

// counted is a Reader whose outcomes are counted.
func counted(t *testing.T, o Options) (*Reader, map[Outcome]int) {
	t.Helper()
	n := map[Outcome]int{}
	o.OnLookup = func(oc Outcome) { n[oc]++ }
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r, n
}

func keychainFor(t *testing.T, reg *testregistry.Registry) *Keychain {
	t.Helper()
	k := &Keychain{}
	if err := k.AddDockerConfigJSON(reg.DockerConfigJSON()); err != nil {
		t.Fatal(err)
	}
	return k
}

func has(reqs []string, prefix string) bool {
	for _, r := range reqs {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

func TestConfigOverTLSWithBasicAuthAndTheDigestCache(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true, User: "u", Password: "p"})
	reg.Push(t, "app:1", testregistry.Image{Entrypoint: []string{"/app"}, Cmd: []string{"--port", "80"}})
	r, n := counted(t, Options{CAFile: reg.CAFile})
	kc := keychainFor(t, reg)
	ctx := context.Background()
	reg.Requests()

	got, err := r.Config(ctx, reg.Host+"/app:1", kc)
	want := mutate.ImageConfig{Entrypoint: []string{"/app"}, Cmd: []string{"--port", "80"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("first lookup: %+v %v, want %+v", got, err, want)
	}
	first := reg.Requests()
	if !has(first, "HEAD /v2/app/manifests/1") || !has(first, "GET /v2/app/blobs/") {
		t.Errorf("a miss resolves the tag with HEAD and reads the config blob: %v", first)
	}

	got, err = r.Config(ctx, reg.Host+"/app:1", kc)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("second lookup: %+v %v", got, err)
	}
	second := reg.Requests()
	if !has(second, "HEAD /v2/app/manifests/1") || has(second, "GET /v2/app/blobs/") || has(second, "GET /v2/app/manifests/") {
		t.Errorf("a hit only resolves the tag: %v", second)
	}
	if n[Miss] != 1 || n[Hit] != 1 || n[Error] != 0 || r.Len() != 1 {
		t.Errorf("outcomes %v, cached %d", n, r.Len())
	}

	// The tag moves: a new digest, read again.
	reg.Push(t, "app:1", testregistry.Image{Entrypoint: []string{"/app2"}})
	got, err = r.Config(ctx, reg.Host+"/app:1", kc)
	if err != nil || !reflect.DeepEqual(got.Entrypoint, []string{"/app2"}) || n[Miss] != 2 {
		t.Errorf("after the tag moved: %+v %v %v", got, err, n)
	}
}

func TestConfigRefusals(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true, User: "u", Password: "p"})
	reg.Push(t, "app:1", testregistry.Image{Entrypoint: []string{"/app"}})
	wrong := &Keychain{}
	if err := wrong.AddDockerConfigJSON([]byte(`{"auths":{"` + reg.Host + `":{"username":"u","password":"nope"}}}`)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ca   string
		ref  string
		kc   authn.Keychain
		want string
	}{
		{"without credentials", reg.CAFile, reg.Host + "/app:1", nil, "401"},
		{"with a wrong password", reg.CAFile, reg.Host + "/app:1", wrong, "401"},
		{"for an image that is not there", reg.CAFile, reg.Host + "/app:2", keychainFor(t, reg), "resolve " + reg.Host + "/app:2"},
		{"without the registry's CA", "", reg.Host + "/app:1", keychainFor(t, reg), "certificate"},
		{"for a reference that does not parse", reg.CAFile, "UPPER/Case:?", keychainFor(t, reg), "image reference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, n := counted(t, Options{CAFile: tc.ca})
			_, err := r.Config(context.Background(), tc.ref, tc.kc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if n[Error] != 1 || r.Len() != 0 {
				t.Errorf("outcomes %v, cached %d", n, r.Len())
			}
		})
	}
}

func TestConfigPicksThePlatformFromAnIndex(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true})
	reg.PushIndex(t, "multi:1",
		testregistry.Image{OS: "windows", Arch: "amd64", Entrypoint: []string{"windows"}},
		testregistry.Image{Arch: "arm64", Entrypoint: []string{"arm64"}},
		testregistry.Image{Arch: "amd64", Entrypoint: []string{"amd64"}},
	)
	reg.PushIndex(t, "nolinux:1", testregistry.Image{OS: "windows", Entrypoint: []string{"windows"}})
	for _, tc := range []struct{ arch, ref, want string }{
		{"amd64", "multi:1", "amd64"},
		{"arm64", "multi:1", "arm64"},
		{"s390x", "multi:1", "arm64"}, // the first linux entry
		{"amd64", "nolinux:1", "has no linux image"},
	} {
		r, _ := counted(t, Options{CAFile: reg.CAFile, Arch: tc.arch})
		got, err := r.Config(context.Background(), reg.Host+"/"+tc.ref, nil)
		if err != nil {
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s on %s: %v, want %q", tc.ref, tc.arch, err, tc.want)
			}
			continue
		}
		if len(got.Entrypoint) != 1 || got.Entrypoint[0] != tc.want {
			t.Errorf("%s on %s: %+v, want %s", tc.ref, tc.arch, got, tc.want)
		}
	}
}

func TestConfigByDigestNeedsNoHead(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true})
	d := reg.Push(t, "app:1", testregistry.Image{Entrypoint: []string{"/app"}})
	r, n := counted(t, Options{CAFile: reg.CAFile})
	reg.Requests()
	for range 2 {
		if _, err := r.Config(context.Background(), reg.Host+"/app@"+d, nil); err != nil {
			t.Fatal(err)
		}
	}
	if reqs := reg.Requests(); has(reqs, "HEAD ") {
		t.Errorf("a digest was resolved: %v", reqs)
	}
	if n[Miss] != 1 || n[Hit] != 1 {
		t.Errorf("outcomes %v", n)
	}
}

func TestConfigWithoutHeadFallsBackToGet(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true})
	reg.Push(t, "app:1", testregistry.Image{Entrypoint: []string{"/app"}})
	reg.RefuseHead()
	r, _ := counted(t, Options{CAFile: reg.CAFile})
	if got, err := r.Config(context.Background(), reg.Host+"/app:1", nil); err != nil || got.Entrypoint[0] != "/app" {
		t.Fatalf("%+v %v", got, err)
	}
}

// A registry under a name that is no loopback address: plain HTTP only
// when it is named insecure.
func TestConfigInsecureRegistry(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	reg.Push(t, "app:1", testregistry.Image{Entrypoint: []string{"/app"}})
	_, port, _ := net.SplitHostPort(reg.Host)
	host := "registry.test:" + port
	dial := &net.Dialer{}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dial.DialContext(ctx, network, strings.Replace(addr, "registry.test", "127.0.0.1", 1))
	}
	secure, _ := counted(t, Options{Transport: tr})
	if _, err := secure.Config(context.Background(), host+"/app:1", nil); err == nil {
		t.Error("plain HTTP to a registry not named insecure")
	}
	insecure, _ := counted(t, Options{Transport: tr, Insecure: []string{"REGISTRY.test:" + port}})
	if got, err := insecure.Config(context.Background(), host+"/app:1", nil); err != nil || got.Entrypoint[0] != "/app" {
		t.Errorf("insecure registry: %+v %v", got, err)
	}
}

func TestConfigHonoursTheDeadline(t *testing.T) {
	block := make(chan struct{})
	srv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { close(block); srv.Close() })
	r, n := counted(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = r.Config(ctx, ln.Addr().String()+"/app:1", nil)
	if err == nil || time.Since(start) > 2*time.Second || n[Error] != 1 {
		t.Errorf("a registry that never answers: %v after %v", err, time.Since(start))
	}
}

func TestCacheIsBounded(t *testing.T) {
	l := newLRU(2)
	l.put("a", mutate.ImageConfig{Cmd: []string{"a"}})
	l.put("b", mutate.ImageConfig{Cmd: []string{"b"}})
	l.get("a") // b is now the oldest
	l.put("c", mutate.ImageConfig{Cmd: []string{"c"}})
	if _, ok := l.get("b"); ok {
		t.Error("the least recently used entry was kept")
	}
	for _, k := range []string{"a", "c"} {
		if c, ok := l.get(k); !ok || c.Cmd[0] != k {
			t.Errorf("%s: %+v %v", k, c, ok)
		}
	}
}

func TestNewRefusesABadCAFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	for _, f := range []string{bad, filepath.Join(t.TempDir(), "missing.pem")} {
		if _, err := New(Options{CAFile: f}); err == nil {
			t.Errorf("CA file %s accepted", f)
		}
	}
}
