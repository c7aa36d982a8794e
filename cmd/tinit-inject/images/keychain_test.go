package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
)

func user(t *testing.T, k *Keychain, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.Resolve(r.Context())
	if err != nil {
		t.Fatal(err)
	}
	if a == authn.Anonymous {
		return "anonymous"
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Username
}

func TestKeychainMatchesAsTheKubeletDoes(t *testing.T) {
	k := &Keychain{}
	err := k.AddDockerConfigJSON([]byte(`{"auths": {
		"https://index.docker.io/v1/": {"auth": "aHViOnB3"},
		"registry.example:5000": {"username": "port", "password": "pw"},
		"registry.example": {"username": "noport", "password": "pw"},
		"registry.example/team": {"username": "team", "password": "pw"},
		"registry.example/team/app": {"username": "app", "password": "pw"},
		"*.corp.example": {"username": "wild", "password": "pw"},
		"http://plain.example/v2/": {"username": "plain", "password": "pw"}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"nginx":                         "hub",
		"docker.io/library/nginx:1":     "hub",
		"registry.example:5000/x":       "port",
		"registry.example/x":            "noport",
		"registry.example/team/x":       "team",
		"registry.example/teamx/y":      "noport",
		"registry.example/team/app":     "app",
		"registry.example/team/app/sub": "app",
		"registry.example:5001/x":       "anonymous",
		"eu.corp.example/x":             "wild",
		"a.eu.corp.example/x":           "anonymous", // one label per *
		"plain.example/x":               "plain",
		"quay.io/x":                     "anonymous",
		"REGISTRY.example/team/app@sha256:" + strings.Repeat("a", 64): "app",
	} {
		if got := user(t, k, ref); got != want {
			t.Errorf("%s: credentials of %q, want %q", ref, got, want)
		}
	}
}

func TestKeychainFirstAddedWinsAmongEquals(t *testing.T) {
	k := &Keychain{}
	k.AddDockerConfigJSON([]byte(`{"auths": {"r.example": {"username": "pod", "password": "x"}}}`))
	k.AddDockerCfg([]byte(`{"r.example": {"username": "sa", "password": "x"}}`))
	if got := user(t, k, "r.example/x"); got != "pod" || k.Len() != 2 {
		t.Errorf("%q of %d", got, k.Len())
	}
}

func TestKeychainRefusals(t *testing.T) {
	for _, data := range []string{`not json`, `{"auths": {"r.example": {"auth": "!!"}}}`, `{"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}}`, `{"auths": {"": {}}}`} {
		if err := (&Keychain{}).AddDockerConfigJSON([]byte(data)); err == nil {
			t.Errorf("%s accepted", data)
		}
	}
}

func TestAddSecret(t *testing.T) {
	cfg := []byte(`{"auths": {"r.example": {"username": "u", "password": "p"}}}`)
	for _, tc := range []struct {
		s  corev1.Secret
		ok bool
	}{
		{corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg}}, true},
		{corev1.Secret{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{corev1.DockerConfigKey: []byte(`{"r.example": {"username": "u", "password": "p"}}`)}}, true},
		{corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg}}, false},
		{corev1.Secret{Type: corev1.SecretTypeDockerConfigJson}, false},
	} {
		k := &Keychain{}
		err := k.AddSecret(&tc.s)
		if (err == nil) != tc.ok || (tc.ok && user(t, k, "r.example/x") != "u") {
			t.Errorf("secret of type %s: %v", tc.s.Type, err)
		}
	}
}

func TestLoadDockerConfigDir(t *testing.T) {
	k, notes, err := LoadDockerConfigDir(filepath.Join(t.TempDir(), "none"))
	if err != nil || k.Len() != 0 || notes != nil {
		t.Errorf("a missing directory: %v %d %v", err, k.Len(), notes)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths": {"r.example": {"auth": "dTpw"}}, "credsStore": "desktop"}`), 0o600)
	k, notes, err = LoadDockerConfigDir(dir)
	if err != nil || user(t, k, "r.example/x") != "u" || len(notes) != 1 || !strings.Contains(notes[0], "credsStore") {
		t.Errorf("%v %v", err, notes)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{`), 0o600)
	if _, _, err := LoadDockerConfigDir(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("a broken config.json: %v", err)
	}
}
