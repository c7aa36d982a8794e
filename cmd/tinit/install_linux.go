package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// install copies tinit's own executable to dir/tinit. A scratch image has
// no cp: this is what the Helm chart's init container runs to put tinit
// into a volume the app's container then starts from.
//
// The copy goes to a temporary name in dir and is renamed into place, so
// a container starting at the same moment never runs a half-written file.
// /proc/self/exe is read rather than a path: it is the running binary even
// if the path was replaced or is not known.
func install(dir string) error {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("install: read own executable: %w", err)
	}
	defer self.Close()
	tmp, err := os.CreateTemp(dir, ".tinit-*")
	if err != nil {
		return fmt.Errorf("install into %q: %w", dir, err)
	}
	done := false
	defer func() {
		if !done {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, self); err != nil {
		tmp.Close()
		return fmt.Errorf("install into %q: copy: %w", dir, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return fmt.Errorf("install into %q: %w", dir, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("install into %q: sync: %w", dir, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("install into %q: %w", dir, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, "tinit")); err != nil {
		return fmt.Errorf("install into %q: %w", dir, err)
	}
	done = true
	return nil
}
