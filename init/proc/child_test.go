package proc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe := write("app", 0o755)
	noexec := write("data", 0o644)
	env := []string{"PATH=/nonexistent:" + dir}
	tests := []struct {
		name, program string
		want          string
		code          int
	}{
		{"a bare name is found in PATH", "app", exe, 0},
		{"a path is used as is", exe, exe, 0},
		{"a missing bare name is 127", "nope-not-here", "", CodeNotFound},
		{"a missing path is 127", dir + "/nope", "", CodeNotFound},
		{"a file without x bit is 126", noexec, "", CodeNotExecutable},
		{"a bare name without x bit is 126", "data", "", CodeNotExecutable},
		{"a directory is 126", dir, "", CodeNotExecutable},
		{"an empty name is 127", "", "", CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.program, env, "")
			if tt.code == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("lookPath(%q) = %q, %v; want %q", tt.program, got, err, tt.want)
				}
				return
			}
			var se *StartError
			if !errors.As(err, &se) || se.Code != tt.code {
				t.Fatalf("lookPath(%q) = %q, %v; want a StartError with code %d", tt.program, got, err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.program) {
				t.Errorf("error %q does not name the program", err)
			}
		})
	}
}

func TestStartNamesAWorkingDirectoryThatIsGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	_, err := Start(Spec{Argv: []string{"/bin/true"}, Dir: dir})
	var se *StartError
	if !errors.As(err, &se) || se.Code != CodeNotFound || !strings.Contains(err.Error(), "working directory") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Start in a missing directory: %v; want a StartError (127) naming the working directory", err)
	}
}

func TestStartRunsARelativeProgramInDir(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("#!/bin/sh\npwd > out\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Start(Spec{Argv: []string{"./app"}, Env: []string{"PATH=/bin:/usr/bin"}, Dir: dir})
	if err != nil {
		t.Fatalf("Start ./app in %s: %v", dir, err)
	}
	// Not waited for: reaping is package reaper's. The file says it ran.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, err := os.ReadFile(out); err == nil && strings.TrimSpace(string(b)) == dir {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("./app (pid %d) did not write %s with its working directory", c.Pid, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var ws unix.WaitStatus
	unix.Wait4(c.Pid, &ws, 0, nil)
}

func TestInTree(t *testing.T) {
	self, parent := os.Getpid(), os.Getppid()
	tests := []struct {
		name      string
		pid, root int
		want      bool
	}{
		{"itself", self, self, true},
		{"a child of its parent", self, parent, true},
		{"not below itself", parent, self, false},
		{"a pid that does not exist", 1 << 22, self, false},
		{"pid 0 (a sender in another namespace)", 0, self, false},
	}
	// A child that has exited and is not reaped yet: a zombie.
	z, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Wait()
	for i := 0; i < 200; i++ {
		if p, ok := readStat(z.Pid); ok && p.state == 'Z' {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	tests = append(tests, struct {
		name      string
		pid, root int
		want      bool
	}{"a zombie child", z.Pid, self, false})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InTree(tt.pid, tt.root); got != tt.want {
				t.Errorf("InTree(%d, %d) = %v, want %v", tt.pid, tt.root, got, tt.want)
			}
		})
	}
}

// TestStartErrorCodes maps each error exec or fork can give to the code
// tinit exits with, as bash does: only exec errors say PROGRAM cannot
// run; a kernel short of processes, memory or fds says nothing of it.
func TestStartErrorCodes(t *testing.T) {
	tests := []struct {
		err       unix.Errno
		code      int
		transient bool
	}{
		{unix.ENOENT, CodeNotFound, false},
		{unix.EACCES, CodeNotExecutable, false},
		{unix.ENOEXEC, CodeNotExecutable, false},
		{unix.ENOTDIR, CodeNotExecutable, false},
		{unix.ELOOP, CodeNotExecutable, false},
		{unix.ETXTBSY, CodeNotExecutable, false},
		{unix.E2BIG, CodeNotExecutable, false},
		{unix.EAGAIN, CodeNoResources, true},
		{unix.ENOMEM, CodeNoResources, true},
		{unix.EMFILE, CodeNoResources, true},
		{unix.ENFILE, CodeNoResources, true},
	}
	for _, tt := range tests {
		t.Run(unix.ErrnoName(tt.err), func(t *testing.T) {
			se := startErr("app", tt.err)
			if se.Code != tt.code || se.Transient() != tt.transient {
				t.Fatalf("%v: code %d, transient %v; want %d, %v", tt.err, se.Code, se.Transient(), tt.code, tt.transient)
			}
			if tt.transient && !strings.Contains(se.Error(), unix.ErrnoName(tt.err)) {
				t.Errorf("%q does not name the errno", se.Error())
			}
		})
	}
}
