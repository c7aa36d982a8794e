// Package testregistry runs an in-process OCI registry for tests and
// benchmarks: go-containerregistry's pkg/registry behind httptest, with
// TLS from httptest's own certificate (written out as a CA file) and
// HTTP basic auth, and a log of the requests it served. Only tests
// import it.
package testregistry

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	ggcrmutate "github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options choose how the registry serves.
type Options struct {
	TLS            bool
	User, Password string // basic auth when User is set
}

// Registry is a running test registry.
type Registry struct {
	Host      string // 127.0.0.1:PORT
	CAFile    string // the server's certificate as PEM, with TLS
	Transport http.RoundTripper
	opts      Options
	noHead    atomic.Bool
	mu        sync.Mutex
	requests  []string
}

// Start runs a registry until the test ends.
func Start(t testing.TB, o Options) *Registry {
	t.Helper()
	r := &Registry{opts: o}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		if o.User != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != o.User || p != o.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="testregistry"`)
				w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		if r.noHead.Load() && req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/manifests/") {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		inner.ServeHTTP(w, req)
	})
	srv := httptest.NewUnstartedServer(h)
	// go-containerregistry tries plain HTTP beside HTTPS on a loopback
	// address: the server's complaints about it are no news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if o.TLS {
		srv.StartTLS()
		cert := srv.Certificate()
		r.CAFile = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(r.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(strings.TrimPrefix(srv.URL, "https://"), "http://")
	r.Transport = srv.Client().Transport
	return r
}

// Image is what a pushed image's config says, for one platform.
type Image struct {
	OS, Arch        string // linux/amd64 when empty
	Entrypoint, Cmd []string
}

func (r *Registry) image(t testing.TB, im Image) v1.Image {
	t.Helper()
	if im.OS == "" {
		im.OS = "linux"
	}
	if im.Arch == "" {
		im.Arch = "amd64"
	}
	img, err := ggcrmutate.ConfigFile(empty.Image, &v1.ConfigFile{
		OS: im.OS, Architecture: im.Arch,
		Config: v1.Config{Entrypoint: im.Entrypoint, Cmd: im.Cmd},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func (r *Registry) options() []remote.Option {
	o := []remote.Option{remote.WithTransport(r.Transport)}
	if r.opts.User != "" {
		o = append(o, remote.WithAuth(&authn.Basic{Username: r.opts.User, Password: r.opts.Password}))
	}
	return o
}

// Push writes one image at repo:tag and returns its digest.
func (r *Registry) Push(t testing.TB, repoTag string, im Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	img := r.image(t, im)
	if err := remote.Write(ref, img, r.options()...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// PushIndex writes an index of one image per entry, in order, at
// repo:tag and returns its digest.
func (r *Registry) PushIndex(t testing.TB, repoTag string, ims ...Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.ImageIndex = empty.Index
	for _, im := range ims {
		img := r.image(t, im)
		cf, _ := img.ConfigFile()
		idx = ggcrmutate.AppendManifests(idx, ggcrmutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}},
		})
	}
	if err := remote.WriteIndex(ref, idx, r.options()...); err != nil {
		t.Fatalf("push index %s: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// RefuseHead makes HEAD of a manifest answer 405 from now on, as a few
// registries do.
func (r *Registry) RefuseHead() { r.noHead.Store(true) }

// Requests returns the requests served since the last call ("HEAD
// /v2/app/manifests/1"), and forgets them.
func (r *Registry) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.requests
	r.requests = nil
	return out
}

// DockerConfigJSON is a docker config with this registry's credentials,
// as a kubernetes.io/dockerconfigjson secret holds it.
func (r *Registry) DockerConfigJSON() []byte {
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{
		r.Host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(r.opts.User + ":" + r.opts.Password))},
	}})
	return b
}

// String names the registry in test logs.
func (r *Registry) String() string {
	return fmt.Sprintf("test registry %s (tls=%v)", r.Host, r.opts.TLS)
}
