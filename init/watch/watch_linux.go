package watch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// FDs is how many file descriptors the watcher holds (1: the inotify fd),
// for tinit's RLIMIT_NOFILE check.
const FDs = 1

const (
	// changeMask is what counts as a change of an entry: its name appeared,
	// went, or a writer closed it. IN_MODIFY is not asked for: a writer's
	// every write(2) would wake us, and half-written content is no reason
	// to reload; the close after it is. Attribute changes are no reason
	// either.
	changeMask = unix.IN_CREATE | unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE
	// goneMask means the watch no longer sees the directory at its path:
	// deleted, renamed away, unmounted, or the kernel dropped the watch.
	goneMask = unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_UNMOUNT | unix.IN_IGNORED
	// watchMask is what every watch asks for. A directory may serve both
	// roles (its entries are watched, and it is the parent of a watched
	// directory) and one inode has one watch per inotify instance, whose
	// mask a second inotify_add_watch replaces: so every call passes the
	// same one. IN_ONLYDIR: only directories are watched, and a directory
	// replaced by a file counts as gone. IN_EXCL_UNLINK: a deleted file
	// still held open is no longer an entry of the directory.
	watchMask = changeMask | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

	// dataName is the kubelet atomic writer's symlink to the current
	// timestamped directory; renaming a new one onto it is the one moment
	// a ConfigMap or Secret volume changes.
	dataName = "..data"

	// readSize holds hundreds of events of the longest name (16 bytes and
	// NAME_MAX+1); a read needs room for at least one.
	readSize = 64 << 10
)

// target is one PATH given to New.
type target struct {
	path string // as given, cleaned: what the log line names
	name string // the file's name in its directory; "" for a directory PATH, where every entry counts
}

// dir is one directory the watcher follows by path: the inode at path may
// change (a directory replaced), the dir does not.
type dir struct {
	path   string
	base   string   // filepath.Base(path): its name in its parent
	wd     int32    // the watch on what is at path now; -1 while nothing is
	atomic bool     // path/..data exists: only a swap is a change
	owner  string   // the first PATH that needed this dir, for errors
	files  []target // PATHs whose changes are this dir's entries
	subs   []*dir   // dirs whose parent this is: followed by name when replaced
}

// Watcher turns inotify events on a set of paths into debounced Changes.
type Watcher struct {
	f        *os.File // the inotify fd, on the netpoller
	conn     syscall.RawConn
	debounce time.Duration
	dirs     []*dir           // every followed dir, in the order of New's paths
	byWD     map[int32][]*dir // several when one inode is at two paths (a symlinked dir)
	burst    burst            // the changes since the last Change
	line     []byte           // scratch for one line of What
	done     chan struct{}    // closed by Close: a pending send gives up
	once     sync.Once
	closeErr error

	mu      sync.Mutex
	readErr error // set by Run, returned by Close
}

// New sets up inotify and the watches for paths (absolute; the caller made
// them so). Each path must exist: a file or a directory. Errors name the
// path: `watch /etc/x: no such file or directory`. Nothing is left open on
// error.
func New(paths []string, debounce time.Duration) (*Watcher, error) {
	w := &Watcher{
		debounce: debounce,
		byWD:     make(map[int32][]*dir),
		done:     make(chan struct{}),
	}
	byPath := make(map[string]*dir)
	follow := func(path, owner string) *dir {
		if d, ok := byPath[path]; ok {
			return d
		}
		d := &dir{path: path, base: filepath.Base(path), wd: -1, owner: owner}
		byPath[path] = d
		w.dirs = append(w.dirs, d)
		return d
	}
	// Stat everything before opening anything: the common error (a typo,
	// a volume not mounted) then has nothing to undo.
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("watch %s: not an absolute path", p)
		}
		p = filepath.Clean(p)
		fi, err := os.Stat(p)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("watch %s: %w", p, err)
		}
		if fi.IsDir() {
			d := follow(p, p)
			d.files = append(d.files, target{path: p})
			continue
		}
		// A file is watched through its directory: a watch on the file
		// itself would follow a ConfigMap's name -> ..data/name symlink
		// into the timestamped directory that the next swap deletes.
		d := follow(filepath.Dir(p), p)
		d.files = append(d.files, target{path: p, name: filepath.Base(p)})
	}
	// The parent of every dir with files is watched for the dir's name, so
	// that a replaced directory is found again. The walk is over a copy:
	// the parents it adds are not followed upwards in turn.
	for _, d := range slices.Clone(w.dirs) {
		parent := filepath.Dir(d.path)
		if parent == d.path {
			continue // "/" has no parent to be replaced in
		}
		pd := follow(parent, d.owner)
		pd.subs = append(pd.subs, d)
	}

	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.EMFILE) {
			// inotify_init1's EMFILE is also the per-user instance limit.
			return nil, fmt.Errorf("watch %s: inotify_init1: %w (RLIMIT_NOFILE, or the limit fs.inotify.max_user_instances)", firstOr(paths), err)
		}
		return nil, fmt.Errorf("watch %s: inotify_init1: %w", firstOr(paths), err)
	}
	// A non-blocking fd makes os.NewFile put it on the netpoller: Read
	// parks the goroutine, not an OS thread (tinit has a fixed thread
	// budget), and Close wakes it.
	w.f = os.NewFile(uintptr(fd), "inotify")
	if err := w.f.SetReadDeadline(time.Time{}); err != nil {
		w.f.Close()
		return nil, fmt.Errorf("watch %s: inotify fd is not pollable: %w", firstOr(paths), err)
	}
	if w.conn, err = w.f.SyscallConn(); err != nil {
		w.f.Close()
		return nil, fmt.Errorf("watch %s: inotify fd: %w", firstOr(paths), err)
	}
	for _, d := range w.dirs {
		wd, err := w.addWatch(d.path)
		if err != nil {
			w.f.Close() // drops every watch with it
			return nil, fmt.Errorf("watch %s: %w", d.owner, err)
		}
		w.bind(d, wd)
	}
	return w, nil
}

func firstOr(paths []string) string {
	if len(paths) == 0 {
		return "(no paths)"
	}
	return paths[0]
}

// Run reads events until Close, and sends one Change per burst on out,
// `debounce` after the last change of the burst (changes less than
// debounce apart are one burst). A send waits for the reader or for Close,
// whichever comes first. Run returns after Close. Call it once.
//
// The debounce timer is the fd's read deadline: one goroutine, one timer,
// and a read that ends either with events or with the burst's end.
func (w *Watcher) Run(out chan<- Change) {
	buf := make([]byte, readSize)
	for {
		n, err := w.f.Read(buf)
		switch {
		case err == nil:
			if w.handle(buf[:n]) {
				// Every change pushes the burst's end; a repeat too.
				// An error here means Close ran: the next Read says so.
				_ = w.f.SetReadDeadline(time.Now().Add(w.debounce))
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			_ = w.f.SetReadDeadline(time.Time{})
			select {
			case out <- w.burst.take():
			case <-w.done:
				return
			}
		case errors.Is(err, os.ErrClosed):
			return
		default:
			// inotify's read fails only for a buffer too small for one
			// event (EINVAL), which readSize rules out; EINTR and EAGAIN
			// are the netpoller's. Should it fail anyway, reading again
			// would spin: stop, and let Close report it.
			w.mu.Lock()
			w.readErr = fmt.Errorf("read inotify: %w", err)
			w.mu.Unlock()
			<-w.done
			return
		}
	}
}

// Close ends Run (a blocked read, or a send nobody takes) and releases the
// inotify fd and every watch with it. It returns the error that stopped
// Run's reading early, if any.
func (w *Watcher) Close() error {
	w.once.Do(func() {
		close(w.done)
		if err := w.f.Close(); err != nil {
			w.closeErr = fmt.Errorf("close inotify: %w", err)
		}
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.readErr, w.closeErr)
}

// handle takes one read's worth of events and reports whether any of them
// was a change.
func (w *Watcher) handle(buf []byte) bool {
	changed := false
	for len(buf) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(buf[0:]))
		mask := binary.NativeEndian.Uint32(buf[4:])
		n := int(binary.NativeEndian.Uint32(buf[12:]))
		end := unix.SizeofInotifyEvent + n
		if end > len(buf) {
			break // the kernel returns whole events; guard anyway
		}
		name := buf[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i] // the name is NUL-padded
		}
		buf = buf[end:]
		if w.event(wd, mask, name) {
			changed = true
		}
	}
	return changed
}

// event handles one event and reports whether it was a change.
func (w *Watcher) event(wd int32, mask uint32, name []byte) bool {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		return w.overflow()
	}
	ds := w.byWD[wd]
	if len(ds) == 0 {
		return false // a watch already replaced: its IN_IGNORED, or stragglers
	}
	changed := false
	if mask&goneMask != 0 {
		// refresh rebinds, which edits byWD[wd]: walk a copy. Rare.
		for _, d := range slices.Clone(ds) {
			if w.refresh(d) {
				changed = true
			}
		}
		return changed
	}
	for _, d := range ds {
		// The parent role: a watched directory's name came or went.
		for _, sub := range d.subs {
			if sub.base == string(name) && mask&changeMask != 0 && w.refresh(sub) {
				changed = true
			}
		}
		if len(d.files) > 0 && w.entry(d, mask, name) {
			changed = true
		}
	}
	return changed
}

// entry handles an event on an entry of d, a dir with PATHs, and reports
// whether it was a change.
func (w *Watcher) entry(d *dir, mask uint32, name []byte) bool {
	if string(name) == dataName {
		// ..data appearing makes a plain directory an atomic writer's
		// (its first population); going makes it plain again.
		d.atomic = hasData(d.path)
	}
	if d.atomic {
		// Only the swap is a change: the timestamped directory's creation,
		// ..data_tmp, the old directory's removal and the user-visible
		// symlinks are its steps, and a PATH's own symlink does not even
		// change when its content does.
		if mask&unix.IN_MOVED_TO == 0 || string(name) != dataName {
			return false
		}
		for _, t := range d.files {
			w.note(t.path, nil, "..data swapped")
		}
		return true
	}
	if mask&changeMask == 0 {
		return false
	}
	changed := false
	for _, t := range d.files {
		switch {
		case t.name == "":
			w.note(t.path, name, verb(mask))
			changed = true
		case t.name == string(name):
			w.note(t.path, nil, verb(mask))
			changed = true
		}
	}
	return changed
}

// refresh points d's watch at whatever directory is at d.path now, and
// reports whether that is a change: a new directory there ("replaced"),
// or none any more ("removed"), for a dir with PATHs. The same directory
// still there is no change (inotify_add_watch on a watched inode returns
// its watch).
func (w *Watcher) refresh(d *dir) bool {
	wd, err := w.addWatch(d.path)
	switch {
	case err != nil && d.wd < 0:
		return false
	case err != nil:
		w.unbind(d)
		if len(d.files) == 0 {
			return false
		}
		w.note(d.path, nil, "removed")
		return true
	case wd == d.wd:
		return false
	}
	w.unbind(d)
	w.bind(d, wd)
	if len(d.files) == 0 {
		return false
	}
	w.note(d.path, nil, "replaced")
	return true
}

// overflow handles IN_Q_OVERFLOW: the kernel dropped events, so something
// changed and nobody knows what, and a replaced directory may have gone
// unseen: every dir is looked up again.
func (w *Watcher) overflow() bool {
	w.line = append(w.line[:0], "inotify queue overflowed: changes were lost"...)
	w.burst.add(w.line)
	for _, d := range w.dirs {
		w.refresh(d)
		d.atomic = d.wd >= 0 && hasData(d.path)
	}
	return true
}

// bind records that wd watches d's path, and whether that directory is an
// atomic writer's.
func (w *Watcher) bind(d *dir, wd int32) {
	d.wd = wd
	d.atomic = hasData(d.path)
	w.byWD[wd] = append(w.byWD[wd], d)
}

// unbind forgets d's watch, and removes it from the kernel when no other
// dir shares it: a directory renamed away would otherwise go on reporting
// from its new place.
func (w *Watcher) unbind(d *dir) {
	if d.wd < 0 {
		return
	}
	rest := slices.DeleteFunc(w.byWD[d.wd], func(x *dir) bool { return x == d })
	if len(rest) == 0 {
		delete(w.byWD, d.wd)
		w.rmWatch(d.wd)
	} else {
		w.byWD[d.wd] = rest
	}
	d.wd = -1
}

// addWatch is inotify_add_watch through the RawConn, which holds the fd
// for the call: a concurrent Close cannot make it act on a reused number.
func (w *Watcher) addWatch(path string) (int32, error) {
	var wd int
	var err error
	if cerr := w.conn.Control(func(fd uintptr) {
		wd, err = unix.InotifyAddWatch(int(fd), path, watchMask)
	}); cerr != nil {
		return -1, fmt.Errorf("inotify_add_watch %s: %w", path, cerr)
	}
	if errors.Is(err, unix.ENOSPC) {
		// The kernel's words for this limit ("no space left on device")
		// send people to df.
		return -1, fmt.Errorf("inotify_add_watch %s: %w (the limit fs.inotify.max_user_watches)", path, err)
	}
	if err != nil {
		return -1, fmt.Errorf("inotify_add_watch %s: %w", path, err)
	}
	return int32(wd), nil
}

// rmWatch is inotify_rm_watch. Its EINVAL means the kernel dropped the
// watch already (the directory was deleted), which is the point.
func (w *Watcher) rmWatch(wd int32) {
	_ = w.conn.Control(func(fd uintptr) {
		_, _ = unix.InotifyRmWatch(int(fd), uint32(wd))
	})
}

// note adds "path[/name]: what" to the burst, built in the scratch line so
// that a repeat allocates nothing (name stays bytes for the same reason).
func (w *Watcher) note(path string, name []byte, what string) {
	w.line = append(w.line[:0], path...)
	if len(name) > 0 {
		if path != "/" {
			w.line = append(w.line, '/')
		}
		w.line = append(w.line, name...)
	}
	w.line = append(w.line, ": "...)
	w.line = append(w.line, what...)
	w.burst.add(w.line)
}

// verb names an entry event for the log line.
func verb(mask uint32) string {
	switch {
	case mask&unix.IN_CREATE != 0:
		return "created"
	case mask&unix.IN_CLOSE_WRITE != 0:
		return "written"
	case mask&unix.IN_MOVED_TO != 0:
		return "moved in"
	case mask&unix.IN_MOVED_FROM != 0:
		return "moved out"
	default:
		return "deleted"
	}
}

func hasData(dirPath string) bool {
	_, err := os.Lstat(filepath.Join(dirPath, dataName))
	return err == nil
}
