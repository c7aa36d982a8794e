package nodetest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// untar returns a tar's regular files and symlinks by name.
func untar(t *testing.T, data []byte) map[string]*tar.Header {
	t.Helper()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func readEntry(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in the archive: %v", name, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// TestArchiveIsWhatCtrImports checks the docker-archive layout that
// `ctr images import` reads: manifest.json names the RepoTag, the config
// and the layer; the config's diff_id is the layer's hash; parent
// directories exist; and the same image gives the same bytes.
func TestArchiveIsWhatCtrImports(t *testing.T) {
	img := &Image{
		Ref:        "tinit-test/x:dev",
		Files:      []File{{Path: "/a/b/c", Mode: 0o755, Data: []byte("hi")}, {Path: "/tmp", Dir: true, Mode: 0o1777}, {Path: "/bin/sh", Link: "busybox"}},
		Entrypoint: []string{"/a/b/c"},
		User:       "65532:65532",
	}
	a1, err := img.Archive()
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := img.Archive()
	if !bytes.Equal(a1, a2) {
		t.Fatal("the same image gave two different archives")
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(readEntry(t, a1, "manifest.json"), &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 1 || len(manifest[0].RepoTags) != 1 || manifest[0].RepoTags[0] != img.Ref || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest.json: %+v", manifest)
	}
	var cfg struct {
		Architecture, OS string
		Config           struct {
			Entrypoint []string
			User       string
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(readEntry(t, a1, manifest[0].Config), &cfg); err != nil {
		t.Fatal(err)
	}
	layer := readEntry(t, a1, manifest[0].Layers[0])
	if want := "sha256:" + sha(layer); len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != want {
		t.Fatalf("diff_ids %v, layer %s", cfg.RootFS.DiffIDs, want)
	}
	if cfg.OS != "linux" || cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "/a/b/c" {
		t.Fatalf("config: %+v", cfg)
	}
	files := untar(t, layer)
	for name, typ := range map[string]byte{"a/": tar.TypeDir, "a/b/": tar.TypeDir, "a/b/c": tar.TypeReg, "bin/": tar.TypeDir, "bin/sh": tar.TypeSymlink, "tmp/": tar.TypeDir} {
		h := files[name]
		if h == nil || h.Typeflag != typ {
			t.Errorf("layer entry %s: %+v, want type %c", name, h, typ)
		}
	}
	if h := files["tmp/"]; h != nil && h.Mode != 0o1777 {
		t.Errorf("/tmp mode %o, want 1777", h.Mode)
	}
}

func TestSplitRef(t *testing.T) {
	for ref, want := range map[string][2]string{
		"tinit:dev":              {"tinit", "dev"},
		"tinit-test/httpd:dev":   {"tinit-test/httpd", "dev"},
		"localhost:5000/x":       {"localhost:5000/x", "latest"},
		"localhost:5000/x:1.2.3": {"localhost:5000/x", "1.2.3"},
	} {
		if r, tag := SplitRef(ref); r != want[0] || tag != want[1] {
			t.Errorf("SplitRef(%q) = %q, %q; want %q", ref, r, tag, want)
		}
	}
}

// TestAppImagesHaveTheirPrograms builds the app images from this
// machine's Debian packages (skipped where they are not installed) and
// checks that each has its program, its loader and its libraries.
func TestAppImagesHaveTheirPrograms(t *testing.T) {
	for _, p := range []string{BusyboxPath, "/usr/sbin/nginx", "/usr/bin/redis-server"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s: %v (apt-get install -y busybox-static nginx-light redis-server)", p, err)
		}
	}
	imgs, err := AppImages()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		HTTPDImage: {"bin/busybox", "bin/sh", "bin/httpd", "www/index.html", "etc/passwd"},
		NginxImage: {"usr/sbin/nginx", "etc/nginx/nginx.conf", "lib64/ld-linux-x86-64.so.2", "bin/sh"},
		RedisImage: {"usr/bin/redis-server", "lib64/ld-linux-x86-64.so.2", "bin/sh"},
	}
	for _, img := range imgs {
		layer, err := img.layer()
		if err != nil {
			t.Fatal(err)
		}
		files := untar(t, layer)
		for _, name := range want[img.Ref] {
			if files[name] == nil {
				t.Errorf("%s: no %s", img.Ref, name)
			}
		}
		if len(img.Entrypoint) == 0 || files[strings.TrimPrefix(img.Entrypoint[0], "/")] == nil {
			t.Errorf("%s: entrypoint %q not in the image", img.Ref, img.Entrypoint)
		}
		if os.Geteuid() == 0 {
			t.Run(img.Ref+" runs as 65532 in a chroot", func(t *testing.T) { runInChroot(t, img, layer) })
		}
	}
}

// runInChroot unpacks the layer and runs the image's program in it as
// 65532, as the container will: nginx checks its configuration (and so
// its libraries, its temp paths and its pid file), redis-server and
// busybox print their versions.
func runInChroot(t *testing.T, img *Image, layer []byte) {
	root := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, os.FileMode(h.Mode&0o777)|sticky(h.Mode))
			os.Chown(p, h.Uid, h.Gid)
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				t.Fatal(err)
			}
		default:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, os.FileMode(h.Mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
	os.Chmod(root, 0o755)
	var args []string
	switch img.Ref {
	case NginxImage:
		args = []string{"/usr/sbin/nginx", "-e", "stderr", "-c", "/etc/nginx/nginx.conf", "-t"}
	case RedisImage:
		args = []string{"/usr/bin/redis-server", "--version"}
	default:
		args = []string{"/bin/sh", "-c", "httpd --help 2>&1 | head -1; wget --help 2>&1 | head -1"}
	}
	cmd := exec.Command("chroot", append([]string{"--userspec=65532:65532", root}, args...)...)
	cmd.Env = append([]string{"HOME=/tmp"}, appEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("%s: %s", strings.Join(args, " "), bytes.TrimSpace(out))
}

func sticky(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// The node package and the injector package run side by side and may
// write the same image to the cache at once: both must get the file.
func TestWriteCachedSideBySide(t *testing.T) {
	dir := t.TempDir()
	img := &Image{Ref: "tinit-test/x:dev", Files: []File{{Path: "/x", Mode: 0o755, Data: []byte("x")}}, Entrypoint: []string{"/x"}}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := img.WriteCached(dir)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
