package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type results struct {
	date, kernel, goVersion, cpuModel, tinitRev string
	cpus                                        int
	versions                                    []string
	cfg                                         *config
	elapsed                                     time.Duration

	startup          map[string][]float64 // ms
	footprint        map[string]map[string][]float64
	binaries         map[string]binInfo
	reaping          map[string][]storm
	sigUSR1, sigTERM map[string][]float64 // µs
	lostUSR1         map[string]int
	lostTERM         map[string]int
	restartTinit     []float64 // µs
	restartFloor     []float64
	restartLogBytes  float64
	idle             map[string]idleResult
	idleSecs         float64

	notes  []string
	stderr []string
}

func newResults() *results { return &results{} }

func (r *results) header(e *env) {
	r.cfg = e.cfg
	r.date = time.Now().UTC().Format("2006-01-02 15:04 MST")
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		r.kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	r.goVersion = runtime.Version()
	r.cpus = cpuCount()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				r.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	git := func(args ...string) string {
		// --no-optional-locks: reading must not refresh the index.
		cmd := exec.Command("git", append([]string{"--no-optional-locks"}, args...)...)
		cmd.Dir = e.root
		b, _ := cmd.Output()
		return strings.TrimSpace(string(b))
	}
	r.tinitRev = git("rev-parse", "--short", "HEAD")
	if r.tinitRev == "" {
		r.tinitRev = "unknown"
	} else if git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench") != "" {
		// bench/ is not in tinit's binary.
		r.tinitRev += " with uncommitted changes"
	}
	if e.cfg.tinit != "" {
		r.tinitRev = "prebuilt " + e.cfg.tinit
	}
	for _, v := range [][]string{
		{"/usr/bin/tini-static", "--version"}, {"/usr/bin/dumb-init", "--version"},
		{"/usr/bin/catatonit", "--version"}, {"hyperfine", "--version"}, {"unshare", "--version"},
	} {
		b, _ := exec.Command(v[0], v[1:]...).CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		r.versions = append(r.versions, fmt.Sprintf("`%s`: %s", filepath.Base(v[0]), line))
	}
}

// collectStderr summarises what the inits wrote to stderr, grouping lines
// that differ only in numbers.
func (e *env) collectStderr() {
	f, err := os.Open(stderrLog.Name())
	if err != nil {
		return
	}
	defer f.Close()
	digits := regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)
	count := map[string]int{}
	example := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	unshareNoise := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "unshare: sigprocmask unblock failed") {
			// unshare's complaint when its child dies of SIGKILL, which
			// is how the harness stops an instance.
			unshareNoise++
			continue
		}
		k := digits.ReplaceAllString(sc.Text(), "N")
		if count[k] == 0 {
			example[k] = sc.Text()
		}
		count[k]++
	}
	if unshareNoise > 0 {
		e.res.notes = append(e.res.notes, fmt.Sprintf("unshare printed `sigprocmask unblock failed: Invalid argument` %d times: util-linux's unshare says so whenever its child dies of SIGKILL, which is how the harness stops an instance; harmless.", unshareNoise))
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return count[keys[i]] > count[keys[j]] })
	for i, k := range keys {
		if i == 10 {
			e.res.stderr = append(e.res.stderr, fmt.Sprintf("... and %d more kinds of line", len(keys)-10))
			break
		}
		ex := example[k]
		if len(ex) > 200 {
			ex = ex[:200] + "..."
		}
		e.res.stderr = append(e.res.stderr, fmt.Sprintf("%d× `%s`", count[k], strings.ReplaceAll(ex, "`", "'")))
	}
}

func median(v []float64) float64 { return pct(v, 50) }

// pct is the p-th percentile, nearest rank.
func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func maxOf(v []float64) float64 { return pct(v, 100) }

func num(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// table is one Markdown table: a metric per row, an init per column, and
// tinit's ratio to tini-static in the last column.
type table struct {
	inits []string
	b     strings.Builder
}

func newTable(inits []string) *table {
	t := &table{inits: inits}
	t.b.WriteString("| |")
	for _, n := range inits {
		fmt.Fprintf(&t.b, " %s |", n)
	}
	t.b.WriteString(" tinit / tini-static |\n|---|")
	for range inits {
		t.b.WriteString("---:|")
	}
	t.b.WriteString("---:|\n")
	return t
}

// row adds a metric: val gives each init's figure (NaN: none), prec its
// decimals.
func (t *table) row(label string, prec int, val func(string) float64) {
	t.add(label, prec, val, ratio(val("tinit"), val("tini-static")))
}

// count adds a row where a ratio means nothing (numbers of runs).
func (t *table) count(label string, val func(string) float64) {
	t.add(label, 0, val, "")
}

func (t *table) add(label string, prec int, val func(string) float64, last string) {
	fmt.Fprintf(&t.b, "| %s |", label)
	for _, n := range t.inits {
		fmt.Fprintf(&t.b, " %s |", num(val(n), prec))
	}
	fmt.Fprintf(&t.b, " %s |\n", last)
}

func (t *table) String() string { return t.b.String() }

type target struct {
	what, measured string
	ok             bool
}

func (e *env) report() error {
	r := e.res
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	cmd := "go run ./bench/cmd/bench"
	if r.cfg.quick {
		cmd += " -quick"
	}
	w("# tinit benchmark results\n\n")
	w("Generated by `%s` (from the repository root, as root; `make bench` runs the same). ", cmd)
	w("Every init runs as PID 1 of a fresh PID namespace (`unshare %s INIT ...`), the inits are interleaved in a new random order every round, ", strings.Join(unshareArgs, " "))
	w("and the figures are medians (p99 where it applies). The machine is shared and timings drift from run to run: compare the ratios, not the absolute times.\n\n")
	w("- Date: %s; full run took %v\n", r.date, r.elapsed.Round(time.Second))
	w("- Kernel: %s; CPUs: %d (%s)\n", r.kernel, r.cpus, r.cpuModel)
	w("- Go: %s; tinit: %s (built `CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'`)\n", r.goVersion, r.tinitRev)
	w("- Peers: %s\n", strings.Join(r.versions, "; "))
	w("- Parameters: %d start-up runs per init in %d batches; %d footprint rounds; %d storms of %d orphans per init; %d SIGUSR1 and %d SIGTERM rounds per init; %d restarts; %v idle\n\n",
		r.cfg.startupRuns, r.cfg.startupBatch, r.cfg.footRounds, r.cfg.reapRounds, r.cfg.orphans,
		r.cfg.signalRounds, r.cfg.termRounds, r.cfg.restartRounds, r.cfg.idle)
	w("`tinit+health` is tinit with `--health-addr %s` (a free port); `mininit` is bench/mininit, the smallest Go init (ForkExec, forward, Wait4), built like tinit, forwarding 6 signals; `mininit-all` is the same forwarding every catchable signal, as tinit does; `floor` is `unshare ... /bin/true` with no init at all.\n\n", e.healthAddr)
	w("![latency distributions](latency.png)\n\n")

	var targets []target
	med := func(m map[string][]float64, n string) float64 { return median(m[n]) }

	if r.startup != nil {
		floor := med(r.startup, "floor")
		t := newTable(startupInits)
		t.row("wall time, median (ms)", 2, func(n string) float64 { return med(r.startup, n) })
		t.row("wall time, p99 (ms)", 2, func(n string) float64 { return pct(r.startup[n], 99) })
		t.row("above the floor, median (ms)", 2, func(n string) float64 {
			if n == "floor" {
				return math.NaN()
			}
			return med(r.startup, n) - floor
		})
		t.count("runs", func(n string) float64 { return float64(len(r.startup[n])) })
		w("## Start-up\n\n`unshare ... INIT -- /bin/true`, wall time from `hyperfine -N` (%d runs per init, in interleaved batches).\n\n%s\n",
			len(r.startup["tinit"]), t)
		ti, tn, mi := med(r.startup, "tinit"), med(r.startup, "tini-static"), med(r.startup, "mininit")
		ma := med(r.startup, "mininit-all")
		w("tinit / mininit: %s of the wall time, %s of the cost above the floor. mininit-all (mininit forwarding every catchable signal, as tinit does) / mininit: %s; tinit / mininit-all: %s.\n\n",
			ratio(ti, mi), ratio(ti-floor, mi-floor), ratio(ma, mi), ratio(ti, ma))
		targets = append(targets,
			target{"start-up ≤ 1.5× tini-static", fmt.Sprintf("%s (%.2f vs %.2f ms; above the floor %s)", ratio(ti, tn), ti, tn, ratio(ti-floor, tn-floor)), ti <= 1.5*tn},
			target{"start-up within 10% of the minimal Go init", fmt.Sprintf("%s of mininit (%.2f vs %.2f ms; above the floor %s)", ratio(ti, mi), ti, mi, ratio(ti-floor, mi-floor)), ti <= 1.1*mi})
	}

	if r.footprint != nil {
		const mib = 1 << 20
		fp := func(n, k string) float64 { return median(r.footprint[n][k]) }
		t := newTable(runInits)
		t.row("binary size (MiB)", 2, func(n string) float64 { return float64(r.binaries[n].size) / mib })
		t.row("VmRSS after 1 s idle (MiB)", 2, func(n string) float64 { return fp(n, "VmRSS") / 1024 })
		t.row("VmHWM (MiB)", 2, func(n string) float64 { return fp(n, "VmHWM") / 1024 })
		t.row("threads", 0, func(n string) float64 { return fp(n, "Threads") })
		w("## Footprint\n\nThe init's own /proc/PID/status (not its child's), with `sleep 1000` as the child, 1 s after start; median of %d rounds. ",
			len(r.footprint["tinit"]["VmRSS"]))
		var link []string
		for _, n := range runInits {
			if n != "tinit+health" {
				link = append(link, n+" "+r.binaries[n].linkage)
			}
		}
		w("Linkage: %s (a dynamic binary's RSS counts the shared libc pages it maps).\n\n%s\n", strings.Join(link, ", "), t)
		rss, rssH := fp("tinit", "VmRSS")/1024, fp("tinit+health", "VmRSS")/1024
		size := float64(r.binaries["tinit"].size) / mib
		targets = append(targets,
			target{"idle VmRSS ≤ 4 MiB, health off", fmt.Sprintf("%.2f MiB (VmHWM %.2f)", rss, fp("tinit", "VmHWM")/1024), rss <= 4},
			target{"idle VmRSS ≤ 6 MiB, health on", fmt.Sprintf("%.2f MiB (VmHWM %.2f)", rssH, fp("tinit+health", "VmHWM")/1024), rssH <= 6},
			target{"stripped binary ≤ 6 MiB", fmt.Sprintf("%.2f MiB (%d bytes)", size, r.binaries["tinit"].size), size <= 6})
	}

	if r.reaping != nil {
		get := func(n string, f func(storm) float64) []float64 {
			var v []float64
			for _, s := range r.reaping[n] {
				v = append(v, f(s))
			}
			return v
		}
		clear := func(s storm) float64 {
			if s.clearMs < 0 {
				return math.Inf(1)
			}
			return s.clearMs
		}
		t := newTable(peerInits)
		t.row("time to 0 zombies, median (ms)", 1, func(n string) float64 { return median(get(n, clear)) })
		t.row("time to 0 zombies, worst (ms)", 1, func(n string) float64 { return maxOf(get(n, clear)) })
		t.row("peak zombies sampled, median", 0, func(n string) float64 { return median(get(n, func(s storm) float64 { return float64(s.peak) })) })
		t.count("zombies left at the end, worst", func(n string) float64 { return maxOf(get(n, func(s storm) float64 { return float64(s.final) })) })
		t.count("orphans per storm (forks that succeeded), min", func(n string) float64 {
			return pct(get(n, func(s storm) float64 { return float64(s.forked) }), 0)
		})
		t.count("storms", func(n string) float64 { return float64(len(r.reaping[n])) })
		w("## Reaping\n\nA child forks an intermediate that vforks %d children which exit at once; the intermediate then exits, and its %d zombies are re-parented to the init together. "+
			"Time from the intermediate's exit (its own CLOCK_MONOTONIC stamp) to the first sample with no zombie left. "+
			"Zombies are counted from the host every ~1 ms: exactly, as the init's children (all threads' `/proc/PID/task/TID/children`) other than the storm process, once fewer than ~1,500 are left; "+
			"above that, where one exact read takes ~10 ms and competes with the init's wait4 for the kernel's tasklist lock, from `/proc/loadavg`'s count of tasks less the tasks before the storm (the peak is that estimate). "+
			"Times include the ~10-20 ms the kernel itself spends handing 10,000 children over to the init, the same for every init. "+
			"The final count is an exact scan of /proc for state Z 100 ms later. "+
			"Traces of the first storm: `data/reaping-*.txt`.\n\n%s\n", r.cfg.orphans, r.cfg.orphans, t)
		ti, tn := median(get("tinit", clear)), median(get("tini-static", clear))
		final := maxOf(get("tinit", func(s storm) float64 { return float64(s.final) }))
		targets = append(targets,
			target{"reaping: 10,000 orphans at least as fast as tini-static", fmt.Sprintf("%s (%.1f vs %.1f ms)", ratio(ti, tn), ti, tn), ti <= tn},
			target{"reaping: 0 zombies left", fmt.Sprintf("%.0f left (worst storm)", final), final == 0})
	}

	if r.sigUSR1 != nil {
		t := newTable(peerInits)
		t.row("SIGUSR1, median (µs)", 1, func(n string) float64 { return med(r.sigUSR1, n) })
		t.row("SIGUSR1, p99 (µs)", 1, func(n string) float64 { return pct(r.sigUSR1[n], 99) })
		t.row("SIGUSR1, max (µs)", 1, func(n string) float64 { return maxOf(r.sigUSR1[n]) })
		t.count("SIGUSR1, lost (no delivery in 1 s)", func(n string) float64 { return float64(r.lostUSR1[n]) })
		t.row("first SIGTERM, median (µs)", 1, func(n string) float64 { return med(r.sigTERM, n) })
		t.row("first SIGTERM, p99 (µs)", 1, func(n string) float64 { return pct(r.sigTERM[n], 99) })
		t.count("first SIGTERM, lost", func(n string) float64 { return float64(r.lostTERM[n]) })
		w("## Signal latency\n\nFrom just before `kill(INIT, SIG)` in the harness to the child's CLOCK_MONOTONIC stamp right after `rt_sigtimedwait` returned (the child is a 116-byte static program, bench/tiny/sigwait.S: no runtime of its own in the path). "+
			"SIGUSR1: %d rounds per init, all inits running side by side, one signal at a time after a 1-3 ms idle pause. "+
			"SIGTERM is a stop signal for tinit (it starts the grace period), so the first-SIGTERM rows use fresh instances, one signal each, after 100 ms idle (%d rounds).\n\n%s\n",
			len(r.sigUSR1["tinit"]), len(r.sigTERM["tinit"]), t)
		w("tinit / mininit (the Go runtime's own signal path): %s of the SIGUSR1 median, %s of the p99.\n\n",
			ratio(med(r.sigUSR1, "tinit"), med(r.sigUSR1, "mininit")), ratio(pct(r.sigUSR1["tinit"], 99), pct(r.sigUSR1["mininit"], 99)))
		ti, tn, p99 := med(r.sigUSR1, "tinit"), med(r.sigUSR1, "tini-static"), pct(r.sigUSR1["tinit"], 99)
		tt, tnt, p99t := med(r.sigTERM, "tinit"), med(r.sigTERM, "tini-static"), pct(r.sigTERM["tinit"], 99)
		targets = append(targets,
			target{"signal latency median ≤ tini-static's", fmt.Sprintf("SIGUSR1 %s (%.1f vs %.1f µs); first SIGTERM %s (%.1f vs %.1f µs)", ratio(ti, tn), ti, tn, ratio(tt, tnt), tt, tnt), ti <= tn && tt <= tnt},
			target{"signal latency p99 ≤ 1 ms", fmt.Sprintf("SIGUSR1 %.1f µs; first SIGTERM %.1f µs", p99, p99t), p99 <= 1000 && p99t <= 1000})
	}

	if r.restartTinit != nil {
		ft, ff := median(r.restartTinit), median(r.restartFloor)
		w("## Restart latency (tinit only)\n\n`tinit --restart always --backoff 0 --backoff-max 0 --max-restarts %d -- crash`, where crash (bench/tiny/crash.S, 68 bytes of code) stamps CLOCK_MONOTONIC at its first instruction and just before it exits 1. "+
			"Latency: one child's exit stamp to the next child's first-instruction stamp. Floor: the same gap when the harness itself runs the child with `syscall.ForkExec` + `wait4` in a loop. "+
			"Batches of tinit and of the floor alternate.\n\n", r.cfg.restartBatch)
		w("| | tinit | fork+exec+wait floor | tinit − floor | tinit / floor |\n|---|---:|---:|---:|---:|\n")
		for _, p := range []struct {
			label string
			p     float64
		}{{"median (µs)", 50}, {"p90 (µs)", 90}, {"p99 (µs)", 99}} {
			a, f := pct(r.restartTinit, p.p), pct(r.restartFloor, p.p)
			w("| %s | %s | %s | %s | %s |\n", p.label, num(a, 1), num(f, 1), num(a-f, 1), ratio(a, f))
		}
		w("| restarts | %d | %d | | |\n\n", len(r.restartTinit), len(r.restartFloor))
		w("tinit wrote about %.0f bytes to stderr per restart (its warn-level \"restarting\" line).\n\n", r.restartLogBytes)
		targets = append(targets, target{"restart latency within 2 ms of the fork+exec floor",
			fmt.Sprintf("median %.1f µs vs floor %.1f µs: +%.1f µs (p99 +%.1f µs)", ft, ff, ft-ff, pct(r.restartTinit, 99)-pct(r.restartFloor, 99)), ft-ff <= 2000})
	}

	if r.idle != nil {
		id := func(f func(idleResult) float64) func(string) float64 {
			return func(n string) float64 {
				x, ok := r.idle[n]
				if !ok {
					return math.NaN()
				}
				return f(x)
			}
		}
		t := newTable(idleInits)
		t.row("wake-ups/s (the init woke, threads together)", 2, id(func(x idleResult) float64 { return x.bursts }))
		t.row("context switches/s (voluntary + involuntary)", 2, id(func(x idleResult) float64 { return x.vol + x.nonvol }))
		t.row("voluntary switches/s", 2, id(func(x idleResult) float64 { return x.vol }))
		t.row("involuntary switches/s", 2, id(func(x idleResult) float64 { return x.nonvol }))
		t.row("CPU, utime+stime from stat (ms)", 0, id(func(x idleResult) float64 { return x.ticksMs }))
		t.row("CPU, schedstat run time (µs)", 0, id(func(x idleResult) float64 { return x.runUs }))
		t.row("threads", 0, id(func(x idleResult) float64 { return float64(x.threads) }))
		w("## Idle cost\n\nAll inits side by side with `sleep 1000`, 2 s after start, over %.0f s. Wake-ups: polled every %v, a poll in which any of the init's threads ran (`/proc/PID/task/*/schedstat`) starts one, and the polls right after it that also saw activity belong to it. "+
			"Context switches summed over the init's threads (`/proc/PID/task/*/status`): a Go init's one wake-up is several switches, as the runtime passes a signal from thread to thread. "+
			"CPU time from `/proc/PID/stat` (10 ms ticks) and, finer, from `/proc/PID/task/*/schedstat`. tinit runs its default `--heartbeat 1s` (one SIGALRM a second); `tinit-hb0` is tinit with `--heartbeat 0`.\n\n%s\n", r.idleSecs, burstPoll, t)
		b, bH := r.idle["tinit"].bursts, r.idle["tinit+health"].bursts
		targets = append(targets, target{"idle: ≤ 2 wake-ups/s beyond the 1/s heartbeat",
			fmt.Sprintf("%.2f wake-ups/s in all (%.2f beyond the heartbeat; %.2f/s with --heartbeat 0); with health on %.2f/s. Context switches: %.2f/s", b, max(b-1, 0), r.idle["tinit-hb0"].bursts, bH, r.idle["tinit"].vol+r.idle["tinit"].nonvol), b-1 <= 2})
	}

	if len(targets) > 0 {
		w("## Targets (issue 6)\n\n| target | measured | |\n|---|---|---|\n")
		for _, t := range targets {
			v := "missed"
			if t.ok {
				v = "met"
			}
			w("| %s | %s | %s |\n", t.what, t.measured, v)
		}
		w("\n")
	}
	if len(r.notes) > 0 || len(r.stderr) > 0 {
		w("## Notes\n\n")
		for _, n := range r.notes {
			w("- %s\n", n)
		}
		if len(r.stderr) > 0 {
			w("- What the inits wrote to stderr over the whole run (lines grouped when they differ only in numbers):\n")
			for _, l := range r.stderr {
				w("  - %s\n", l)
			}
		}
		w("\n")
	}
	w("Raw samples: `bench/data/` (start-up in ms, signal and restart latency in µs, one sample a line). Regenerate with `%s`.\n", cmd)
	if err := os.WriteFile(filepath.Join(e.out, "results.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return e.chart()
}

// colour keeps each init's colour the same in both panels.
var colour = map[string]string{
	"floor": "#888888", "tinit": "#d62728", "tinit+health": "#ff9896",
	"tini-static": "#1f77b4", "dumb-init": "#2ca02c", "catatonit": "#9467bd", "mininit": "#ff7f0e", "mininit-all": "#ffbb78",
}

// chart draws the CDFs of start-up time and signal latency per init.
func (e *env) chart() error {
	r := e.res
	if r.startup == nil && r.sigUSR1 == nil {
		return nil
	}
	cdf := func(name string, v []float64) (string, error) {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		var b strings.Builder
		for i, x := range s {
			fmt.Fprintf(&b, "%.3f %.5f\n", x, float64(i+1)/float64(len(s)))
		}
		// Relative to bench/, where gnuplot runs.
		return filepath.Join("data", name), os.WriteFile(filepath.Join(e.data, name), []byte(b.String()), 0o644)
	}
	plot := func(title, xlabel string, logx bool, xmax float64, names []string, m map[string][]float64, prefix string) (string, error) {
		var g strings.Builder
		fmt.Fprintf(&g, "set title %q\nset xlabel %q\nset ylabel \"fraction of samples\"\nset key bottom right\nset grid\nset yrange [0:1]\n", title, xlabel)
		if logx {
			g.WriteString("set logscale x\n")
		} else {
			g.WriteString("unset logscale x\n")
		}
		fmt.Fprintf(&g, "set xrange [*:%g]\nplot ", xmax)
		first := true
		for _, n := range names {
			if len(m[n]) == 0 {
				continue
			}
			p, err := cdf(prefix+n+".txt", m[n])
			if err != nil {
				return "", err
			}
			if !first {
				g.WriteString(", ")
			}
			first = false
			lw := 1.5
			if strings.HasPrefix(n, "tinit") {
				lw = 3
			}
			fmt.Fprintf(&g, "%q using 1:2 with lines lw %g lc rgb %q title %q", p, lw, colour[n], n)
		}
		g.WriteString("\n")
		return g.String(), nil
	}
	var gp strings.Builder
	fmt.Fprintf(&gp, "set terminal pngcairo size 1500,620 font \"sans,10\"\nset output \"latency.png\"\nset multiplot layout 1,2\n")
	if r.startup != nil {
		var hi float64
		for _, v := range r.startup {
			hi = math.Max(hi, pct(v, 99))
		}
		s, err := plot("Start-up: unshare ... INIT -- /bin/true (CDF)", "wall time (ms)", false, hi*1.05, startupInits, r.startup, "cdf-startup-")
		if err != nil {
			return err
		}
		gp.WriteString(s)
	}
	if r.sigUSR1 != nil {
		var hi float64
		for _, v := range r.sigUSR1 {
			hi = math.Max(hi, pct(v, 99.5))
		}
		s, err := plot("Signal latency: kill(INIT, SIGUSR1) to the child's sigtimedwait (CDF)", "latency (µs, log scale)", true, hi*1.2, peerInits, r.sigUSR1, "cdf-signal-")
		if err != nil {
			return err
		}
		gp.WriteString(s)
	}
	gp.WriteString("unset multiplot\n")
	script := filepath.Join(e.data, "latency.gp")
	if err := os.WriteFile(script, []byte(gp.String()), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("gnuplot", filepath.Join("data", "latency.gp"))
	cmd.Dir = e.out
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v\n%s", err, out)
	}
	return nil
}
