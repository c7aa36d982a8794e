package nodetest

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestRegistry pushes a small image to the node's registry and reads its
// config back with the credentials; without them the registry refuses.
// It needs the registry of `.ci/kube/node exec` and skips without it.
func TestRegistry(t *testing.T) {
	if os.Getenv(RegistryEnv) == "" {
		t.Skipf("%s is not set: run on the node (.ci/kube/node exec)", RegistryEnv)
	}
	r, err := RegistryFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	img := &Image{
		Ref:        "tinit-test/registry-check:dev",
		Files:      []File{{Path: "/hello", Mode: 0o644, Data: []byte("hello\n")}},
		Entrypoint: []string{"/bin/true", "$(NOT_EXPANDED)"},
		Cmd:        []string{"an", "arg"},
	}
	tar, err := img.WriteCached(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	digest, err := r.PushTar(tar, img.Ref)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := r.Config(img.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Entrypoint, img.Entrypoint) || !slices.Equal(cfg.Config.Cmd, img.Cmd) {
		t.Errorf("config read back: entrypoint %q cmd %q, want %q %q", cfg.Config.Entrypoint, cfg.Config.Cmd, img.Entrypoint, img.Cmd)
	}
	ref, err := name.ParseReference(r.Ref(img.Ref))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(ref, r.Options(true)...); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("an anonymous read: %v, want UNAUTHORIZED", err)
	}
	t.Logf("pushed %s as %s", r.Ref(img.Ref), digest)
}
