package main_test

// make images: one image per release architecture and an OCI image index
// over them, written as an OCI image layout by .ci/ociimage from the
// binaries of this run's one make release (releaseDist). Checked here by
// reading the layout as a registry client would: every blob against its
// digest, each manifest's platform against its config and against the
// ELF machine of the binary its layer holds.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *ociPlatform      `json:"platform"`
	Annotations map[string]string `json:"annotations"`
}

type ociPlatform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant"`
}

type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        ociDescriptor     `json:"config"`
	Layers        []ociDescriptor   `json:"layers"`
	Annotations   map[string]string `json:"annotations"`
}

type ociConfig struct {
	Created      string `json:"created"`
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant"`
	Config       struct {
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// makeImageLayout runs make image-layout over the binaries in dist, as
// make images does after make release, writing the layout to out.
func makeImageLayout(t *testing.T, dist, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", repoRoot(t), "image-layout", "DIST="+dist, "OCI_LAYOUT="+out, archesVar(t))
	// As makeRelease: the make a user runs, not the outer make test's.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VERSION", "COMMIT", "SOURCE_DATE_EPOCH", "DIST", "OCI_LAYOUT"}, k)
	})
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image-layout: %v\n%s", err, b)
	}
}

// readBlob reads a blob of the layout and checks it against its descriptor.
func readBlob(t *testing.T, layout string, d ociDescriptor, mediaType string) []byte {
	t.Helper()
	if d.MediaType != mediaType {
		t.Fatalf("%s: media type %q, want %q", d.Digest, d.MediaType, mediaType)
	}
	hexSum, ok := strings.CutPrefix(d.Digest, "sha256:")
	if !ok {
		t.Fatalf("digest %q is not sha256", d.Digest)
	}
	b, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", hexSum))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexSum || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: %d bytes with digest %x, want %d bytes", d.Digest, len(b), sum, d.Size)
	}
	return b
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// layerFiles unpacks a gzip'd tar layer, checking it against its diff_id.
type layerFile struct {
	hdr  *tar.Header
	data []byte
}

func layerFiles(t *testing.T, layer []byte, diffID string) map[string]layerFile {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); "sha256:"+hex.EncodeToString(sum[:]) != diffID {
		t.Fatalf("layer's uncompressed digest sha256:%x, config's diff_id %s", sum, diffID)
	}
	files := map[string]layerFile{}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = layerFile{h, data}
	}
	return files
}

// imageLabels are the OCI labels every image must carry: what make passes
// (git describe, the commit, its time as SOURCE_DATE_EPOCH) and what the
// Dockerfile fixes.
func imageLabels(t *testing.T) map[string]string {
	t.Helper()
	epoch, err := strconv.ParseInt(git(t, "log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"org.opencontainers.image.source":   "https://github.com/tinit/tinit",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.version":  git(t, "describe", "--tags", "--always", "--dirty"),
		"org.opencontainers.image.revision": git(t, "rev-parse", "--verify", "-q", "HEAD"),
		"org.opencontainers.image.created":  time.Unix(epoch, 0).UTC().Format(time.RFC3339),
	}
}

func TestImagesPerArchitectureAndIndex(t *testing.T) {
	dist := releaseDist(t)
	layout := filepath.Join(t.TempDir(), "oci")
	start := time.Now()
	makeImageLayout(t, dist, layout)
	t.Logf("make image-layout: %v", time.Since(start).Round(10*time.Millisecond))
	want := imageLabels(t)

	if b, err := os.ReadFile(filepath.Join(layout, "oci-layout")); err != nil || !strings.Contains(string(b), `"imageLayoutVersion":"1.0.0"`) {
		t.Fatalf("oci-layout: %q %v", b, err)
	}
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top ociIndex
	decodeJSON(t, b, &top)
	if top.SchemaVersion != 2 || len(top.Manifests) != 1 {
		t.Fatalf("index.json: want one image index, got %s", b)
	}
	if ref := top.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; ref != want["org.opencontainers.image.version"] {
		t.Errorf("index.json's ref.name %q, want the version %q", ref, want["org.opencontainers.image.version"])
	}
	var index ociIndex
	decodeJSON(t, readBlob(t, layout, top.Manifests[0], "application/vnd.oci.image.index.v1+json"), &index)
	if index.SchemaVersion != 2 || index.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("image index: schemaVersion %d, mediaType %q", index.SchemaVersion, index.MediaType)
	}
	arches := archesUnderTest(t)
	if len(index.Manifests) != len(arches) {
		t.Fatalf("the index lists %d images, want one for each of %d architectures", len(index.Manifests), len(arches))
	}
	for i, a := range arches {
		d := index.Manifests[i]
		t.Run(a.goarch, func(t *testing.T) {
			wantVariant := ""
			if a.goarch == "arm" {
				wantVariant = "v7"
			}
			if d.Platform == nil || *d.Platform != (ociPlatform{a.goarch, "linux", wantVariant}) {
				t.Fatalf("index entry %d: platform %+v, want linux/%s %s", i, d.Platform, a.goarch, wantVariant)
			}
			var m ociManifest
			decodeJSON(t, readBlob(t, layout, d, "application/vnd.oci.image.manifest.v1+json"), &m)
			var c ociConfig
			decodeJSON(t, readBlob(t, layout, m.Config, "application/vnd.oci.image.config.v1+json"), &c)
			if c.Architecture != a.goarch || c.OS != "linux" || c.Variant != wantVariant {
				t.Errorf("config: %s/%s %s, want the index's platform", c.OS, c.Architecture, c.Variant)
			}
			if c.Created != want["org.opencontainers.image.created"] {
				t.Errorf("config created %q, want SOURCE_DATE_EPOCH's %q", c.Created, want["org.opencontainers.image.created"])
			}
			for k, v := range want {
				if c.Config.Labels[k] != v {
					t.Errorf("label %s=%q, want %q", k, c.Config.Labels[k], v)
				}
			}
			if !slices.Equal(c.Config.Entrypoint, []string{"/tinit", "--"}) {
				t.Errorf("entrypoint %q", c.Config.Entrypoint)
			}
			if len(m.Layers) != 1 || len(c.RootFS.DiffIDs) != 1 {
				t.Fatalf("%d layers, %d diff_ids: want one", len(m.Layers), len(c.RootFS.DiffIDs))
			}
			files := layerFiles(t, readBlob(t, layout, m.Layers[0], "application/vnd.oci.image.layer.v1.tar+gzip"), c.RootFS.DiffIDs[0])
			lf, ok := files["tinit"]
			if len(files) != 1 || !ok {
				t.Fatalf("layer holds %d files, want /tinit alone", len(files))
			}
			h := lf.hdr
			if h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 || h.Typeflag != tar.TypeReg {
				t.Errorf("/tinit: mode %o uid %d gid %d type %c, want a 0755 file owned by root", h.Mode, h.Uid, h.Gid, h.Typeflag)
			}
			bin := lf.data
			f, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatal(err)
			}
			if f.Machine != a.machine || f.Class != a.class {
				t.Errorf("/tinit is ELF %v %v, want %v %v", f.Machine, f.Class, a.machine, a.class)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("/tinit has a program interpreter: not static")
				}
			}
			release, err := os.ReadFile(filepath.Join(dist, "tinit-linux-"+a.goarch))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bin, release) {
				t.Errorf("/tinit (%d bytes) is not the release binary tinit-linux-%s (%d bytes)", len(bin), a.goarch, len(release))
			}
		})
	}

	// From the same binaries and commit, the same bytes.
	again := filepath.Join(t.TempDir(), "oci")
	makeImageLayout(t, dist, again)
	if a, b := treeSums(t, layout), treeSums(t, again); !maps.Equal(a, b) {
		t.Errorf("a second make image-layout differs:\n%v\n%v", a, b)
	}
}

// treeSums maps each file under dir to its SHA-256.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sums[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}
