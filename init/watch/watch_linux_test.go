package watch

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/init/watch/watchtest"
)

const (
	// debounce is short so that the suite is quick; nothing asserts that
	// a Change comes that soon.
	debounce = 50 * time.Millisecond
	// patience bounds every wait for a Change: generous, for -race on a
	// loaded machine.
	patience = 10 * time.Second
	// quiet is how long "no Change" is watched for: many debounces.
	quiet = 10 * debounce
)

// running is a Watcher whose Run is going, with its Changes.
type running struct {
	w   *Watcher
	out chan Change
}

// start watches paths and runs the watcher until the test ends; the
// cleanup checks that Close ends Run.
func start(t *testing.T, debounce time.Duration, paths ...string) *running {
	t.Helper()
	w, err := New(paths, debounce)
	if err != nil {
		t.Fatalf("New(%q): %v", paths, err)
	}
	r := &running{w: w, out: make(chan Change)}
	ended := make(chan struct{})
	go func() {
		w.Run(r.out)
		close(ended)
	}()
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case <-ended:
		case <-time.After(patience):
			t.Errorf("Run still going %v after Close", patience)
		}
	})
	return r
}

// next is the next Change.
func (r *running) next(t *testing.T) Change {
	t.Helper()
	select {
	case c := <-r.out:
		return c
	case <-time.After(patience):
		t.Fatalf("no Change within %v", patience)
		return Change{}
	}
}

// none checks that no Change comes for a while.
func (r *running) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-r.out:
		t.Errorf("unexpected Change %q", c.What)
	case <-time.After(quiet):
	}
}

// until reads Changes until one has a line that contains want, and
// returns every line seen on the way.
func (r *running) until(t *testing.T, want string) []string {
	t.Helper()
	var seen []string
	deadline := time.After(patience)
	for {
		select {
		case c := <-r.out:
			seen = append(seen, c.What...)
			if slices.ContainsFunc(c.What, func(l string) bool { return strings.Contains(l, want) }) {
				return seen
			}
		case <-deadline:
			t.Fatalf("no Change naming %q within %v; saw %q", want, patience, seen)
			return nil
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestNewRefusesAPathThatIsNotThereAndNamesIt(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ok.conf"), "")
	tests := []struct {
		name     string
		paths    []string
		naming   string
		notExist bool
	}{
		{"a missing file", []string{dir + "/nope.conf"}, dir + "/nope.conf", true},
		{"a file in a missing directory", []string{dir + "/nodir/x.conf"}, dir + "/nodir/x.conf", true},
		{"a missing path after a good one", []string{dir + "/ok.conf", dir + "/gone"}, dir + "/gone", true},
		{"a relative path", []string{"etc/app.conf"}, "etc/app.conf", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := openFDs(t)
			w, err := New(tt.paths, debounce)
			if err == nil {
				w.Close()
				t.Fatalf("New(%q) = nil error", tt.paths)
			}
			if want := "watch " + tt.naming + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want it to start %q", err, want)
			}
			if tt.notExist && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %q is not fs.ErrNotExist", err)
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d fds open after the error, %d before", after, before)
			}
		})
	}
}

func TestNewHoldsFDsDescriptors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "app.conf"), "")
	before := openFDs(t)
	w, err := New([]string{dir, dir + "/app.conf"}, debounce)
	if err != nil {
		t.Fatal(err)
	}
	if got := openFDs(t) - before; got != FDs {
		t.Errorf("New opened %d fds, FDs says %d", got, FDs)
	}
	must(t, w.Close())
	if after := openFDs(t); after != before {
		t.Errorf("%d fds open after Close, %d before", after, before)
	}
}

func TestAFileWatchedByPathInAPlainDirectory(t *testing.T) {
	tests := []struct {
		name string
		act  func(t *testing.T, dir, file string)
		want string // the line of the one Change; "" for none
	}{
		{"a write is a change", func(t *testing.T, dir, file string) { write(t, file, "new") }, "written"},
		{"a rename onto it is a change", func(t *testing.T, dir, file string) {
			write(t, dir+"/.app.conf.tmp", "new")
			must(t, os.Rename(dir+"/.app.conf.tmp", file))
		}, "moved in"},
		{"a delete is a change", func(t *testing.T, dir, file string) { must(t, os.Remove(file)) }, "deleted"},
		{"a rename away is a change", func(t *testing.T, dir, file string) { must(t, os.Rename(file, dir+"/old")) }, "moved out"},
		{"a write to another name is none", func(t *testing.T, dir, file string) { write(t, dir+"/other.conf", "x") }, ""},
		{"another name deleted is none", func(t *testing.T, dir, file string) { must(t, os.Remove(dir+"/other")) }, ""},
		{"a chmod is none", func(t *testing.T, dir, file string) { must(t, os.Chmod(file, 0o600)) }, ""},
		{"a read is none", func(t *testing.T, dir, file string) {
			_, err := os.ReadFile(file)
			must(t, err)
		}, ""},
		{"a write not yet closed is none", func(t *testing.T, dir, file string) {
			f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			t.Cleanup(func() { f.Close() })
			_, err = f.WriteString("half")
			must(t, err)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each waits out its quiet time
			dir := t.TempDir()
			file := dir + "/app.conf"
			write(t, file, "old")
			write(t, dir+"/other", "")
			r := start(t, debounce, file)
			tt.act(t, dir, file)
			if tt.want != "" {
				if got, want := r.next(t).What, []string{file + ": " + tt.want}; !slices.Equal(got, want) {
					t.Errorf("What = %q, want %q", got, want)
				}
			}
			r.none(t)
		})
	}
}

func TestADirectoryWatchedByPath(t *testing.T) {
	tests := []struct {
		name string
		act  func(t *testing.T, dir string)
		want []string // relative to dir; nil for no Change
	}{
		{"a new file is a change", func(t *testing.T, dir string) { write(t, dir+"/x.conf", "x") },
			[]string{"/x.conf: created", "/x.conf: written"}},
		{"a write is a change", func(t *testing.T, dir string) { write(t, dir+"/a.conf", "new") },
			[]string{"/a.conf: written"}},
		{"a delete is a change", func(t *testing.T, dir string) { must(t, os.Remove(dir+"/a.conf")) },
			[]string{"/a.conf: deleted"}},
		{"a new subdirectory is a change", func(t *testing.T, dir string) { must(t, os.Mkdir(dir+"/sub", 0o755)) },
			[]string{"/sub: created"}},
		{"a file moved in from elsewhere is a change", func(t *testing.T, dir string) {
			must(t, os.Rename(filepath.Dir(dir)+"/outside", dir+"/in.conf"))
		}, []string{"/in.conf: moved in"}},
		{"a chmod is none", func(t *testing.T, dir string) { must(t, os.Chmod(dir+"/a.conf", 0o600)) }, nil},
		{"a write in a subdirectory is none (inotify is not recursive)", func(t *testing.T, dir string) {
			write(t, dir+"/deep/x.conf", "x")
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each waits out its quiet time
			dir := t.TempDir() + "/conf.d"
			must(t, os.MkdirAll(dir+"/deep", 0o755))
			write(t, dir+"/a.conf", "old")
			write(t, filepath.Dir(dir)+"/outside", "")
			r := start(t, debounce, dir)
			tt.act(t, dir)
			if tt.want != nil {
				var want []string
				for _, l := range tt.want {
					want = append(want, dir+l)
				}
				if got := r.next(t).What; !slices.Equal(got, want) {
					t.Errorf("What = %q, want %q", got, want)
				}
			}
			r.none(t)
		})
	}
}

func TestAnAtomicWriterDirectoryChangesOncePerSwap(t *testing.T) {
	dir := t.TempDir()
	must(t, watchtest.AtomicInit(dir, map[string]string{"app.conf": "v0", "sub/x.conf": "x0"}))
	r := start(t, debounce, dir)
	for i, v := range []string{"v1", "v2", "v3"} {
		must(t, watchtest.AtomicSwap(dir, map[string]string{"app.conf": v, "sub/x.conf": "x" + v}))
		if got, want := r.next(t).What, []string{dir + ": ..data swapped"}; !slices.Equal(got, want) {
			t.Errorf("swap %d: What = %q, want %q", i+1, got, want)
		}
		r.none(t)
	}
}

func TestAFileInAnAtomicWriterDirectoryChangesOncePerSwap(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/app.conf"
	must(t, watchtest.AtomicInit(dir, map[string]string{"app.conf": "v0", "other.conf": "o"}))
	r := start(t, debounce, file)
	swaps := []map[string]string{
		{"app.conf": "v1", "other.conf": "o"},
		{"app.conf": "v2"},                  // a name goes
		{"app.conf": "v3", "new.conf": "n"}, // a name comes
	}
	for i, files := range swaps {
		must(t, watchtest.AtomicSwap(dir, files))
		if got, want := r.next(t).What, []string{file + ": ..data swapped"}; !slices.Equal(got, want) {
			t.Errorf("swap %d: What = %q, want %q", i+1, got, want)
		}
		r.none(t)
	}
	b, err := os.ReadFile(file)
	if err != nil || string(b) != "v3" {
		t.Errorf("after the swaps %s reads %q, %v; the simulation is off", file, b, err)
	}
}

func TestADirectoryBecomesAnAtomicWritersWhenDataAppears(t *testing.T) {
	dir := t.TempDir()
	r := start(t, debounce, dir)
	must(t, watchtest.AtomicInit(dir, map[string]string{"app.conf": "v0"}))
	// Its first ..data is already a swap: the burst ends with it.
	r.until(t, dir+": ..data swapped")
	r.none(t)
	must(t, watchtest.AtomicSwap(dir, map[string]string{"app.conf": "v1"}))
	if got, want := r.next(t).What, []string{dir + ": ..data swapped"}; !slices.Equal(got, want) {
		t.Errorf("What = %q, want %q", got, want)
	}
	r.none(t)
}

func TestABurstOfManyWritesIsOneChange(t *testing.T) {
	const writes = 10_000
	dir := t.TempDir()
	file := dir + "/app.conf"
	write(t, file, "")
	// A debounce this long outlasts any pause between two writes of the
	// loop, even under -race on a busy machine.
	r := start(t, 500*time.Millisecond, dir)
	for i := range writes {
		if err := os.WriteFile(file, []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := r.next(t).What, []string{file + ": written"}; !slices.Equal(got, want) {
		t.Errorf("What = %q, want %q", got, want)
	}
	r.none(t)
}

// events encodes inotify events as read(2) returns them.
func events(wd int32, mask uint32, name string, n int) []byte {
	padded := (len(name) + 1 + 15) / 16 * 16
	var buf []byte
	for range n {
		var hdr [unix.SizeofInotifyEvent]byte
		binary.NativeEndian.PutUint32(hdr[0:], uint32(wd))
		binary.NativeEndian.PutUint32(hdr[4:], mask)
		binary.NativeEndian.PutUint32(hdr[12:], uint32(padded))
		buf = append(buf, hdr[:]...)
		buf = append(buf, name...)
		buf = append(buf, make([]byte, padded-len(name))...)
	}
	return buf
}

func TestHandlingRepeatedEventsAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/app.conf", "")
	w, err := New([]string{dir, dir + "/app.conf"}, debounce)
	must(t, err)
	t.Cleanup(func() { w.Close() })
	buf := events(w.dirs[0].wd, unix.IN_CLOSE_WRITE, "app.conf", 1000)
	if n := testing.AllocsPerRun(10, func() {
		if !w.handle(buf) {
			t.Fatal("a write of the file was no change")
		}
	}); n != 0 {
		t.Errorf("1000 writes of one file allocate %v times a read, want 0", n)
	}
	// The dir's line for its entry and the file's line are the same line.
	if got, want := w.burst.take().What, []string{dir + "/app.conf: written"}; !slices.Equal(got, want) {
		t.Errorf("What = %q, want %q", got, want)
	}
}

func TestAnOverflowIsAChangeAndFindsReplacedDirectories(t *testing.T) {
	parent := t.TempDir()
	dir := parent + "/conf.d"
	must(t, os.Mkdir(dir, 0o755))
	w, err := New([]string{dir}, debounce)
	must(t, err)
	t.Cleanup(func() { w.Close() })
	// Replaced while nobody reads: as if its events were the ones lost.
	must(t, os.RemoveAll(dir))
	must(t, os.Mkdir(dir, 0o755))
	if !w.handle(events(-1, unix.IN_Q_OVERFLOW, "", 1)) {
		t.Fatal("an overflow was no change")
	}
	want := []string{"inotify queue overflowed: changes were lost", dir + ": replaced"}
	if got := w.burst.take().What; !slices.Equal(got, want) {
		t.Errorf("What = %q, want %q", got, want)
	}
}

func TestAReplacedDirectoryIsFollowed(t *testing.T) {
	tests := []struct {
		name    string
		replace func(t *testing.T, dir string)
	}{
		{"removed and made again", func(t *testing.T, dir string) {
			must(t, os.RemoveAll(dir))
			must(t, os.Mkdir(dir, 0o755))
		}},
		{"renamed away and another renamed in", func(t *testing.T, dir string) {
			must(t, os.Rename(dir, dir+".old"))
			must(t, os.Mkdir(dir+".new", 0o755))
			must(t, os.Rename(dir+".new", dir))
		}},
		{"another renamed onto it", func(t *testing.T, dir string) {
			must(t, os.Mkdir(dir+".new", 0o755))
			write(t, dir+".new/x.conf", "x")
			// dir is empty, so rename(2) replaces it (os.Rename refuses
			// any directory as the new name).
			must(t, unix.Rename(dir+".new", dir))
		}},
		{"removed, then made again later", func(t *testing.T, dir string) {
			must(t, os.Remove(dir))
			time.Sleep(2 * debounce) // two bursts: removed, then replaced
			must(t, os.Mkdir(dir, 0o755))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir() + "/conf.d"
			must(t, os.Mkdir(dir, 0o755))
			r := start(t, debounce, dir)
			tt.replace(t, dir)
			r.until(t, dir+": replaced")
			// The old directory, if it still exists, is no longer watched.
			if _, err := os.Stat(dir + ".old"); err == nil {
				write(t, dir+".old/stale.conf", "x")
			}
			write(t, dir+"/y.conf", "y")
			if seen := r.until(t, dir+"/y.conf: written"); slices.ContainsFunc(seen, func(l string) bool {
				return strings.Contains(l, "stale")
			}) {
				t.Errorf("a write in the directory renamed away was seen: %q", seen)
			}
		})
	}
}

func TestAFilesReplacedDirectoryIsFollowed(t *testing.T) {
	dir := t.TempDir() + "/conf.d"
	file := dir + "/app.conf"
	must(t, os.Mkdir(dir, 0o755))
	write(t, file, "v0")
	r := start(t, debounce, file)
	must(t, os.Mkdir(dir+".new", 0o755))
	write(t, dir+".new/app.conf", "v1")
	must(t, os.Rename(dir, dir+".old"))
	must(t, os.Rename(dir+".new", dir))
	r.until(t, dir+": replaced")
	write(t, dir+".old/app.conf", "stale")
	write(t, file, "v2")
	if got, want := r.next(t).What, []string{file + ": written"}; !slices.Equal(got, want) {
		t.Errorf("What = %q, want %q (and nothing from the old directory)", got, want)
	}
}

func TestTwoPathsToOneDirectoryBothSeeAWrite(t *testing.T) {
	dir := t.TempDir() + "/real"
	link := filepath.Dir(dir) + "/link"
	must(t, os.Mkdir(dir, 0o755))
	must(t, os.Symlink("real", link))
	r := start(t, debounce, dir, link)
	write(t, dir+"/x.conf", "x")
	want := []string{dir + "/x.conf: created", link + "/x.conf: created", dir + "/x.conf: written", link + "/x.conf: written"}
	if got := r.next(t).What; !slices.Equal(got, want) {
		t.Errorf("What = %q, want %q", got, want)
	}
}

func TestCloseEndsRun(t *testing.T) {
	tests := []struct {
		name   string
		before func(t *testing.T, dir string)
	}{
		{"while it waits for events", func(t *testing.T, dir string) {}},
		{"while it waits for a burst to end", func(t *testing.T, dir string) { write(t, dir+"/x", "") }},
		{"while nobody takes its Change", func(t *testing.T, dir string) {
			write(t, dir+"/x", "")
			time.Sleep(quiet) // the burst ends, and the send waits
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := New([]string{dir}, debounce)
			must(t, err)
			ended := make(chan struct{})
			go func() {
				w.Run(make(chan Change)) // nobody reads it
				close(ended)
			}()
			tt.before(t, dir)
			must(t, w.Close())
			select {
			case <-ended:
			case <-time.After(patience):
				t.Fatalf("Run still going %v after Close", patience)
			}
			if err := w.Close(); err != nil {
				t.Errorf("a second Close: %v", err)
			}
		})
	}
}

func TestRunAfterCloseReturns(t *testing.T) {
	w, err := New([]string{t.TempDir()}, debounce)
	must(t, err)
	must(t, w.Close())
	ended := make(chan struct{})
	go func() {
		w.Run(make(chan Change))
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(patience):
		t.Fatalf("Run on a closed Watcher still going after %v", patience)
	}
}
