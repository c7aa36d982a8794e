package main

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var (
	startupInits = []string{"floor", "tinit", "tinit+health", "tini-static", "dumb-init", "catatonit", "mininit", "mininit-all"}
	runInits     = []string{"tinit", "tinit+health", "tini-static", "dumb-init", "catatonit", "mininit"}
	idleInits    = append(append([]string(nil), runInits...), "tinit-hb0")
	peerInits    = []string{"tinit", "tini-static", "dumb-init", "catatonit", "mininit"}
)

// benchStartup: "unshare ... INIT -- /bin/true" under hyperfine -N, split
// into batches that each run every command in a new order.
func (e *env) benchStartup() error {
	batches := max(1, e.cfg.startupBatch)
	per := max(1, e.cfg.startupRuns/batches)
	times := map[string][]float64{}
	for b := 0; b < batches; b++ {
		js := filepath.Join(e.tmp, fmt.Sprintf("hyperfine-%d.json", b))
		args := []string{"-N", "--runs", strconv.Itoa(per), "--warmup", "3", "--style", "none", "--export-json", js}
		for _, d := range e.pick(startupInits...) {
			cmd := "unshare " + strings.Join(unshareArgs, " ") + " " + strings.Join(d.argv(nil, "/bin/true"), " ")
			args = append(args, "--command-name", d.name, cmd)
		}
		out, err := exec.Command("hyperfine", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("hyperfine: %v\n%s", err, out)
		}
		raw, err := os.ReadFile(js)
		if err != nil {
			return err
		}
		var hf struct {
			Results []struct {
				Command string    `json:"command"`
				Times   []float64 `json:"times"`
			} `json:"results"`
		}
		if err := json.Unmarshal(raw, &hf); err != nil {
			return fmt.Errorf("hyperfine's JSON: %v", err)
		}
		for _, r := range hf.Results {
			for _, t := range r.Times {
				times[r.Command] = append(times[r.Command], t*1e3)
			}
		}
		logf("start-up batch %d/%d", b+1, batches)
	}
	e.res.startup = times
	for name, v := range times {
		if err := writeSamples(filepath.Join(e.data, "startup-"+name+".txt"), v); err != nil {
			return err
		}
	}
	return nil
}

// benchFootprint: every init side by side with "sleep 1000" as its child;
// after 1 s idle, the init's own VmRSS, VmHWM and Threads.
func (e *env) benchFootprint() error {
	fp := map[string]map[string][]float64{}
	for r := 0; r < max(1, e.cfg.footRounds); r++ {
		var insts []*instance
		stopAll := func() {
			for _, in := range insts {
				in.stop()
			}
		}
		for _, d := range e.pick(runInits...) {
			in, err := start(d, nil, e.sleep, "1000")
			if err != nil {
				stopAll()
				return err
			}
			insts = append(insts, in)
			if err := waitChild(in.pid, e.sleep); err != nil {
				stopAll()
				return fmt.Errorf("%s: %v", d.name, err)
			}
		}
		time.Sleep(time.Second)
		for _, in := range insts {
			st := statusFields(fmt.Sprintf("/proc/%d/status", in.pid), "VmRSS", "VmHWM", "Threads")
			m := fp[in.def.name]
			if m == nil {
				m = map[string][]float64{}
				fp[in.def.name] = m
			}
			m["VmRSS"] = append(m["VmRSS"], float64(st["VmRSS"]))
			m["VmHWM"] = append(m["VmHWM"], float64(st["VmHWM"]))
			m["Threads"] = append(m["Threads"], float64(st["Threads"]))
		}
		stopAll()
	}
	e.res.footprint = fp
	e.res.binaries = map[string]binInfo{}
	for _, n := range runInits {
		d := e.inits[n]
		fi, err := os.Stat(d.exe)
		if err != nil {
			return err
		}
		bi := binInfo{size: fi.Size(), linkage: "static"}
		if f, err := elf.Open(d.exe); err == nil {
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					bi.linkage = "dynamic (libc)"
				}
			}
			f.Close()
		}
		e.res.binaries[n] = bi
	}
	return nil
}

type binInfo struct {
	size    int64
	linkage string
}

// waitChild waits until the init at pid has a child running exe.
func waitChild(pid int, exe string) error {
	for i := 0; i < 10000; i++ {
		for _, k := range childrenOf(pid) {
			if x, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", k)); x == exe {
				return nil
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
	return fmt.Errorf("no child %s after 5s", exe)
}

// storm is one orphan storm's outcome.
type storm struct {
	clearMs float64 // from the intermediate's exit to the first sample with no zombie; -1 if never
	peak    int
	final   int
	forked  int
	samples int
}

// benchReaping: the storm child forks an intermediate that forks N
// children which exit at once; the intermediate stamps the time and exits,
// and its N zombies go to the init together. From the host, the init's
// children (all threads' /proc/PID/task/TID/children; every one but the
// storm process is a zombie) are counted every ~1 ms until none is left.
func (e *env) benchReaping() error {
	out := map[string][]storm{}
	stormPath := filepath.Join(e.tmp, "storm")
	for r := 0; r < max(1, e.cfg.reapRounds); r++ {
		for _, d := range e.pick(peerInits...) {
			s, trace, err := e.oneStorm(d, stormPath)
			if err != nil {
				return fmt.Errorf("%s: %v", d.name, err)
			}
			out[d.name] = append(out[d.name], s)
			if r == 0 {
				writeTrace(filepath.Join(e.data, "reaping-"+d.name+".txt"), trace)
			}
			logf("storm %d %-12s cleared in %6.1f ms, peak %5d, final %d", r+1, d.name, s.clearMs, s.peak, s.final)
			// The kernel frees 10,000 pids in the background; let it.
			time.Sleep(200 * time.Millisecond)
		}
	}
	e.res.reaping = out
	return nil
}

type tracePoint struct {
	t int64 // ns since the intermediate's stamp
	z int
}

func (e *env) oneStorm(d *initDef, stormPath string) (storm, []tracePoint, error) {
	var s storm
	base0 := nrTasks()
	in, err := start(d, nil, stormPath)
	if err != nil {
		return s, nil, err
	}
	defer in.stop()
	recs := in.records(24)
	var stormPid int
	for i := 0; stormPid == 0; i++ {
		if kids := childrenOf(in.pid); len(kids) > 0 {
			stormPid = kids[0]
		} else if i > 20000 {
			return s, nil, fmt.Errorf("no storm child after 2s")
		}
		time.Sleep(100 * time.Microsecond)
	}
	// Reading the init's children files costs ~1 µs per child and takes
	// the kernel's tasklist lock, which the init's wait4 needs too: with
	// 10,000 zombies one read takes ~10 ms and slows the init down. So
	// the sampler counts cheaply first: /proc/loadavg's total of tasks
	// (a zombie counts until it is reaped), less the tasks there were
	// before the storm plus the instance's own (unshare, the init's
	// threads, the storm process). Once that estimate is below 1,500, or
	// 100 ms after the last exact count regardless, it reads the
	// children exactly; only an exact count of 0 ends the storm. Every
	// exact count re-calibrates the estimate's offset, and the trace
	// uses the offset of the exact count that follows each estimate.
	type pt struct {
		at    int64
		nr    int // tasks on the system
		exact int // -1: not read
	}
	var pts []pt
	var t0, lastExact int64
	// Tasks on the system besides the zombies.
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", in.pid))
	base := base0 + 2 + len(tasks)
	reparented := false
	deadline := time.Now().Add(60 * time.Second)
	s.clearMs = -1
	for time.Now().Before(deadline) {
		if t0 == 0 {
			select {
			case rec, ok := <-recs:
				if !ok {
					return s, nil, fmt.Errorf("storm child's output closed: did the init exit?")
				}
				s.forked = int(le64(rec, 0))
				t0 = tsAt(rec, 1)
			default:
			}
		}
		// The storm process reaps the intermediate only after the
		// intermediate's exit has handed its zombies to the init: from
		// then on, a count of 0 means the init cleared them all.
		if t0 != 0 && !reparented && len(childrenOf(stormPid)) == 0 {
			reparented = true
		}
		now := mono()
		p := pt{at: now, nr: nrTasks(), exact: -1}
		if reparented && (p.nr-base < 1500 || now-lastExact > 100e6) {
			p.exact = 0
			for _, k := range childrenOf(in.pid) {
				if k != stormPid {
					p.exact++
				}
			}
			base, lastExact = p.nr-p.exact, mono()
		}
		pts = append(pts, p)
		if reparented && p.exact == 0 {
			s.clearMs = float64(now-t0) / 1e6
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	s.final = zombiesOf(in.pid)
	// Estimates between exact counts use the offset of the next exact
	// count (the last one, taken at 0 zombies, is the best).
	var trace []tracePoint
	off := base
	for i := len(pts) - 1; i >= 0; i-- {
		p := pts[i]
		z := p.exact
		switch {
		case t0 == 0 || p.at < t0:
			// The zombies are still the intermediate's, not the init's.
			z = 0
		case z < 0:
			z = max(0, p.nr-off)
		default:
			off = p.nr - p.exact
		}
		if s.forked > 0 {
			z = min(z, s.forked)
		}
		s.peak = max(s.peak, z)
		if t0 != 0 && p.at >= t0-50e6 {
			trace = append(trace, tracePoint{p.at - t0, z})
		}
	}
	slices.Reverse(trace)
	s.samples = len(trace)
	return s, trace, nil
}

// benchSignal: every init runs the sigwait child side by side. Each round
// sends SIGUSR1 to each init in turn, after a 1-3 ms idle pause, and takes
// the time from just before kill(2) to the child's CLOCK_MONOTONIC stamp
// right after rt_sigtimedwait returned. Then the first-SIGTERM variant:
// SIGTERM is a stop signal for tinit (a second one within its grace period
// means SIGKILL), so each round starts fresh instances and sends one.
func (e *env) benchSignal() error {
	usr1, lostU, err := e.signalRounds(unix.SIGUSR1, e.cfg.signalRounds, 0)
	if err != nil {
		return err
	}
	term := map[string][]float64{}
	lostT := map[string]int{}
	for r := 0; r < e.cfg.termRounds; r++ {
		got, lost, err := e.signalRounds(unix.SIGTERM, 1, 100*time.Millisecond)
		if err != nil {
			return err
		}
		for k, v := range got {
			term[k] = append(term[k], v...)
		}
		for k, v := range lost {
			lostT[k] += v
		}
	}
	e.res.sigUSR1, e.res.sigTERM, e.res.lostUSR1, e.res.lostTERM = usr1, term, lostU, lostT
	for name, v := range usr1 {
		if err := writeSamples(filepath.Join(e.data, "signal-usr1-"+name+".txt"), v); err != nil {
			return err
		}
	}
	for name, v := range term {
		if err := writeSamples(filepath.Join(e.data, "signal-term-"+name+".txt"), v); err != nil {
			return err
		}
	}
	return nil
}

// signalRounds starts the peers with the sigwait child, waits settle, and
// runs rounds of sig; latencies in µs.
func (e *env) signalRounds(sig unix.Signal, rounds int, settle time.Duration) (map[string][]float64, map[string]int, error) {
	type peer struct {
		in   *instance
		recs <-chan []byte
	}
	var peers []peer
	defer func() {
		for _, p := range peers {
			p.in.stop()
		}
	}()
	for _, d := range e.pick(peerInits...) {
		in, err := start(d, nil, e.sigwait)
		if err != nil {
			return nil, nil, err
		}
		p := peer{in, in.records(24)}
		peers = append(peers, p)
		select {
		case <-p.recs:
		case <-time.After(5 * time.Second):
			return nil, nil, fmt.Errorf("%s: the sigwait child did not start", d.name)
		}
	}
	time.Sleep(settle)
	lat := map[string][]float64{}
	lost := map[string]int{}
	for r := 0; r < rounds; r++ {
		e.rng.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
		for _, p := range peers {
			time.Sleep(time.Millisecond + time.Duration(e.rng.Int63n(int64(2*time.Millisecond))))
			t0 := mono()
			if err := unix.Kill(p.in.pid, sig); err != nil {
				return nil, nil, fmt.Errorf("kill %s: %v", p.in.def.name, err)
			}
			select {
			case rec, ok := <-p.recs:
				if !ok {
					return nil, nil, fmt.Errorf("%s: the child's output closed", p.in.def.name)
				}
				if unix.Signal(le64(rec, 0)) != sig {
					return nil, nil, fmt.Errorf("%s: the child got signal %d, want %d", p.in.def.name, le64(rec, 0), sig)
				}
				lat[p.in.def.name] = append(lat[p.in.def.name], float64(tsAt(rec, 1)-t0)/1e3)
			case <-time.After(time.Second):
				lost[p.in.def.name]++
			}
		}
	}
	return lat, lost, nil
}

// benchRestart: tinit --restart always --backoff 0 runs the crash child,
// which stamps its first instruction and its exit; the gap from one
// child's exit stamp to the next one's start stamp is the restart latency.
// The floor is the same gap with the harness itself doing fork+exec (Go's
// syscall.ForkExec, as tinit) and wait4 in a loop. Batches alternate.
func (e *env) benchRestart() error {
	batch := max(2, e.cfg.restartBatch)
	var tinitGaps, floorGaps []float64
	var logBytes int64
	for len(tinitGaps) < e.cfg.restartRounds || len(floorGaps) < e.cfg.restartRounds {
		order := []bool{true, false}
		e.rng.Shuffle(2, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, isTinit := range order {
			if isTinit {
				// Only this tinit runs now: what the inits' shared
				// stderr grows by is its own logging.
				size0 := fileSize(stderrLog)
				g, err := e.restartTinit(batch)
				if err != nil {
					return err
				}
				logBytes += fileSize(stderrLog) - size0
				tinitGaps = append(tinitGaps, g...)
			} else {
				g, err := e.restartFloor(batch)
				if err != nil {
					return err
				}
				floorGaps = append(floorGaps, g...)
			}
		}
	}
	e.res.restartTinit, e.res.restartFloor = tinitGaps, floorGaps
	if len(tinitGaps) > 0 {
		e.res.restartLogBytes = float64(logBytes) / float64(len(tinitGaps))
	}
	if err := writeSamples(filepath.Join(e.data, "restart-tinit.txt"), tinitGaps); err != nil {
		return err
	}
	return writeSamples(filepath.Join(e.data, "restart-floor.txt"), floorGaps)
}

// gaps turns crash records [start][exit] into exit->next start gaps, µs.
func gaps(recs [][]byte) []float64 {
	var out []float64
	for i := 1; i < len(recs); i++ {
		out = append(out, float64(tsAt(recs[i], 0)-tsAt(recs[i-1], 2))/1e3)
	}
	return out
}

func (e *env) restartTinit(n int) ([]float64, error) {
	d := e.inits["tinit"]
	flags := []string{"--restart", "always", "--backoff", "0", "--backoff-max", "0", "--max-restarts", strconv.Itoa(n)}
	in, err := start(d, flags, e.crash)
	if err != nil {
		return nil, err
	}
	defer in.stop()
	var recs [][]byte
	ch := in.records(32)
	timeout := time.After(30 * time.Second)
	for len(recs) < n+1 {
		select {
		case r, ok := <-ch:
			if !ok {
				return nil, fmt.Errorf("tinit stopped after %d children, want %d", len(recs), n+1)
			}
			recs = append(recs, r)
		case <-timeout:
			return nil, fmt.Errorf("tinit: %d children in 30s, want %d", len(recs), n+1)
		}
	}
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("tinit did not exit after --max-restarts %d", n)
	}
	if c := in.cmd.ProcessState.ExitCode(); c != 1 {
		e.res.notes = append(e.res.notes, fmt.Sprintf("tinit exited %d after --max-restarts with a child that exits 1 (want 1)", c))
	}
	return gaps(recs), nil
}

func (e *env) restartFloor(n int) ([]float64, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	fake := &instance{out: r}
	ch := fake.records(32)
	attr := &syscall.ProcAttr{Files: []uintptr{null.Fd(), w.Fd(), null.Fd()}}
	for i := 0; i < n+1; i++ {
		pid, err := syscall.ForkExec(e.crash, []string{e.crash}, attr)
		if err != nil {
			w.Close()
			return nil, err
		}
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if err != unix.EINTR {
				break
			}
		}
	}
	w.Close()
	var recs [][]byte
	for rec := range ch {
		recs = append(recs, rec)
	}
	if len(recs) != n+1 {
		return nil, fmt.Errorf("floor: %d records, want %d", len(recs), n+1)
	}
	return gaps(recs), nil
}

// benchIdle: every init side by side with "sleep 1000", settled for 2 s,
// then context switches (all threads) and CPU time over the idle window.
func (e *env) benchIdle() error {
	var insts []*instance
	defer func() {
		for _, in := range insts {
			in.stop()
		}
	}()
	for _, d := range e.pick(idleInits...) {
		in, err := start(d, nil, e.sleep, "1000")
		if err != nil {
			return err
		}
		insts = append(insts, in)
		if err := waitChild(in.pid, e.sleep); err != nil {
			return fmt.Errorf("%s: %v", d.name, err)
		}
	}
	time.Sleep(2 * time.Second)
	before := map[string]cpuSample{}
	for _, in := range insts {
		before[in.def.name] = sampleCPU(in.pid)
	}
	t0 := time.Now()
	bursts := countBursts(insts, e.cfg.idle)
	secs := time.Since(t0).Seconds()
	e.res.idle = map[string]idleResult{}
	e.res.idleSecs = secs
	for i, in := range insts {
		a, b := before[in.def.name], sampleCPU(in.pid)
		e.res.idle[in.def.name] = idleResult{
			bursts:  float64(bursts[i]) / secs,
			vol:     float64(b.vol-a.vol) / secs,
			nonvol:  float64(b.nonvol-a.nonvol) / secs,
			ticksMs: float64(b.ticks-a.ticks) * 1000 / float64(clkTck),
			runUs:   float64(b.runNs-a.runNs) / 1e3,
			threads: b.threads,
		}
	}
	return nil
}

// clkTck is USER_HZ, 100 on every Linux architecture the benchmark runs on.
const clkTck = 100

// burstPoll is how often countBursts looks at the inits' threads.
const burstPoll = 5 * time.Millisecond

// countBursts counts, for each instance over d, the times it woke up: a
// poll in which any of its threads was scheduled since the last poll
// begins a wake-up, and the polls right after it that also saw activity
// belong to the same one. Context switches alone overstate this for a Go
// init: one SIGALRM tick wakes several runtime threads in turn (the signal
// handler's, os/signal's, the loop's, sysmon), all within a few
// milliseconds. Reading /proc does not wake the inits.
func countBursts(insts []*instance, d time.Duration) []int {
	n := make([]int, len(insts))
	last := make([]int64, len(insts))
	active := make([]bool, len(insts))
	for i, in := range insts {
		last[i] = timesScheduled(in.pid)
	}
	t := time.NewTicker(burstPoll)
	defer t.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); {
		<-t.C
		for i, in := range insts {
			c := timesScheduled(in.pid)
			woke := c != last[i]
			if woke && !active[i] {
				n[i]++
			}
			last[i], active[i] = c, woke
		}
	}
	return n
}

// timesScheduled sums the third field of /proc/PID/task/*/schedstat, how
// many times each thread was put on a CPU.
func timesScheduled(pid int) int64 {
	var sum int64
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) == 3 {
			x, _ := strconv.ParseInt(f[2], 10, 64)
			sum += x
		}
	}
	return sum
}

type idleResult struct {
	bursts         float64 // wake-ups per second, threads together
	vol, nonvol    float64 // per second
	ticksMs, runUs float64 // over the window
	threads        int
}

func fileSize(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

func writeSamples(path string, v []float64) error {
	var b strings.Builder
	for _, x := range v {
		fmt.Fprintf(&b, "%.3f\n", x)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func writeTrace(path string, t []tracePoint) error {
	var b strings.Builder
	b.WriteString("# ms_since_intermediate_exit zombies\n")
	for _, p := range t {
		fmt.Fprintf(&b, "%.3f %d\n", float64(p.t)/1e6, p.z)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
