package images

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
)

// Keychain holds registry credentials read from docker config JSON, in
// the order they were added: the pod's own pull secrets first, then its
// service account's. It is a go-containerregistry authn.Keychain.
type Keychain struct {
	creds []cred
}

// cred is one "auths" entry: where it applies, and what it gives.
type cred struct {
	key  string // as written, for messages
	host string // lower case, may hold * per label
	port string
	path string // repository prefix, "" for the whole registry
	auth authn.AuthConfig
}

// dockerAuth is one entry of a docker config: "auth" is base64 of
// "user:password" and wins over the separate fields.
type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// Len is the number of credentials held.
func (k *Keychain) Len() int { return len(k.creds) }

// AddDockerConfigJSON adds the "auths" of a ~/.docker/config.json, or of
// a kubernetes.io/dockerconfigjson secret's .dockerconfigjson.
func (k *Keychain) AddDockerConfigJSON(data []byte) error {
	var cfg struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("read docker config JSON: %w", err)
	}
	return k.add(cfg.Auths)
}

// AddDockerCfg adds the entries of a legacy ~/.dockercfg, or of a
// kubernetes.io/dockercfg secret's .dockercfg: the same entries, with no
// "auths" around them.
func (k *Keychain) AddDockerCfg(data []byte) error {
	var auths map[string]dockerAuth
	if err := json.Unmarshal(data, &auths); err != nil {
		return fmt.Errorf("read .dockercfg: %w", err)
	}
	return k.add(auths)
}

// add adds entries in a stable order (a map has none).
func (k *Keychain) add(auths map[string]dockerAuth) error {
	keys := make([]string, 0, len(auths))
	for key := range auths {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var errs []error
	for _, key := range keys {
		a := auths[key]
		c, err := parseKey(key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.auth = authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			user, pass, ok := strings.Cut(string(raw), ":")
			if err != nil || !ok {
				errs = append(errs, fmt.Errorf("credentials for %q: \"auth\" is not base64 of user:password", key))
				continue
			}
			c.auth.Username, c.auth.Password = user, pass
		}
		k.creds = append(k.creds, c)
	}
	return errors.Join(errs...)
}

// dockerHub is what the keys of Docker Hub are called; references to it
// name index.docker.io.
var dockerHub = map[string]bool{"index.docker.io": true, "docker.io": true, "registry-1.docker.io": true, "registry.hub.docker.com": true}

// parseKey reads a key of "auths" as the kubelet does: an optional
// scheme, a host (globs per label: *.example.com), an optional port and
// repository path; "/v1/" and "/v2/" are API paths, not repositories.
func parseKey(key string) (cred, error) {
	s := strings.TrimSpace(key)
	for _, scheme := range []string{"https://", "http://"} {
		s = strings.TrimPrefix(s, scheme)
	}
	hostport, p, _ := strings.Cut(s, "/")
	p = strings.Trim(p, "/")
	if p == "v1" || p == "v2" {
		p = ""
	}
	host, port := hostport, ""
	if i := strings.LastIndex(hostport, ":"); i >= 0 && !strings.Contains(hostport[i:], "]") {
		host, port = hostport[:i], hostport[i+1:]
	}
	host = strings.ToLower(host)
	if host == "" {
		return cred{}, fmt.Errorf("credentials for %q: no registry host", key)
	}
	if dockerHub[host] {
		host = "index.docker.io"
	}
	return cred{key: key, host: host, port: port, path: p}, nil
}

// matches reports whether c applies to the registry host[:port] and the
// repository repo, and how specific it is (the path's length).
func (c cred) matches(registry, repo string) (int, bool) {
	host, port := registry, ""
	if i := strings.LastIndex(registry, ":"); i >= 0 && !strings.Contains(registry[i:], "]") {
		host, port = registry[:i], registry[i+1:]
	}
	host = strings.ToLower(host)
	if dockerHub[host] {
		host = "index.docker.io"
	}
	if port != c.port {
		return 0, false
	}
	want, got := strings.Split(c.host, "."), strings.Split(host, ".")
	if len(want) != len(got) {
		return 0, false
	}
	for i := range want {
		if ok, err := path.Match(want[i], got[i]); err != nil || !ok {
			return 0, false
		}
	}
	if c.path != "" && repo != c.path && !strings.HasPrefix(repo, c.path+"/") {
		return 0, false
	}
	return len(c.path), true
}

// Resolve gives the credentials for a registry or repository: the most
// specific entry that matches, the first added among equals; anonymous
// when none does.
func (k *Keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	registry := r.RegistryStr()
	repo := strings.TrimPrefix(strings.TrimPrefix(r.String(), registry), "/")
	best, bestLen := -1, -1
	for i, c := range k.creds {
		if n, ok := c.matches(registry, repo); ok && n > bestLen {
			best, bestLen = i, n
		}
	}
	if best < 0 {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(k.creds[best].auth), nil
}

// AddSecret adds a pull secret's credentials, as the kubelet reads them:
// .dockerconfigjson of a kubernetes.io/dockerconfigjson secret,
// .dockercfg of a kubernetes.io/dockercfg one. Other types hold none.
func (k *Keychain) AddSecret(s *corev1.Secret) error {
	var err error
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		err = k.AddDockerConfigJSON(s.Data[corev1.DockerConfigJsonKey])
	case corev1.SecretTypeDockercfg:
		err = k.AddDockerCfg(s.Data[corev1.DockerConfigKey])
	default:
		return fmt.Errorf("secret %s/%s: type %q holds no registry credentials (want %s or %s)", s.Namespace, s.Name, s.Type, corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg)
	}
	if err != nil {
		return fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// LoadDockerConfigDir reads DIR/config.json, as docker login writes it. A
// missing file is no credentials, not an error. Credential helpers
// (credsStore, credHelpers) are not run: they are named in the notes.
func LoadDockerConfigDir(dir string) (*Keychain, []string, error) {
	k := &Keychain{}
	file := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return k, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read docker config %s: %w", file, err)
	}
	if err := k.AddDockerConfigJSON(data); err != nil {
		return nil, nil, fmt.Errorf("docker config %s: %w", file, err)
	}
	var helpers struct {
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	var notes []string
	if json.Unmarshal(data, &helpers) == nil && (helpers.CredsStore != "" || len(helpers.CredHelpers) > 0) {
		notes = append(notes, fmt.Sprintf("%s names credential helpers (credsStore, credHelpers), which are not run: only its \"auths\" are used", file))
	}
	return k, notes, nil
}
