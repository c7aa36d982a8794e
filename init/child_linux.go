package supervise

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

// StartError is a PROGRAM that could not be started. Code is 127 or 126.
type StartError struct {
	Program string
	Code    int
	Err     error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("start %q: %v", e.Program, e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// child is a started main child.
type child struct {
	pid        int
	foreground bool
	// ttyErr is why the child's group could not take the terminal, when
	// it was tried and failed.
	ttyErr error
}

// startChild starts argv as the only direct child of tinit, in a new
// process group that becomes the terminal's foreground group when stdin is
// tinit's controlling terminal.
//
// It uses syscall.ForkExec: os.StartProcess would open a pidfd and hand back
// an *os.Process whose Wait races the reaper. The child gets fds 0-2, plus
// whatever tinit inherited without close-on-exec (sockets passed by the
// runtime); everything tinit opens itself is close-on-exec in Go. Signal
// dispositions: the runtime resets every handled signal to the default in
// the child, and a SIGHUP or SIGINT that tinit inherited ignored was never
// handled, so it stays ignored.
func startChild(argv, env []string) (child, error) {
	path, err := lookPath(argv[0], env)
	if err != nil {
		return child{}, err
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	fg := ownsTerminal()
	var ttyErr error
	if fg {
		// The runtime's child calls TIOCSPGRP with every signal blocked,
		// so no SIGTTOU can stop it from a background group.
		sys.Foreground = true
		sys.Ctty = 0
	}
	attr := &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}, Sys: sys}
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
		code := CodeNotExecutable
		if errors.Is(err, unix.ENOENT) {
			// The file is there, so this is its interpreter or loader.
			code = CodeNotFound
		}
		return child{}, &StartError{Program: argv[0], Code: code, Err: err}
	}
	return child{pid: pid, foreground: fg, ttyErr: ttyErr}, nil
}

// shell runs scripts that have no "#!" line.
const shell = "/bin/sh"

// ownsTerminal reports whether stdin is tinit's controlling terminal and
// tinit is in its foreground group. tcgetpgrp fails with ENOTTY for a
// terminal that is not ours (under setsid), and for anything that is not a
// terminal at all. A tinit started as a background job must not take the
// terminal from the shell's foreground job. In a new PID namespace whose
// terminal belongs to the parent namespace, both groups read as 0 there;
// then tinit is the container's init and the terminal is its own.
func ownsTerminal() bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

func isTTYError(err error) bool {
	return errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.ENXIO) ||
		errors.Is(err, unix.EIO) || errors.Is(err, unix.EPERM)
}

// lookPath finds program the way a shell does: a name with a slash is used
// as is, a bare name is searched in the environment's PATH. Not found is
// 127; found but not executable (no x bit, a directory) is 126.
func lookPath(program string, env []string) (string, error) {
	if program == "" {
		return "", &StartError{Program: program, Code: CodeNotFound, Err: errors.New("empty program name")}
	}
	if strings.Contains(program, "/") {
		if err := executable(program); err != nil {
			return "", startErr(program, err)
		}
		return program, nil
	}
	var denied error
	for _, dir := range filepath.SplitList(pathOf(env)) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, program)
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

func startErr(program string, err error) *StartError {
	code := CodeNotExecutable
	if errors.Is(err, fs.ErrNotExist) {
		code = CodeNotFound
	}
	return &StartError{Program: program, Code: code, Err: err}
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

func pathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return defaultPath
}
