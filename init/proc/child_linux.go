package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// defaultPath is searched when the environment has no PATH, as execvp does
// on glibc and musl.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Exit codes for a PROGRAM that never ran: 127 and 126 as POSIX shells
// use them, 1 as tini and dumb-init exit when fork fails.
const (
	CodeNotFound      = 127
	CodeNotExecutable = 126
	// CodeNoResources: the kernel lacked a resource to start it (EAGAIN,
	// ENOMEM, EMFILE, ENFILE). That is no verdict on PROGRAM: the same
	// start may work a moment later.
	CodeNoResources = 1
)

// StartError is a PROGRAM that could not be started. Code is 127, 126 or
// CodeNoResources.
type StartError struct {
	Program string
	Code    int
	Err     error
}

func (e *StartError) Error() string {
	var errno unix.Errno
	if e.Code == CodeNoResources && errors.As(e.Err, &errno) {
		// The errno's name as well: "resource temporarily unavailable"
		// alone is hard to search for.
		return fmt.Sprintf("start %q: %v (%s)", e.Program, e.Err, unix.ErrnoName(errno))
	}
	return fmt.Sprintf("start %q: %v", e.Program, e.Err)
}

// Transient reports whether the start failed for want of a resource, not
// because of PROGRAM: trying again later may work.
func (e *StartError) Transient() bool { return e.Code == CodeNoResources }

func (e *StartError) Unwrap() error { return e.Err }

// Spec says what to start.
type Spec struct {
	// Argv is PROGRAM and its arguments; PROGRAM is looked up in Env's
	// PATH, and a relative one (or a relative PATH entry) in Dir.
	Argv []string
	// Env is the child's environment.
	Env []string
	// Dir is the child's working directory; "" keeps tinit's.
	Dir string
	// PrevGroup is the process group of the previous main child (0 for
	// the first): when it still holds the terminal's foreground, the new
	// child takes it over, as the first child took it from tinit.
	PrevGroup int
}

// Child is a started main child. It leads its own process group: its
// group id is its pid.
type Child struct {
	Pid        int
	Foreground bool
	// TTYErr is why the child's group could not take the terminal, when
	// it was tried and failed.
	TTYErr error
}

// Start starts spec.Argv as a direct child of tinit, in a new process
// group that becomes the terminal's foreground group when stdin is tinit's
// controlling terminal and tinit's group or spec.PrevGroup holds it.
//
// It uses syscall.ForkExec: os.StartProcess would open a pidfd and hand back
// an *os.Process whose Wait races the reaper. The child gets fds 0-2, plus
// whatever tinit inherited without close-on-exec (sockets passed by the
// runtime); everything tinit opens itself is close-on-exec in Go. Signal
// dispositions: the runtime resets every handled signal to the default in
// the child, and a SIGHUP or SIGINT that tinit inherited ignored was never
// handled, so it stays ignored.
func Start(spec Spec) (Child, error) {
	argv, env := spec.Argv, spec.Env
	if spec.Dir != "" {
		// The child's chdir fails as ENOENT, which exec would report as
		// PROGRAM not found: name the directory instead.
		if fi, err := os.Stat(spec.Dir); err != nil || !fi.IsDir() {
			if err == nil {
				err = errors.New("not a directory")
			}
			code := CodeNotFound
			if resource(err) {
				code = CodeNoResources
			}
			return Child{}, &StartError{Program: argv[0], Code: code, Err: fmt.Errorf("working directory: %w", err)}
		}
	}
	path, err := lookPath(argv[0], spec.Env, spec.Dir)
	if err != nil {
		return Child{}, err
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	fg := holdsTerminal(spec.PrevGroup)
	var ttyErr error
	if fg {
		// The runtime's child calls TIOCSPGRP with every signal blocked,
		// so no SIGTTOU can stop it from a background group.
		sys.Foreground = true
		sys.Ctty = 0
	}
	attr := &syscall.ProcAttr{Dir: spec.Dir, Env: env, Files: []uintptr{0, 1, 2}, Sys: sys}
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil && fg && isTTYError(err) {
		// The terminal went away or refused between the check and the
		// ioctl: a foreground group is a convenience, the child is not.
		fg, sys.Foreground = false, false
		ttyErr = err
		pid, err = syscall.ForkExec(path, argv, attr)
	}
	if errors.Is(err, unix.ENOEXEC) {
		// A script without "#!": execvp, and so tini, runs it with the
		// shell; do the same when there is one.
		if _, serr := os.Stat(shell); serr == nil {
			pid, err = syscall.ForkExec(shell, append([]string{shell, path}, argv[1:]...), attr)
		}
	}
	if err != nil {
		// ENOENT with the file there is its interpreter or loader.
		return Child{}, startErr(argv[0], err)
	}
	return Child{Pid: pid, Foreground: fg, TTYErr: ttyErr}, nil
}

// shell runs scripts that have no "#!" line.
const shell = "/bin/sh"

// holdsTerminal reports whether stdin is tinit's controlling terminal and
// its foreground group is tinit's own or prev, the previous main child's.
// tcgetpgrp fails with ENOTTY for a terminal that is not ours (under
// setsid), and for anything that is not a terminal at all. A tinit started
// as a background job must not take the terminal from the shell's
// foreground job. The previous child's group may be empty by now: the
// terminal still names it, and no other process can have taken its number
// while the terminal refers to it. In a new PID namespace whose terminal
// belongs to the parent namespace, tinit's group and a group the parent
// set both read as 0; then tinit is the container's init and the terminal
// is its own.
func holdsTerminal(prev int) bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && (fg == unix.Getpgrp() || (prev > 0 && fg == prev))
}

func isTTYError(err error) bool {
	return errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.ENXIO) ||
		errors.Is(err, unix.EIO) || errors.Is(err, unix.EPERM)
}

// lookPath finds program the way a shell started in dir does: a name with
// a slash is used as is, a bare name is searched in the environment's
// PATH; a relative result is taken from dir, since tinit's own working
// directory is "/" by then. Not found is 127; found but not executable (no
// x bit, a directory) is 126.
func lookPath(program string, env []string, dir string) (string, error) {
	if program == "" {
		return "", &StartError{Program: program, Code: CodeNotFound, Err: errors.New("empty program name")}
	}
	if strings.Contains(program, "/") {
		p := inDir(dir, program)
		if err := executable(p); err != nil {
			return "", startErr(program, err)
		}
		return p, nil
	}
	var denied error
	for _, entry := range filepath.SplitList(pathOf(env)) {
		if entry == "" {
			entry = "."
		}
		p := inDir(dir, filepath.Join(entry, program))
		err := executable(p)
		if err == nil {
			return p, nil
		}
		if denied == nil && !errors.Is(err, fs.ErrNotExist) {
			denied = err
		}
	}
	if denied != nil {
		return "", startErr(program, denied)
	}
	return "", &StartError{Program: program, Code: CodeNotFound, Err: errors.New("not found in PATH")}
}

// startErr gives err its exit code as bash does: not found (ENOENT) is
// 127, a resource the kernel lacked (fork's EAGAIN under a full pids
// cgroup, ENOMEM, a full fd table) is CodeNoResources, and every other
// error of exec (EACCES, ENOEXEC, ENOTDIR, ELOOP, ETXTBSY, E2BIG...) is
// 126.
func startErr(program string, err error) *StartError {
	code := CodeNotExecutable
	switch {
	case resource(err):
		code = CodeNoResources
	case errors.Is(err, fs.ErrNotExist):
		code = CodeNotFound
	}
	return &StartError{Program: program, Code: code, Err: err}
}

// resource reports whether err is the kernel running short of something
// (processes, memory, file descriptors) rather than a fault of PROGRAM.
func resource(err error) bool {
	for _, e := range []unix.Errno{unix.EAGAIN, unix.ENOMEM, unix.EMFILE, unix.ENFILE} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// executable reports why path cannot be executed, or nil.
func executable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	case fi.IsDir():
		return errors.New("is a directory")
	case fi.Mode()&0o111 == 0:
		return fs.ErrPermission
	}
	return nil
}

// inDir resolves a relative path against dir, the child's directory.
func inDir(dir, path string) string {
	if dir == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

func pathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return defaultPath
}
