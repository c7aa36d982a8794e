// Command tinit is a tiny init for containers: it runs PROGRAM as its only
// child, forwards signals to it, reaps every zombie and exits with the
// child's exit code.
//
//	tinit [OPTIONS] [--] PROGRAM [ARGS...]
//
// Every option is one row of the options table (options.go): its flags,
// its TINIT_* variable (and tini's or dumb-init's, where they have one),
// default, help, parser and checks. tinit --help and the README's table
// are made from it. A flag on the command line wins over its variable.
//
// Exit codes: the child's code, 128+N when signal N killed it, 127 when
// PROGRAM is not found, 126 when it cannot be executed, 2 for a usage or
// configuration error (no child is started then), a RLIMIT_NOFILE too low
// to start PROGRAM included. --healthcheck exits 0 or 1; --install exits 0,
// or 1 when it cannot write the directory.

// An init needs no say in GOMAXPROCS: these stop the runtime from keeping
// two cgroup files open and re-checking the CPU limits for the life of the
// container. (Go 1.26 still reads them once at start.)
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	// Its init grows the main goroutine's stack before any other init runs.
	_ "github.com/tinit/tinit/cmd/tinit/internal/mainstack"
	"github.com/tinit/tinit/healthz"
	"github.com/tinit/tinit/init/supervise"
	"github.com/tinit/tinit/init/watch"
	"github.com/tinit/tinit/notify"
	"github.com/tinit/tinit/reaper"
	"github.com/tinit/tinit/signals"
)

// codeUsage is tinit's own usage or configuration error.
const codeUsage = 2

// codeInstall is a failed --install (the directory is missing or not
// writable): the files were the problem, not the command line.
const codeInstall = 1

func main() {
	// Before anything registers a handler: a blocked mask inherited from
	// the parent would otherwise be inherited by the child too.
	clearInheritedMask()
	// Before the child can exist: a Go PID 1 that has not asked for
	// SIGTERM cannot forward it.
	sigs := signals.Register()
	// Made while the configuration is read; waited for before the child.
	// A one-shot mode starts no child and needs none: --healthcheck runs
	// every HEALTHCHECK interval, maybe under the same pids limit.
	var threads *reservation
	if !oneShot(os.Args[1:]) {
		threads = reserveThreads()
	}
	os.Exit(run(os.Args[1:], sigs, threads, os.Stdout, os.Stderr))
}

// gcPercent is tinit's GOGC, a tenth of the default, from gcDelay after
// the start.
const (
	gcPercent = 10
	gcDelay   = time.Second
)

// run is tinit minus the process exit, so that only main exits.
func run(args []string, sigs *signals.Channels, threads *reservation, stdout, stderr io.Writer) int {
	ppid := os.Getppid()
	st, errs := load(args)
	asJSON := jsonErrors(st, args)
	if (st != nil && st.mode == "healthcheck") || (st == nil && askedForHealthcheck(args)) {
		// Docker reserves exit 2 for HEALTHCHECK: every failure here is 1.
		if err := checkFDs(fdProbe); err != nil {
			fmt.Fprintf(stderr, "tinit --healthcheck: %v\n", err)
			return 1
		}
		return healthcheck(st, errs, stderr)
	}
	// The other modes write a line or two, directly, and start no timer:
	// they need neither the queue below nor the descriptors.
	if st != nil && st.mode != "" {
		if len(errs) > 0 {
			usageErrors(stderr, asJSON, errs)
			return codeUsage
		}
		switch st.mode {
		case "help":
			usage(stdout)
			return 0
		case "license":
			io.WriteString(stdout, licenseNotice)
			return 0
		case "version":
			if err := printVersion(stdout, thisBuild(), st.asJSON); err != nil {
				fmt.Fprintf(stderr, "tinit: %v\n", err)
				return 1
			}
			return 0
		}
		// Opening a file opens the runtime's poller too.
		if err := checkFDs(fdInstall); err != nil {
			errorLines(stderr, asJSON, fmt.Errorf("install: %w", err))
			return codeInstall
		}
		if err := install(st.installDir); err != nil {
			errorLines(stderr, asJSON, err)
			return codeInstall
		}
		return 0
	}

	// Before the first timer: that is when the Go runtime opens its poller,
	// and failing to is a fatal error with a stack trace. Written directly:
	// queuing would need a timer for the flush.
	need := fdHeadroom
	if st != nil && st.health.src != "" {
		need++ // the listener
	}
	if st != nil && st.Notify.On {
		// The socket, and what one datagram may pass until it is closed.
		need += 1 + notify.MaxFDs
	}
	if st != nil && st.reloadOn.src != "" {
		need += watch.FDs // the inotify descriptor
	}
	if st != nil {
		need += len(st.waitTargets) // a socket each, while they are tried
	}
	err := checkFDs(need)
	if err == nil && st != nil && st.health.src != "" {
		err = healthz.CheckFDLimit(st.checks.Count() + len(st.waitTargets))
	}
	if err != nil {
		if len(errs) > 0 {
			usageErrors(stderr, asJSON, append(errs, err))
		} else {
			errorLines(stderr, asJSON, err)
		}
		return codeUsage
	}
	// Everything tinit writes to stderr from here, its own errors as much
	// as the log, is queued and flushed for at most flushWait at exit: a
	// stderr nobody reads (a stalled blocking log driver) cannot keep tinit
	// from exiting, with a usage error or with the child's code.
	logOut := newAsyncWriter(stderr, asJSON)
	defer logOut.Close()
	stderr = logOut
	if len(errs) > 0 {
		usageErrors(stderr, asJSON, errs)
		return codeUsage
	}
	log := newLogger(st.level, st.json, logOut)
	if sigs.Err != nil {
		log.Warnf("%v: the child may inherit an ignored signal 32 or 34", sigs.Err)
	}
	if st.pdeathsig != 0 {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(st.pdeathsig), 0, 0, 0); err != nil {
			log.WithField("signal", signals.Name(st.pdeathsig)).Warnf("prctl(PR_SET_PDEATHSIG): %v", err)
		} else if os.Getppid() != ppid {
			// The parent died before the prctl: the kernel will not send
			// the signal, so send it now.
			unix.Kill(os.Getpid(), st.pdeathsig)
		}
	}
	// Not PID 1: become a subreaper, so orphans still come to tinit and
	// not to whatever init the host runs. As PID 1 it would change nothing.
	if os.Getpid() != 1 && (st.subreaper == nil || *st.subreaper) {
		if err := reaper.SetSubreaper(); err != nil {
			log.Warnf("%v: orphans will go to the real init", err)
		}
	}
	// Made before the health endpoint, which shows what it waits for.
	var waiter *healthz.Wait
	if len(st.waitTargets) > 0 {
		waiter = healthz.NewWait(st.waitTargets, wallClock{})
	}
	var status *healthz.State
	if st.health.src != "" {
		status = healthz.NewState()
		ln, err := healthz.Listen(st.health.vals[0])
		if err != nil {
			// Before the child starts: a probe that can never answer
			// would get the pod killed over and over.
			errorLines(stderr, asJSON, fmt.Errorf("%s: %w", st.health.src, err))
			return codeUsage
		}
		var checks *healthz.Checks
		if st.checks.Count() > 0 {
			checks = healthz.NewChecks(st.checks, wallClock{})
			// One stat(2) at a time for both: a hung mount holds one
			// thread, not two (the thread budget).
			checks.ShareStat(waiter)
			go checks.Run(context.Background())
		}
		b := thisBuild()
		h := healthz.NewHandler(status, checks, wallClock{})
		if waiter != nil {
			h = h.WithWait(waiter)
		}
		healthz.Serve(ln, h.WithBuild(healthz.BuildInfo{Version: b.Version, Commit: b.Commit, GoVersion: b.Go}))
		log.WithField("addr", ln.Addr().String()).Info("health endpoint listening")
	}
	env := os.Environ()
	var notes chan notify.Message
	if st.Notify.On {
		path, src := "", "--notify (TINIT_NOTIFY)"
		if st.notifySocket.src != "" {
			path, src = st.notifySocket.vals[0], st.notifySocket.src
		}
		sock, err := notify.Listen(path)
		if err != nil {
			// Before the child starts: it would wait for a socket that
			// is not there, and readiness would never come.
			errorLines(stderr, asJSON, fmt.Errorf("%s: %w", src, err))
			return codeUsage
		}
		defer sock.Close()
		// Room for a burst: the reader waits when it is full, and the
		// kernel's buffer holds the rest.
		notes = make(chan notify.Message, 64)
		go sock.Run(notes)
		env = notifyEnv(env, sock.Addr(), st.Notify.Watchdog)
		log.WithField("socket", sock.Addr()).Info("notify socket open")
	}
	var changes chan watch.Change
	if st.reloadOn.src != "" {
		w, err := watch.New(st.reloadOn.vals, st.reloadDebounce)
		if err != nil {
			// Before the child starts: its reloads would never come.
			errorLines(stderr, asJSON, fmt.Errorf("%s: %w", st.reloadOn.src, err))
			return codeUsage
		}
		defer func() {
			// A watcher that stopped reading (a failed read of inotify)
			// says so here at the latest.
			if err := w.Close(); err != nil {
				log.Warnf("%s: %v", st.reloadOn.src, err)
			}
		}()
		// One slot: the watcher debounces, and the loop reads at once.
		changes = make(chan watch.Change, 1)
		go w.Run(changes)
		log.WithField("paths", st.reloadOn.vals).Info("watching for changes (--reload-on)")
	}
	for _, sig := range sigs.KeptIgnored {
		if sig == st.Reload.RestartSignal || (sig == st.Reload.Signal && st.reloadOn.src != "") {
			// The kernel discards it: tinit never sees it, or the child
			// never hears it.
			log.WithField("signal", signals.Name(sig)).Warn("ignored when tinit started (nohup): as --restart-signal it never reaches tinit, and as --reload-signal the child does not hear it")
		}
		log.WithField("signal", signals.Name(sig)).Debug("ignored when tinit started: it stays ignored for the child and is not forwarded")
	}
	// tinit's live heap is a few hundred kB, while every restart and every
	// log line leaves garbage behind. At Go's default the heap grows to its
	// 4 MiB minimum goal before the first collection; a low goal keeps the
	// resident size flat for the life of the container, for a few
	// microseconds of collection now and then. Set a moment after the
	// start: the start-up's own allocations already pass the low goal, and
	// setting it at once started a collection (and its worker threads)
	// while the child was starting: about 4 ms of CPU on every start,
	// measured, and most of what a short-lived container pays for tinit.
	// A GOGC the user set wins.
	if os.Getenv("GOGC") == "" {
		time.AfterFunc(gcDelay, func() { debug.SetGCPercent(gcPercent) })
	}
	// Before the child exists: it may use up every process slot there is.
	if threads == nil { // oneShot guessed a mode the parser did not see
		threads = reserveThreads()
	}
	n := threads.wait()
	if log.IsLevelEnabled(logrus.DebugLevel) {
		log.WithFields(logrus.Fields{"gomaxprocs": runtime.GOMAXPROCS(0), "threads": n, "budget": threads.budget}).Debug("threads reserved for the child's start")
	}
	dir := leaveWorkingDir(log)
	cfg := st.Config
	cfg.Env = env
	cfg.Dir = dir
	cfg.Status = status
	cfg.Log = log
	if waiter != nil {
		cfg.Wait.Targets = waiter
	}
	res := supervise.Run(cfg, supervise.Signals{Child: sigs.Child, Alarm: sigs.Alarm, Other: sigs.Other, Heartbeat: sigs.Heartbeat, Notify: notes, Changes: changes})
	// Guarded: logrus builds the entry before it checks the level.
	if log.IsLevelEnabled(logrus.InfoLevel) {
		log.WithFields(logrus.Fields{"code": res.Code, "restarts": res.Restarts}).Infof("exiting: %s", res.Reason)
	}
	if st.termLog != "" {
		if err := writeTerminationLog(st.termLog, res); err != nil {
			log.Warn(err)
		}
	}
	return res.Code
}

// notifyEnv is the child's environment with --notify: NOTIFY_SOCKET is
// tinit's socket, and WATCHDOG_USEC the watchdog's period when there is
// one. What tinit inherited of these (it may run under systemd itself) is
// not passed on: it was meant for tinit. WATCHDOG_PID is never set: the
// child's pid is not known before the fork, and without it libsystemd and
// go-systemd take the watchdog as the calling process's.
func notifyEnv(env []string, addr string, watchdog time.Duration) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID":
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "NOTIFY_SOCKET="+addr)
	if watchdog > 0 {
		out = append(out, "WATCHDOG_USEC="+strconv.FormatInt(watchdog.Microseconds(), 10))
	}
	return out
}

// leaveWorkingDir moves tinit to "/", so that it does not pin the mount
// it was started in for the life of the container, and returns the
// directory every child starts in. A directory that cannot be read is
// kept as it is: "" starts the children in tinit's own.
func leaveWorkingDir(log *logrus.Logger) string {
	dir, err := os.Getwd()
	if err != nil {
		log.Warnf("read the working directory: %v; staying in it", err)
		return ""
	}
	if err := os.Chdir("/"); err != nil {
		log.Warnf("chdir /: %v; staying in %s", err, dir)
		return ""
	}
	return dir
}

// fdHeadroom is how many file descriptors tinit needs free to start
// PROGRAM: two for the Go runtime's poller (an epoll and its wake-up
// eventfd, opened with the first timer) and two for the pipe that carries
// a failed exec's error back from the child. The health endpoint's
// listener needs one more, --notify five (its socket and the notify.MaxFDs
// a datagram may pass). Measured: with RLIMIT_NOFILE at 4 the runtime died
// opening its poller (a stack trace, exit 2), at 5 and 6 the child's start
// failed with EMFILE (exit 126, as if PROGRAM were not executable), at 7
// (stdio and these four) everything ran.
const fdHeadroom = 4

// fdProbe is what --healthcheck needs: the poller's two and a socket.
const fdProbe = 3

// fdInstall is what --install needs: the poller's two, the running binary
// and the copy.
const fdInstall = 4

// checkFDs makes sure that need descriptors can be opened, by opening
// them, and closes them again. Opened rather than counted: the lowest free
// numbers are what the next open gets, and /proc may not be there to count
// with.
func checkFDs(need int) error {
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for len(fds) < need {
		var err error
		if need-len(fds) >= 2 {
			var p [2]int
			if err = unix.Pipe2(p[:], unix.O_CLOEXEC); err == nil {
				fds = append(fds, p[0], p[1])
			}
		} else {
			var fd int
			if fd, err = unix.FcntlInt(uintptr(fds[0]), unix.F_DUPFD_CLOEXEC, 0); err == nil {
				fds = append(fds, fd)
			}
		}
		if err != nil {
			var lim unix.Rlimit
			unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
			return fmt.Errorf("RLIMIT_NOFILE (ulimit -n) %d leaves fewer than the %d free file descriptors tinit needs (%v): raise it", lim.Cur, need, err)
		}
	}
	return nil
}

// termLogWait bounds writing the termination log. The open cannot wait
// for a FIFO's reader (O_NONBLOCK) and the write cannot wait for room in
// one; what is left is a filesystem that does not answer (a hung NFS
// mount), and the child's exit code matters more than the line. A FUSE
// daemon that has taken the request and never answers is beyond it: the
// thread waits uninterruptibly, and the kernel cannot finish tinit's exit
// until the daemon answers or dies.
const termLogWait = time.Second

// writeTerminationLog writes one line saying why tinit exits. Kubernetes
// shows it as the container's termination message when the path is
// /dev/termination-log. It returns within termLogWait.
func writeTerminationLog(path string, res supervise.Result) error {
	line := fmt.Sprintf("tinit exit %d: %s (restarts: %d)\n", res.Code, res.Reason, res.Restarts)
	// Buffered: a write that outlives the wait still ends, not blocked.
	done := make(chan error, 1)
	go func() { done <- writeNonblocking(path, []byte(line)) }()
	t := time.NewTimer(termLogWait)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("write termination log %s: no answer within %v (a hung filesystem?): exiting without it", path, termLogWait)
	}
}

// writeNonblocking writes b to path, created 0644 (less the umask) or
// truncated, without ever waiting for a reader: raw system calls, since
// an *os.File on a non-blocking FIFO would park in the runtime's poller
// until a reader makes room, which is the wait this avoids.
func writeNonblocking(path string, b []byte) error {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o644)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case errors.Is(err, unix.ENXIO):
		// A FIFO with no reader: blocking, this open waited for ever.
		return fmt.Errorf("write termination log: %s is a FIFO nobody reads: not written", path)
	case err != nil:
		return fmt.Errorf("write termination log: open %s: %w", path, err)
	}
	defer unix.Close(fd)
	var n int
	for {
		n, err = unix.Write(fd, b)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case errors.Is(err, unix.EAGAIN):
		// A FIFO whose reader is not reading and whose buffer is full.
		return fmt.Errorf("write termination log: %s has no room (its reader is not reading): not written", path)
	case err != nil:
		return fmt.Errorf("write termination log %s: %w", path, err)
	case n < len(b):
		return fmt.Errorf("write termination log %s: %d of %d bytes written", path, n, len(b))
	}
	return nil
}

// askedForHealthcheck reports whether --healthcheck is among tinit's own
// options, for a command line that did not parse.
func askedForHealthcheck(args []string) bool {
	return ownOption(args, func(a string) bool { return a == "--healthcheck" })
}

// oneShot reports whether tinit's own options ask for a mode that runs no
// child: --help, --version, --install, --healthcheck.
func oneShot(args []string) bool {
	return ownOption(args, func(a string) bool {
		switch name, _, _ := strings.Cut(a, "="); name {
		case "-h", "-V", "-l", "--help", "--version", "--license", "--install", "--healthcheck":
			return true
		}
		return false
	})
}

// ownOption reports whether one of tinit's own options (those before "--"
// or PROGRAM) is one that match wants.
func ownOption(args []string, match func(string) bool) bool {
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			return false
		}
		if match(a) {
			return true
		}
	}
	return false
}

// healthcheckTimeout bounds tinit --healthcheck, well inside Docker's
// default 30 s HEALTHCHECK timeout.
const healthcheckTimeout = 2 * time.Second

// healthcheck is tinit --healthcheck: 0 when /healthz answers 200, else 1.
func healthcheck(st *settings, errs []error, stderr io.Writer) int {
	if len(errs) > 0 {
		fmt.Fprintf(stderr, "tinit --healthcheck: %v\n", errs[0])
		return 1
	}
	if st.health.src == "" {
		fmt.Fprintln(stderr, "tinit --healthcheck: no address: set TINIT_HEALTH_ADDR or --health-addr")
		return 1
	}
	if err := healthz.Probe(st.health.vals[0], healthcheckTimeout); err != nil {
		fmt.Fprintf(stderr, "tinit --healthcheck: %v\n", err)
		return 1
	}
	return 0
}

// wallClock is the real clock for the health endpoint.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: tinit [OPTIONS] [--] PROGRAM [ARGS...]\n\n")
	b.WriteString("Runs PROGRAM as its only child, forwards signals to it, reaps zombies\nand exits with PROGRAM's exit code.\n\nOptions (variables in brackets; a flag wins over its variable):\n")
	plain := strings.NewReplacer("`", "")
	for _, o := range options {
		name := "    --" + o.long
		if o.short != 0 {
			name = fmt.Sprintf("-%c, --%s", o.short, o.long)
		}
		if o.value != "" {
			name += " " + o.value
		}
		help := o.help
		if vars := o.variables(); len(vars) > 0 {
			help += " [" + strings.Join(vars, ", ") + "]"
		}
		if d := o.defaultText(false); d != "" {
			help += " (default " + d + ")"
		}
		fmt.Fprintf(&b, "  %-34s %s\n", name, plain.Replace(help))
	}
	b.WriteString("\nExit codes: PROGRAM's own; 128+N if signal N killed it; 127 PROGRAM not\nfound; 126 PROGRAM not executable; 124 --wait-timeout ran out; 2 usage or\nconfiguration error.\n")
	io.WriteString(w, b.String())
}

// licenseNotice is what -l prints, as tini's -l prints its licence.
const licenseNotice = `tinit: a tiny init for containers.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this program except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
`
