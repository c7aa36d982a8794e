package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/init/supervise"
)

func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// bounded runs writeTerminationLog and fails the test if it blocks.
func bounded(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- writeTerminationLog(path, supervise.Result{Code: 7, Reason: "the child exited"}) }()
	select {
	case err := <-done:
		return err
	case <-time.After(termLogWait + time.Second):
		t.Fatalf("writing the termination log to %s blocked", path)
		return nil
	}
}

func TestTerminationLogNeverBlocks(t *testing.T) {
	t.Run("a regular file gets the line, truncated first, mode 0644", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "term")
		if err := os.WriteFile(path, []byte(strings.Repeat("old\n", 100)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := bounded(t, path); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != "tinit exit 7: the child exited (restarts: 0)\n" {
			t.Fatalf("file holds %q", b)
		}
		path2 := filepath.Join(t.TempDir(), "new")
		old := unix.Umask(0o022)
		defer unix.Umask(old)
		if err := bounded(t, path2); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path2); err != nil || fi.Mode().Perm() != 0o644 {
			t.Fatalf("created %v, %v; want mode 0644", fi, err)
		}
	})
	t.Run("a FIFO nobody reads is an error naming it, at once", func(t *testing.T) {
		path := mkfifo(t)
		start := time.Now()
		err := bounded(t, path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "FIFO nobody reads") {
			t.Fatalf("error %v: want one naming the FIFO nobody reads", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("a FIFO with a reader gets the line", func(t *testing.T) {
		path := mkfifo(t)
		r, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := bounded(t, path); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		r.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := r.Read(buf)
		if got := string(buf[:n]); got != "tinit exit 7: the child exited (restarts: 0)\n" {
			t.Fatalf("the reader got %q", got)
		}
	})
	t.Run("a FIFO whose reader does not read and is full is an error", func(t *testing.T) {
		path := mkfifo(t)
		r, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(r)
		w, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(w)
		for chunk := make([]byte, 4096); ; {
			if _, err := unix.Write(w, chunk); err != nil {
				break
			}
		}
		if err := bounded(t, path); err == nil || !strings.Contains(err.Error(), "no room") {
			t.Fatalf("error %v: want one saying the FIFO has no room", err)
		}
	})
	t.Run("a directory is an error", func(t *testing.T) {
		if err := bounded(t, t.TempDir()); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestCheckFDs(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Run("enough room: nothing is left open", func(t *testing.T) {
		before := openFDs(t)
		if err := checkFDs(fdHeadroom + 1); err != nil {
			t.Fatal(err)
		}
		if after := openFDs(t); after != before {
			t.Fatalf("%d descriptors open before, %d after", before, after)
		}
	})
	t.Run("no room: one line naming RLIMIT_NOFILE", func(t *testing.T) {
		low := lim
		low.Cur = uint64(highestFD(t) + 16)
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
			t.Skip(err)
		}
		defer unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
		// Fill every free slot below the limit, then free three: fewer
		// than the four tinit needs.
		var held []int
		defer func() {
			for _, fd := range held {
				unix.Close(fd)
			}
		}()
		for {
			fd, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				break
			}
			held = append(held, fd)
		}
		for _, fd := range held[len(held)-3:] {
			unix.Close(fd)
		}
		held = held[:len(held)-3]
		err := checkFDs(fdHeadroom)
		if err == nil || !strings.Contains(err.Error(), "RLIMIT_NOFILE") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("error %v: want one line naming RLIMIT_NOFILE", err)
		}
		if fd, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 0); err == nil {
			// checkFDs closed what it opened: the three slots are free.
			unix.Close(fd)
		} else {
			t.Fatalf("checkFDs left descriptors open: %v", err)
		}
	})
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

func highestFD(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	hi := 0
	for _, e := range ents {
		var n int
		for _, c := range e.Name() {
			n = n*10 + int(c-'0')
		}
		hi = max(hi, n)
	}
	return hi
}
