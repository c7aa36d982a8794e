package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// unshareArgs puts every init in a fresh PID namespace as its PID 1, with
// its own /proc. --kill-child: when unshare dies, for whatever reason, the
// kernel sends SIGKILL to the init, and the namespace dies with its init;
// nothing the benchmark starts can outlive it.
var unshareArgs = []string{"--pid", "--fork", "--mount-proc", "--kill-child"}

// initDef is one init under test, or the floor (no init at all).
type initDef struct {
	name string   // label in the tables
	path string   // binary; "" for the floor
	exe  string   // path with symlinks resolved, as /proc/PID/exe shows it
	pre  []string // argv between the binary and PROGRAM
}

// argv is the command line after unshare's own options: the init, flags,
// then PROGRAM.
func (d *initDef) argv(flags []string, child ...string) []string {
	if d.path == "" {
		return append([]string(nil), child...)
	}
	a := append([]string{d.path}, flags...)
	a = append(a, d.pre...)
	return append(a, child...)
}

// instance is one running "unshare ... INIT ... PROGRAM".
type instance struct {
	def  *initDef
	cmd  *exec.Cmd
	pid  int      // the init's pid in the host's namespace
	out  *os.File // read end of the init's (and the child's) stdout
	done chan struct{}
}

// running tracks every unshare the harness started, so that an interrupted
// run kills them all (and, through --kill-child, their namespaces).
var running = struct {
	sync.Mutex
	m map[*exec.Cmd]bool
}{m: map[*exec.Cmd]bool{}}

func killAll() {
	running.Lock()
	defer running.Unlock()
	for c := range running.m {
		c.Process.Kill()
	}
}

// stderrLog receives the inits' own stderr, for the report's notes.
var stderrLog *os.File

// start runs def with flags and child under unshare and waits until the
// init has exec'd, so that inst.pid is the init itself.
func start(def *initDef, flags []string, child ...string) (*instance, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), unshareArgs...), def.argv(flags, child...)...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdout = w
	cmd.Stderr = stderrLog
	// unshare dies with the harness, and the namespace with unshare.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	running.Lock()
	err = cmd.Start()
	if err == nil {
		running.m[cmd] = true
	}
	running.Unlock()
	w.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	inst := &instance{def: def, cmd: cmd, out: r, done: make(chan struct{})}
	go func() { cmd.Wait(); close(inst.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if kids := childrenOf(cmd.Process.Pid); len(kids) > 0 {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", kids[0])); exe == def.exe {
				inst.pid = kids[0]
				return inst, nil
			}
		}
		select {
		case <-inst.done:
			inst.stop()
			return nil, fmt.Errorf("%s exited before it started: %v", def.name, cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			inst.stop()
			return nil, fmt.Errorf("%s: no init process after 10s", def.name)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// stop sends SIGKILL to the init (the kernel then kills its whole
// namespace) and waits for unshare, which reaps it, to exit. The pid is
// safe to signal: until unshare has reaped the init, nothing can reuse it.
// (Killing unshare instead would hand the dying init to the host's own
// init, which may take seconds to reap it.)
func (inst *instance) stop() {
	select {
	case <-inst.done:
	default:
		if inst.pid != 0 {
			unix.Kill(inst.pid, unix.SIGKILL)
		} else {
			inst.cmd.Process.Kill()
		}
		select {
		case <-inst.done:
		case <-time.After(10 * time.Second):
			inst.cmd.Process.Kill()
			<-inst.done
		}
	}
	running.Lock()
	delete(running.m, inst.cmd)
	running.Unlock()
	inst.out.Close()
}

// records reads fixed-size records from the instance's stdout until EOF.
func (inst *instance) records(size int) <-chan []byte {
	ch := make(chan []byte, 1<<14)
	go func() {
		defer close(ch)
		br := bufio.NewReader(inst.out)
		for {
			b := make([]byte, size)
			if _, err := io.ReadFull(br, b); err != nil {
				return
			}
			ch <- b
		}
	}()
	return ch
}

// childBuf is childrenOf's read buffer, kept across calls: the reaping
// sampler calls it every millisecond with 10,000 pids to read. Only the
// main goroutine calls childrenOf.
var childBuf = make([]byte, 0, 128<<10)

// childrenOf lists pid's children, over all of its threads (a reparented
// orphan hangs off whichever thread of the init the kernel picked).
func childrenOf(pid int) []int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil
	}
	var out []int
	buf := childBuf
	for _, t := range tasks {
		f, err := os.Open(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := f.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil || n == 0 {
				break
			}
		}
		f.Close()
		childBuf = buf
		for _, field := range bytes.Fields(buf) {
			if n, err := strconv.Atoi(string(field)); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// zombiesOf counts, over the whole of /proc, the processes whose parent is
// pid and whose state is Z: the slow exact count, for the end of a storm.
func zombiesOf(pid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) S ppid ...": comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(pid) {
			n++
		}
	}
	return n
}

// nrTasks is the number of tasks (threads, zombies included) on the whole
// system: /proc/loadavg's fourth field, after the slash.
func nrTasks() int {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return 0
	}
	_, total, _ := strings.Cut(f[3], "/")
	n, _ := strconv.Atoi(total)
	return n
}

// statusFields reads the named fields of /proc/PATH/status as integers
// (kB for the Vm* ones).
func statusFields(path string, names ...string) map[string]int64 {
	out := map[string]int64{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if k == n {
				f := strings.Fields(v)
				if len(f) > 0 {
					x, _ := strconv.ParseInt(f[0], 10, 64)
					out[n] = x
				}
			}
		}
	}
	return out
}

// cpuSample is what idle cost compares between two moments.
type cpuSample struct {
	vol, nonvol int64 // context switches, summed over the init's threads
	ticks       int64 // utime+stime from /proc/PID/stat, in clock ticks
	runNs       int64 // time on CPU from schedstat, summed over threads
	threads     int
}

func sampleCPU(pid int) cpuSample {
	var s cpuSample
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		dir := fmt.Sprintf("/proc/%d/task/%s", pid, t.Name())
		st := statusFields(dir+"/status", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
		s.vol += st["voluntary_ctxt_switches"]
		s.nonvol += st["nonvoluntary_ctxt_switches"]
		if b, err := os.ReadFile(dir + "/schedstat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				x, _ := strconv.ParseInt(f[0], 10, 64)
				s.runNs += x
			}
		}
		s.threads++
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			f := strings.Fields(string(b[i+1:]))
			// Fields 14 and 15 of stat; f[0] is field 3.
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				k, _ := strconv.ParseInt(f[12], 10, 64)
				s.ticks = u + k
			}
		}
	}
	return s
}

// mono reads CLOCK_MONOTONIC in nanoseconds, the clock the helper children
// stamp with.
func mono() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// le64 reads the i-th little-endian int64 of a record.
func le64(b []byte, i int) int64 {
	var x uint64
	for k := 7; k >= 0; k-- {
		x = x<<8 | uint64(b[8*i+k])
	}
	return int64(x)
}

// tsAt reads the timespec at int64 index i of a record, in nanoseconds.
func tsAt(b []byte, i int) int64 { return le64(b, i)*1e9 + le64(b, i+1) }
