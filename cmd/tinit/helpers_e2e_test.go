package main_test

// Helper programs for the end-to-end tests: the test binary re-runs itself
// as the child (or grandchild) of tinit, with E2E_HELPER naming the part.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const helperEnv = "E2E_HELPER"

// runHelper runs the helper named by E2E_HELPER and exits; it returns only
// when the process is the ordinary test binary.
func runHelper() {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	os.Unsetenv(helperEnv)
	args := os.Args[1:]
	switch mode {
	case "exit":
		n, _ := strconv.Atoi(args[0])
		os.Exit(n)
	case "selfkill":
		sig, _ := strconv.Atoi(args[0])
		unix.Kill(os.Getpid(), syscall.Signal(sig))
		time.Sleep(5 * time.Second)
		os.Exit(99)
	case "state":
		printState()
		os.Exit(0)
	case "storm":
		n, _ := strconv.Atoi(args[0])
		storm(n)
		os.Exit(0)
	case "orphans":
		// Make N orphans, wait up to 1s for tinit to reap them, report the
		// zombies left in the namespace, then stay alive until killed.
		n, _ := strconv.Atoi(args[0])
		runStorm(n)
		deadline := time.Now().Add(time.Second)
		z := zombies()
		for z > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			z = zombies()
		}
		fmt.Printf("zombies=%d\n", z)
		blockForever()
	case "storm-and-block":
		// An orphan storm under way while the default SIGTERM action waits.
		n, _ := strconv.Atoi(args[0])
		startStorm(n)
		fmt.Println("ready")
		blockForever()
	case "family":
		n, _ := strconv.Atoi(args[2])
		helperFamily(args[0], args[1], n)
	case "catcher":
		helperCatcher(args[0])
	case "notify":
		helperNotify(args)
	case "notify-orphan":
		// The middle of a double fork: start the sender and exit, so that
		// it is re-parented to tinit, out of the main child's tree.
		c := exec.Command("/proc/self/exe", args...)
		c.Env = append(os.Environ(), helperEnv+"=notify")
		c.Start()
		os.Exit(0)
	case "pdeath":
		// args: TINIT FILE. A middle process starts "TINIT -p TERM" over a
		// catcher and exits at once; the catcher's file then says whether
		// tinit got SIGTERM from its parent's death and forwarded it.
		mid := exec.Command("/proc/self/exe", args...)
		mid.Env = append(os.Environ(), helperEnv+"=pdeath-middle")
		mid.Stderr = os.Stderr
		mid.Run()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(args[1]); err == nil && len(b) > 0 {
				fmt.Println(string(b))
				os.Exit(0)
			}
			time.Sleep(10 * time.Millisecond)
		}
		fmt.Println("nothing")
		os.Exit(0)
	case "pdeath-middle":
		// Not /proc/self/exe: in tinit's child that names tinit.
		self, _ := os.Executable()
		inner := exec.Command(args[0], "-p", "TERM", "--", self, args[1])
		inner.Env = append(os.Environ(), helperEnv+"=catcher")
		inner.Stderr = os.Stderr
		out, _ := inner.StdoutPipe()
		inner.Start()
		bufio.NewReader(out).ReadString('\n')
		os.Exit(0)
	case "burst":
		// Stall tinit on its log (-w, 5,000 orphans, a stderr nobody
		// reads), then send it 1,000 SIGUSR1 and one SIGTERM.
		runStorm(5000)
		tinit := os.Getppid()
		for i := 0; i < 1000; i++ {
			unix.Kill(tinit, syscall.SIGUSR1)
		}
		unix.Kill(tinit, syscall.SIGTERM)
		fmt.Println("sent")
		blockForever()
	case "leave-group":
		// Ignore SIGTERM, move to a process group of our own, wait.
		signal.Ignore(syscall.SIGTERM)
		syscall.Setpgid(0, 0)
		fmt.Println("ready")
		blockForever()
	case "bg-run":
		// A session leader on a terminal runs args as a background job.
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), helperEnv+"="+os.Getenv("E2E_NEXT"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Run()
		fmt.Printf("leader_pgrp=%d\n", syscall.Getpgrp())
		os.Exit(0)
	case "ignore-hup-exec":
		signal.Ignore(syscall.SIGHUP)
		execArgs(args)
	case "ignore-32-exec":
		// As GNU make does. The runtime leaves 32 alone, so set it raw;
		// the handler comes first in struct sigaction on amd64 and arm64.
		act := [4]uint64{1} // SIG_IGN
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, 32, uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
		execArgs(args)
	case "ignore-32-33-exec":
		// Both C library signals ignored, as GNU make leaves them.
		for _, sig := range []uintptr{32, 33} {
			act := [4]uint64{1} // SIG_IGN
			syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
		}
		execArgs(args)
	case "record":
		helperRecord(args[0], args[1:], false)
	case "record-stamped":
		// As record, each name followed by the wall clock in nanoseconds.
		helperRecord(args[0], args[1:], true)
	case "count-term":
		// args: FILE READY. Append a line to FILE for each SIGTERM, at
		// once (a slow handler would let two TERMs coalesce); create READY
		// once the handler is in place; exit 0 half a second after the
		// first TERM.
		f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(100)
		}
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, syscall.SIGTERM)
		os.WriteFile(args[1], nil, 0o644)
		var end <-chan time.Time
		for {
			select {
			case <-sigs:
				f.WriteString("TERM\n")
				if end == nil {
					end = time.After(500 * time.Millisecond)
				}
			case <-end:
				os.Exit(0)
			}
		}
	case "state-exit":
		// The state, then the exit code given.
		printState()
		n, _ := strconv.Atoi(args[0])
		os.Exit(n)
	case "join-group-1":
		// Move into process group 1 (tinit's, when it leads its own
		// group), say ready, exit 0 on SIGTERM.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		if err := syscall.Setpgid(0, 1); err != nil {
			fmt.Fprintf(os.Stderr, "setpgid(0, 1): %v\n", err)
			os.Exit(101)
		}
		fmt.Println("ready")
		<-sigs
		os.Exit(0)
	case "block-usr1-exec":
		runtime.LockOSThread()
		var set unix.Sigset_t
		set.Val[0] = 1 << (uint(syscall.SIGUSR1) - 1)
		unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil)
		execArgs(args)
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q\n", mode)
	os.Exit(100)
}

// execArgs execs args; E2E_NEXT names the helper mode the exec'd chain
// ends in.
func execArgs(args []string) {
	os.Setenv(helperEnv, os.Getenv("E2E_NEXT"))
	os.Unsetenv("E2E_NEXT")
	path, err := exec.LookPath(args[0])
	if err == nil {
		err = syscall.Exec(path, args, os.Environ())
	}
	fmt.Fprintf(os.Stderr, "exec %v: %v\n", args, err)
	os.Exit(100)
}

// printState reports what the child inherited: its process group, the
// terminal's foreground group, ignored and blocked signals, open fds.
func printState() {
	stat, _ := os.ReadFile("/proc/self/stat")
	// Fields after the ")" that ends comm: state ppid pgrp session tty tpgid.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	fmt.Printf("pid=%d\npgrp=%s\ntpgid=%s\n", os.Getpid(), f[2], f[5])
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && (k == "SigIgn" || k == "SigBlk") {
			fmt.Printf("%s=%s\n", k, strings.TrimSpace(v))
		}
	}
	d, _ := os.Open("/proc/self/fd")
	names, _ := d.Readdirnames(-1)
	var fds []string
	for _, n := range names {
		if n != strconv.Itoa(int(d.Fd())) {
			fds = append(fds, n)
		}
	}
	d.Close()
	fmt.Printf("fds=%s\n", strings.Join(fds, ","))
}

// runStorm makes n orphans: a storm process forks n children that exit at
// once and exits itself without waiting, so they all go to tinit.
func runStorm(n int) {
	cmd := exec.Command("/proc/self/exe", strconv.Itoa(n))
	cmd.Env = append(os.Environ(), helperEnv+"=storm")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "storm: %v\n", err)
	}
}

// startStorm starts a storm of n orphans and returns once a tenth of them
// exist, so that the caller acts while the storm is under way.
func startStorm(n int) {
	cmd := exec.Command("/proc/self/exe", strconv.Itoa(n))
	cmd.Env = append(os.Environ(), helperEnv+"=storm")
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "storm: %v\n", err)
		os.Exit(100)
	}
	bufio.NewReader(out).ReadString('\n')
	go cmd.Wait()
}

// blockForever waits for a signal's default action. A bare select {}
// would be a deadlock, which the runtime ends with exit 2.
func blockForever() {
	for {
		time.Sleep(time.Hour)
	}
}

func storm(n int) {
	for i := 0; i < n; i++ {
		if i == n/10 {
			fmt.Println("storming")
		}
		if err := forkExit(); err != 0 {
			fmt.Fprintf(os.Stderr, "fork %d: %v\n", i, err)
			os.Exit(1)
		}
	}
}

// forkExit forks a child that exits at once. The child runs no Go code
// beyond the two raw system calls, so the copied runtime never runs.
//
//go:nosplit
func forkExit() syscall.Errno {
	pid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if errno != 0 {
		return errno
	}
	if pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return 0
}

// zombies counts the zombies visible in this process's /proc.
func zombies() int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && procState(pid) == "Z" {
			n++
		}
	}
	return n
}

// caught lists the signals the family helpers record. SIGPIPE, which tinit
// does not forward, is in it so that a leak of it through tinit would be
// seen; SIGSEGV and SIGBUS, which tinit forwards when kill(2) sent them.
var caught = []os.Signal{syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGPIPE}

// family is a main child with a grandchild in its process group: each
// writes the first signal it gets to its file. The main child then waits
// up to 2s for the grandchild and exits 43. With stormN > 0 an orphan storm
// is under way when it says it is ready.
func helperFamily(mainFile, grandFile string, stormN int) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, caught...)
	gc := exec.Command("/proc/self/exe", grandFile)
	gc.Env = append(os.Environ(), helperEnv+"=catcher")
	out, _ := gc.StdoutPipe()
	gc.Stderr = os.Stderr
	if err := gc.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(100)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		os.Exit(101)
	}
	if stormN > 0 {
		startStorm(stormN)
	}
	fmt.Println("ready")
	sig := firstReal(sigs)
	os.WriteFile(mainFile, []byte(sig.String()), 0o644)
	done := make(chan struct{})
	go func() { gc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		gc.Process.Kill()
		<-done
	}
	os.Exit(43)
}

func helperCatcher(file string) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, caught...)
	fmt.Println("ready")
	sig := firstReal(sigs)
	os.WriteFile(file, []byte(sig.String()), 0o644)
	os.Exit(0)
}

// firstReal returns the first signal other than SIGURG, which the Go
// runtime sends itself to preempt goroutines.
func firstReal(sigs chan os.Signal) os.Signal {
	for s := range sigs {
		if s != syscall.SIGURG {
			return s
		}
	}
	return nil
}

// helperRecord appends the name of each signal it gets (TERM, QUIT, ...)
// to file, one a line; with stamp, the name is followed by a space and the
// time it came, in Unix nanoseconds. specs name the signals to catch; one
// ending in "!" also ends the helper with exit 0 once it is recorded. It
// says ready once every handler is in place.
func helperRecord(file string, specs []string, stamp bool) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(100)
	}
	exitOn := map[os.Signal]bool{}
	var sigs []os.Signal
	for _, spec := range specs {
		name, last := strings.CutSuffix(spec, "!")
		sig := unix.SignalNum("SIG" + name)
		if sig == 0 {
			fmt.Fprintf(os.Stderr, "record: unknown signal %q\n", name)
			os.Exit(100)
		}
		sigs = append(sigs, sig)
		exitOn[sig] = last
	}
	ch := make(chan os.Signal, 64)
	signal.Notify(ch, sigs...)
	fmt.Println("ready")
	for sig := range ch {
		s := sig.(syscall.Signal)
		line := strings.TrimPrefix(unix.SignalName(s), "SIG")
		if stamp {
			line += " " + strconv.FormatInt(time.Now().UnixNano(), 10)
		}
		f.WriteString(line + "\n")
		if exitOn[sig] {
			os.Exit(0)
		}
	}
}
