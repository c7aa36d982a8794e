package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImageArchive packs the Dockerfile as make inject-image-tar does
// (.ci/ociimage -docker-archive) and reads the tar back with
// go-containerregistry's docker-archive reader: the tag, the config's
// ENTRYPOINT, CMD and USER, and the binary at /tinit-inject, 0755.
func TestImageArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go run")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, _ := filepath.Abs("../..")
	packer := filepath.Join(root, ".ci", "ociimage", "main.go")
	if _, err := os.Stat(packer); err != nil {
		t.Skip("not inside tinit's checkout")
	}
	ctx := t.TempDir()
	os.MkdirAll(filepath.Join(ctx, "bin"), 0o755)
	binary := []byte("#!/bin/false\nnot really a binary\n")
	os.WriteFile(filepath.Join(ctx, "bin", "tinit-inject"), binary, 0o755)
	out := filepath.Join(t.TempDir(), "image.tar")
	cmd := exec.Command(goBin, "run", packer, "-docker-archive", out, "-f", "Dockerfile", "-context", ctx,
		"-platform", "linux/arm64", "-tag", "tinit-inject:dev", "-build-arg", "VERSION=v9")
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	tag, _ := name.NewTag("tinit-inject:dev")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !reflect.DeepEqual(c.Entrypoint, []string{"/tinit-inject"}) || !reflect.DeepEqual(c.Cmd, []string{"serve"}) || c.User != "65532" ||
		cf.Architecture != "arm64" || cf.OS != "linux" || c.Labels["org.opencontainers.image.version"] != "v9" {
		t.Errorf("config %+v", cf)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers: %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "tinit-inject" {
			data, _ := io.ReadAll(tr)
			found = bytes.Equal(data, binary) && h.Mode == 0o755 && h.Uid == 0
		}
	}
	if !found {
		t.Error("no /tinit-inject, mode 0755, owned by root, with the binary's bytes")
	}
}
