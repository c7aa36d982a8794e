// Command mininit is the smallest Go init the benchmark compares tinit
// with: it runs PROGRAM in a new process group, forwards SIGTERM, SIGINT,
// SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to that group, reaps every child on
// SIGCHLD and exits with PROGRAM's code (128+N when signal N killed it).
// No flags, no logging, no health endpoint, no restarts: what is left is
// the Go runtime's own cost.
//
// With -all it forwards every catchable signal, as tinit does: os/signal
// makes a round trip to the runtime's signal thread for each one, and the
// benchmark shows that cost apart from tinit's own.
//
//	mininit [-all] [--] PROGRAM [ARGS...]
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	args := os.Args[1:]
	all := len(args) > 0 && args[0] == "-all"
	if all {
		args = args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		os.Stderr.WriteString("usage: mininit [-all] [--] PROGRAM [ARGS...]\n")
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT,
		syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	if all {
		for n := 1; n <= 64; n++ {
			switch s := syscall.Signal(n); s {
			case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGURG, 32, 33,
				syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGPROF:
			default:
				signal.Notify(sigs, s)
			}
		}
	}

	pid, err := syscall.ForkExec(args[0], args, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		os.Stderr.WriteString("mininit: " + err.Error() + "\n")
		os.Exit(127)
	}
	for s := range sigs {
		sig := s.(syscall.Signal)
		if sig != syscall.SIGCHLD {
			syscall.Kill(-pid, sig)
			continue
		}
		for {
			var ws syscall.WaitStatus
			got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || got <= 0 {
				break
			}
			if got == pid {
				if ws.Signaled() {
					os.Exit(128 + int(ws.Signal()))
				}
				os.Exit(ws.ExitStatus())
			}
		}
	}
}
