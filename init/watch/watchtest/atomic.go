// Package watchtest simulates, for tests, what writes the files tinit's
// --reload-on watches in Kubernetes: the kubelet's atomic writer, which
// projects ConfigMap, Secret, downward API and projected volumes.
//
// The layout it leaves, as the kubelet's does (pkg/volume/util/atomic_writer.go):
//
//	DIR/..2026_12_06_10_20_30.123456789/   the files, in a timestamped directory
//	DIR/..data -> ..2026_12_06_10_20_30.123456789
//	DIR/NAME -> ..data/NAME                one symlink per top-level name
//
// and an update takes the kubelet's steps, in its order: a new timestamped
// directory with every file, a symlink ..data_tmp to it, ..data_tmp renamed
// onto ..data (the one atomic step), symlinks for new top-level names, the
// removal of names no longer given, then of the old timestamped directory.
// Unlike the kubelet, it swaps even when nothing changed, so that a test
// decides how many swaps there are.
package watchtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	dataName = "..data"
	tmpName  = "..data_tmp"
	// tsPrefix is the kubelet's: MkdirTemp adds a random suffix, so two
	// swaps in one second get two directories.
	tsPrefix = "..2006_01_02_15_04_05."
)

// AtomicInit populates dir, which must exist and hold no ..data yet, with
// files (relative names, "/" for subdirectories, none starting with ".."),
// as the kubelet does when it mounts the volume.
func AtomicInit(dir string, files map[string]string) error {
	if _, err := os.Lstat(filepath.Join(dir, dataName)); err == nil {
		return fmt.Errorf("atomic init %s: %s exists already", dir, dataName)
	}
	if err := write(dir, files, ""); err != nil {
		return fmt.Errorf("atomic init %s: %w", dir, err)
	}
	return nil
}

// AtomicSwap replaces dir's content, first populated by AtomicInit, with
// files, as the kubelet does when the ConfigMap or Secret changes.
func AtomicSwap(dir string, files map[string]string) error {
	old, err := os.Readlink(filepath.Join(dir, dataName))
	if err != nil {
		return fmt.Errorf("atomic swap %s: %w", dir, err)
	}
	if err := write(dir, files, old); err != nil {
		return fmt.Errorf("atomic swap %s: %w", dir, err)
	}
	return nil
}

// write takes the kubelet's steps; old is the timestamped directory ..data
// names now, "" at first.
func write(dir string, files map[string]string, old string) error {
	names, tops, err := check(files)
	if err != nil {
		return err
	}
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format(tsPrefix))
	if err != nil {
		return err
	}
	// The kubelet sets 0755 whatever the umask, so that every user can
	// reach the files.
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	for _, name := range names {
		p := filepath.Join(ts, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			return err
		}
	}
	tmp := filepath.Join(dir, tmpName)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataName)); err != nil {
		return err
	}
	for _, top := range tops {
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
			continue // there already, and ..data/top is the new content
		}
		if err := os.Symlink(filepath.Join(dataName, top), link); err != nil {
			return err
		}
	}
	if old == "" {
		return nil
	}
	gone, err := os.ReadDir(filepath.Join(dir, old))
	if err != nil {
		return err
	}
	for _, e := range gone {
		if slices.Contains(tops, e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return os.RemoveAll(filepath.Join(dir, old))
}

// check returns the names of files sorted, so that the steps happen in the
// same order every run, and the top-level names that get a symlink.
func check(files map[string]string) (names, tops []string, err error) {
	for name := range files {
		clean := filepath.ToSlash(filepath.Clean(name))
		if name == "" || name == "." || filepath.IsAbs(name) || clean != name ||
			strings.HasPrefix(name, "..") || slices.Contains(strings.Split(name, "/"), "..") {
			return nil, nil, fmt.Errorf("file name %q: want a clean relative path not starting with ..", name)
		}
		names = append(names, name)
		top, _, _ := strings.Cut(name, "/")
		if !slices.Contains(tops, top) {
			tops = append(tops, top)
		}
	}
	slices.Sort(names)
	slices.Sort(tops)
	return names, tops, nil
}
