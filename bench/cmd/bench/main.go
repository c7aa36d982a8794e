// Command bench measures tinit against tini-static, dumb-init, catatonit
// and a minimal Go init (bench/mininit), each as PID 1 of a fresh PID
// namespace, interleaved, and writes bench/results.md, bench/latency.png
// and the raw samples in bench/data/.
//
// Run it from the repository root, as root (unshare --pid needs it):
//
//	go run ./bench/cmd/bench          # full run, a few minutes
//	go run ./bench/cmd/bench -quick   # about a minute, fewer samples
//
// It needs unshare, hyperfine and gnuplot, and the Debian packages tini,
// dumb-init and catatonit. It builds tinit and mininit itself, into a
// temporary directory. Sections: startup, footprint, reaping, signal,
// restart, idle (-only picks some).
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type config struct {
	quick         bool
	startupRuns   int
	startupBatch  int
	footRounds    int
	reapRounds    int
	orphans       int
	signalRounds  int
	termRounds    int
	restartRounds int
	restartBatch  int
	idle          time.Duration
	only          map[string]bool
	tinit         string
	keep          bool
}

func main() {
	var c config
	var only string
	flag.BoolVar(&c.quick, "quick", false, "about a minute: fewer runs and rounds (explicit flags still win)")
	flag.IntVar(&c.startupRuns, "startup-runs", 500, "start-up runs per init (hyperfine)")
	flag.IntVar(&c.startupBatch, "startup-batches", 10, "interleaved hyperfine batches the start-up runs are split into")
	flag.IntVar(&c.footRounds, "footprint-rounds", 5, "footprint rounds (all inits side by side in each)")
	flag.IntVar(&c.reapRounds, "reap-rounds", 10, "orphan storms per init")
	flag.IntVar(&c.orphans, "orphans", 10000, "orphans per storm")
	flag.IntVar(&c.signalRounds, "signal-rounds", 1000, "SIGUSR1 round trips per init")
	flag.IntVar(&c.termRounds, "term-rounds", 100, "first-SIGTERM round trips per init (one per init instance)")
	flag.IntVar(&c.restartRounds, "restart-rounds", 1000, "tinit restarts measured (and as many fork+exec+wait of the floor)")
	flag.IntVar(&c.restartBatch, "restart-batch", 100, "restarts per tinit instance; tinit and the floor alternate by batch")
	flag.DurationVar(&c.idle, "idle", 30*time.Second, "idle window")
	flag.StringVar(&only, "only", "", "comma-separated sections to run (startup,footprint,reaping,signal,restart,idle); default all")
	flag.StringVar(&c.tinit, "tinit", "", "use this tinit binary instead of building ./cmd/tinit")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory (binaries, inits' stderr)")
	flag.Parse()
	if c.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]string{
			"startup-runs": "50", "startup-batches": "5", "footprint-rounds": "1",
			"reap-rounds": "2", "signal-rounds": "200", "term-rounds": "20",
			"restart-rounds": "200", "idle": "10s",
		}
		for k, v := range quick {
			if !set[k] {
				flag.Set(k, v)
			}
		}
	}
	if only != "" {
		c.only = map[string]bool{}
		for _, s := range strings.Split(only, ",") {
			c.only[strings.TrimSpace(s)] = true
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		killAll()
		fmt.Fprintf(os.Stderr, "bench: %v: stopped\n", s)
		os.Exit(130)
	}()
	code := run(&c)
	killAll()
	os.Exit(code)
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// env is what every section needs.
type env struct {
	cfg     *config
	root    string // the repository
	tmp     string
	out     string // bench/
	data    string // bench/data/
	rng     *rand.Rand
	inits   map[string]*initDef
	sleep   string
	sigwait string
	crash   string
	res     *results
	// healthAddr is tinit+health's --health-addr.
	healthAddr string
}

func run(c *config) int {
	began := time.Now()
	if os.Geteuid() != 0 {
		logf("needs root: unshare --pid")
		return 1
	}
	root, err := repoRoot()
	if err != nil {
		logf("%v", err)
		return 1
	}
	for _, tool := range []string{"unshare", "hyperfine", "gnuplot"} {
		if _, err := exec.LookPath(tool); err != nil {
			logf("%s not found: apt-get install -y util-linux hyperfine gnuplot-nox", tool)
			return 1
		}
	}
	tmp, err := os.MkdirTemp("", "tinit-bench-")
	if err != nil {
		logf("%v", err)
		return 1
	}
	if c.keep {
		logf("temporary directory kept: %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	e := &env{
		cfg: c, root: root, tmp: tmp,
		out:  filepath.Join(root, "bench"),
		data: filepath.Join(root, "bench", "data"),
		rng:  rand.New(rand.NewSource(time.Now().UnixNano())),
		res:  newResults(),
	}
	if err := os.MkdirAll(e.data, 0o755); err != nil {
		logf("%v", err)
		return 1
	}
	stderrLog, err = os.Create(filepath.Join(tmp, "inits-stderr.log"))
	if err != nil {
		logf("%v", err)
		return 1
	}
	if err := e.setup(); err != nil {
		logf("%v", err)
		return 1
	}
	sections := []struct {
		name string
		fn   func() error
	}{
		{"startup", e.benchStartup},
		{"footprint", e.benchFootprint},
		{"reaping", e.benchReaping},
		{"signal", e.benchSignal},
		{"restart", e.benchRestart},
		{"idle", e.benchIdle},
	}
	failed := false
	for _, s := range sections {
		if c.only != nil && !c.only[s.name] {
			continue
		}
		t0 := time.Now()
		logf("%s ...", s.name)
		if err := s.fn(); err != nil {
			logf("%s: %v", s.name, err)
			e.res.notes = append(e.res.notes, fmt.Sprintf("Section %s failed: %v", s.name, err))
			failed = true
		}
		logf("%s done in %v", s.name, time.Since(t0).Round(100*time.Millisecond))
	}
	stderrLog.Close()
	e.collectStderr()
	e.res.elapsed = time.Since(began)
	if err := e.report(); err != nil {
		logf("report: %v", err)
		return 1
	}
	logf("wrote %s, %s and %s/ in %v", filepath.Join("bench", "results.md"),
		filepath.Join("bench", "latency.png"), filepath.Join("bench", "data"), e.res.elapsed.Round(time.Second))
	if failed {
		return 1
	}
	return 0
}

// repoRoot finds tinit's module root from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/tinit/tinit\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run from inside the tinit repository (go run ./bench/cmd/bench)")
		}
		dir = parent
	}
}

// setup builds tinit and mininit, writes the helper children and lists the
// inits.
func (e *env) setup() error {
	build := func(out, pkg string) error {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Dir = e.root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		return nil
	}
	tinit := e.cfg.tinit
	if tinit == "" {
		tinit = filepath.Join(e.tmp, "tinit")
		logf("building tinit and mininit")
		if err := build(tinit, "./cmd/tinit"); err != nil {
			return err
		}
	} else if abs, err := filepath.Abs(tinit); err == nil {
		tinit = abs
	}
	mininit := filepath.Join(e.tmp, "mininit")
	if err := build(mininit, "./bench/mininit"); err != nil {
		return err
	}
	e.sigwait = filepath.Join(e.tmp, "sigwait")
	e.crash = filepath.Join(e.tmp, "crash")
	if err := writeTiny(e.sigwait, sigwaitHex, nil); err != nil {
		return err
	}
	if err := writeTiny(e.crash, crashHex, nil); err != nil {
		return err
	}
	if err := writeTiny(filepath.Join(e.tmp, "storm"), stormHex, patchN(e.cfg.orphans)); err != nil {
		return err
	}
	var err error
	if e.sleep, err = exec.LookPath("sleep"); err != nil {
		return err
	}
	if e.sleep, err = filepath.EvalSymlinks(e.sleep); err != nil {
		return err
	}
	// tinit wants a real port; instances with health on never run two at
	// a time, so one free port will do.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.healthAddr = ln.Addr().String()
	ln.Close()
	defs := []*initDef{
		{name: "tinit", path: tinit, pre: []string{"--"}},
		{name: "tinit+health", path: tinit, pre: []string{"--health-addr", e.healthAddr, "--"}},
		{name: "tinit-hb0", path: tinit, pre: []string{"--heartbeat", "0", "--"}},
		{name: "tini-static", path: "/usr/bin/tini-static", pre: []string{"--"}},
		{name: "dumb-init", path: "/usr/bin/dumb-init"},
		{name: "catatonit", path: "/usr/bin/catatonit", pre: []string{"--"}},
		{name: "mininit", path: mininit, pre: []string{"--"}},
		{name: "mininit-all", path: mininit, pre: []string{"-all", "--"}},
		{name: "floor"},
	}
	e.inits = map[string]*initDef{}
	for _, d := range defs {
		if d.path != "" {
			exe, err := filepath.EvalSymlinks(d.path)
			if err != nil {
				return fmt.Errorf("%s: %v (apt-get install -y tini dumb-init catatonit)", d.name, err)
			}
			d.exe = exe
		}
		e.inits[d.name] = d
	}
	e.res.header(e)
	return nil
}

// pick returns the named inits, shuffled: each round runs them in a new
// order, so that drift and neighbours' noise spread over all of them.
func (e *env) pick(names ...string) []*initDef {
	out := make([]*initDef, len(names))
	for i, n := range names {
		out[i] = e.inits[n]
	}
	e.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func cpuCount() int { return runtime.NumCPU() }
