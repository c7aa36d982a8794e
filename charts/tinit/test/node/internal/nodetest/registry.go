package nodetest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The node's registry, as `.ci/kube/node exec` describes it.
const (
	RegistryEnv         = "TINIT_KUBE_REGISTRY"          // host:port
	RegistryCAEnv       = "TINIT_KUBE_REGISTRY_CA"       // the CA file (PEM)
	RegistryUserEnv     = "TINIT_KUBE_REGISTRY_USER"     // htpasswd user
	RegistryPasswordEnv = "TINIT_KUBE_REGISTRY_PASSWORD" // and password
)

// Registry is the node's image registry (Debian's docker-registry, TLS
// from a CA of the harness's own, htpasswd auth), started by the
// harness's up.
type Registry struct {
	Host     string // host:port, e.g. 10.217.0.1:5000
	CAFile   string
	CA       []byte // CAFile's PEM
	User     string
	Password string

	transport http.RoundTripper
}

// RegistryFromEnv reads the registry's address, CA and credentials from
// the environment node exec sets.
func RegistryFromEnv() (*Registry, error) {
	r := &Registry{
		Host:     os.Getenv(RegistryEnv),
		CAFile:   os.Getenv(RegistryCAEnv),
		User:     os.Getenv(RegistryUserEnv),
		Password: os.Getenv(RegistryPasswordEnv),
	}
	var missing []string
	for _, v := range [][2]string{{RegistryEnv, r.Host}, {RegistryCAEnv, r.CAFile}, {RegistryUserEnv, r.User}, {RegistryPasswordEnv, r.Password}} {
		if v[1] == "" {
			missing = append(missing, v[0])
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s not set: the node's exec sets them (a node started by an older .ci/kube/node has no registry: up again)", strings.Join(missing, ", "))
	}
	ca, err := os.ReadFile(r.CAFile)
	if err != nil {
		return nil, fmt.Errorf("the registry's CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("the registry's CA %s holds no PEM certificate", r.CAFile)
	}
	r.CA = ca
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	r.transport = t
	return r, nil
}

// Ref is ref (as the tests name an image, e.g. tinit:dev) in the
// registry: HOST:PORT/tinit:dev.
func (r *Registry) Ref(ref string) string { return r.Host + "/" + ref }

// ImageValues is a chart's image block for ref in the registry (pulled
// if not present, with the pull secret).
func (r *Registry) ImageValues(ref string) map[string]any {
	repo, tag := SplitRef(r.Ref(ref))
	return map[string]any{"repository": repo, "tag": tag, "pullPolicy": "IfNotPresent"}
}

// Options are go-containerregistry's remote options for the registry:
// its CA, the credentials (or none, anonymous).
func (r *Registry) Options(anonymous bool) []remote.Option {
	var auth authn.Authenticator = &authn.Basic{Username: r.User, Password: r.Password}
	if anonymous {
		auth = authn.Anonymous
	}
	return []remote.Option{remote.WithTransport(r.transport), remote.WithAuth(auth)}
}

// PushTar pushes the image of a docker-archive tar (its single RepoTag)
// to the registry as Ref(ref), and returns the pushed digest.
func (r *Registry) PushTar(tarPath, ref string) (v1.Hash, error) {
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading %s: %w", tarPath, err)
	}
	dst, err := name.ParseReference(r.Ref(ref), name.StrictValidation)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(dst, img, r.Options(false)...); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", dst, err)
	}
	return img.Digest()
}

// Config reads an image's config file from the registry, as the
// injector does.
func (r *Registry) Config(ref string) (*v1.ConfigFile, error) {
	src, err := name.ParseReference(r.Ref(ref), name.StrictValidation)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(src, r.Options(false)...)
	if err != nil {
		return nil, err
	}
	return img.ConfigFile()
}

// DockerConfigJSON is a docker config.json holding the registry's
// credentials: a pull secret's .dockerconfigjson, or ~/.docker/config.json.
func (r *Registry) DockerConfigJSON() []byte {
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{r.Host: map[string]string{
		"username": r.User,
		"password": r.Password,
		"auth":     base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Password)),
	}}})
	return b
}

// WriteDockerConfig writes DockerConfigJSON as DIR/config.json in a new
// directory under parent and returns DIR (for a --docker-config flag).
func (r *Registry) WriteDockerConfig(parent string) (string, error) {
	dir, err := os.MkdirTemp(parent, "docker-config-")
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), r.DockerConfigJSON(), 0o600)
}

// PullSecret is a kubernetes.io/dockerconfigjson Secret for the
// registry.
func (r *Registry) PullSecret(name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: r.DockerConfigJSON()},
	}
}

var registryOnce struct {
	once sync.Once
	reg  *Registry
	err  error
}

// Registry pushes every image Main built (tinit:dev and the app images,
// under the names the tests use: REGISTRY/tinit:dev...) and the extra
// tars given (ref to a docker-archive tar) to the node's registry, once
// per test binary, and returns the registry. A registry that restarted
// with the node is empty: the first call of each test binary pushes
// again (blobs already there are not sent twice).
func (e *Env) Registry(extra map[string]string) (*Registry, error) {
	registryOnce.once.Do(func() {
		registryOnce.reg, registryOnce.err = e.pushAll(extra)
	})
	return registryOnce.reg, registryOnce.err
}

func (e *Env) pushAll(extra map[string]string) (*Registry, error) {
	r, err := RegistryFromEnv()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	all := map[string]string{}
	for ref, p := range e.tars {
		all[ref] = p
	}
	for ref, p := range extra {
		all[ref] = p
	}
	if len(all) == 0 {
		return nil, errors.New("no images to push: Main built none")
	}
	var refs []string
	for ref, p := range all {
		if _, err := r.PushTar(p, ref); err != nil {
			return nil, err
		}
		refs = append(refs, r.Ref(ref))
	}
	logf("pushed %s in %s", strings.Join(refs, ", "), time.Since(t0).Round(time.Millisecond))
	return r, nil
}
