package watchtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// layout lists dir's entries with what each symlink points to, and the
// content read through every user-visible name.
func layout(t *testing.T, dir string) (links map[string]string, tsDirs []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	links = make(map[string]string)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			to, err := os.Readlink(p)
			if err != nil {
				t.Fatal(err)
			}
			links[e.Name()] = to
			continue
		}
		if e.IsDir() && strings.HasPrefix(e.Name(), "..") {
			tsDirs = append(tsDirs, e.Name())
			continue
		}
		t.Errorf("unexpected entry %s", p)
	}
	return links, tsDirs
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAtomicInitLaysOutTheKubeletsVolume(t *testing.T) {
	dir := t.TempDir()
	if err := AtomicInit(dir, map[string]string{"app.conf": "a=1", "sub/x.conf": "x=1"}); err != nil {
		t.Fatal(err)
	}
	links, ts := layout(t, dir)
	if len(ts) != 1 || !strings.HasPrefix(ts[0], "..2") {
		t.Fatalf("timestamped dirs %v, want one named ..YYYY_...", ts)
	}
	want := map[string]string{"..data": ts[0], "app.conf": "..data/app.conf", "sub": "..data/sub"}
	if len(links) != len(want) {
		t.Errorf("links %v, want %v", links, want)
	}
	for name, to := range want {
		if links[name] != to {
			t.Errorf("%s -> %q, want -> %q", name, links[name], to)
		}
	}
	if got := read(t, filepath.Join(dir, "sub/x.conf")); got != "x=1" {
		t.Errorf("sub/x.conf = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, ts[0])); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("timestamped dir mode %v, %v; want 0755", fi.Mode(), err)
	}
}

func TestAtomicSwapReplacesTheContentAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	if err := AtomicInit(dir, map[string]string{"app.conf": "a=1", "old.conf": "o"}); err != nil {
		t.Fatal(err)
	}
	_, before := layout(t, dir)
	for i, content := range []string{"a=2", "a=3", "a=3"} {
		if err := AtomicSwap(dir, map[string]string{"app.conf": content, "new.conf": "n"}); err != nil {
			t.Fatalf("swap %d: %v", i, err)
		}
		if got := read(t, filepath.Join(dir, "app.conf")); got != content {
			t.Errorf("swap %d: app.conf = %q, want %q", i, got, content)
		}
	}
	links, ts := layout(t, dir)
	if len(ts) != 1 || slices.Contains(before, ts[0]) {
		t.Errorf("timestamped dirs %v, want one, not the first (%v)", ts, before)
	}
	if _, ok := links["old.conf"]; ok {
		t.Error("old.conf is still there after a swap without it")
	}
	if links["new.conf"] != "..data/new.conf" || links["..data"] != ts[0] {
		t.Errorf("links %v", links)
	}
	if _, err := os.Lstat(filepath.Join(dir, "..data_tmp")); err == nil {
		t.Error("..data_tmp is left over")
	}
}

func TestAtomicRefusesWhatTheKubeletWouldNot(t *testing.T) {
	tests := []struct {
		name string
		do   func(dir string) error
	}{
		{"a swap before any init", func(dir string) error { return AtomicSwap(dir, map[string]string{"a": "1"}) }},
		{"a second init", func(dir string) error {
			if err := AtomicInit(dir, map[string]string{"a": "1"}); err != nil {
				return nil // not the error under test: fail below
			}
			return AtomicInit(dir, map[string]string{"a": "1"})
		}},
		{"a name starting with ..", func(dir string) error { return AtomicInit(dir, map[string]string{"..x": "1"}) }},
		{"an absolute name", func(dir string) error { return AtomicInit(dir, map[string]string{"/x": "1"}) }},
		{"a name with .. inside", func(dir string) error { return AtomicInit(dir, map[string]string{"a/../b": "1"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := tt.do(dir)
			if err == nil || !strings.Contains(err.Error(), dir) {
				t.Fatalf("err = %v, want an error naming %s", err, dir)
			}
		})
	}
}
