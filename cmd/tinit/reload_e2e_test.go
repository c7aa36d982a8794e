package main_test

// End-to-end tests of --reload-on, --reload-signal and --restart-signal
// (issue 22), tinit as PID 1: a changed file or directory sends the
// reload signal to the child's group, or restarts the child gracefully;
// a --restart-signal received does the same restart and never reaches
// the child. Directories are written the way the kubelet's atomic writer
// updates a ConfigMap volume (watchtest), where the one change that
// counts is the rename onto ..data.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit/tinit/init/watch/watchtest"
)

// reloadDebounce is the --reload-debounce of the tests; changes are
// spaced well apart from it (reloadGap) so that each is its own burst.
const (
	reloadDebounce = 200 * time.Millisecond
	reloadGap      = time.Second
)

// reloadsSeries names one tinit_reloads_total series as scrapeSeries
// keys it.
func reloadsSeries(action, cause string) string {
	return fmt.Sprintf("tinit_reloads_total{action=%q,cause=%q}", action, cause)
}

// recordedOnly reports whether the record file holds exactly n lines,
// each sig.
func recordedOnly(path, sig string, n int) bool {
	got := lines(path)
	if len(got) != n {
		return false
	}
	for _, s := range got {
		if s != sig {
			return false
		}
	}
	return true
}

func TestReloadOnSendsOneSignalPerChange(t *testing.T) {
	tests := []struct {
		name   string
		atomic bool // the directory is written the kubelet's way, else plainly
		byFile bool // --reload-on names app.conf, not its directory
		viaEnv bool // the TINIT_RELOAD_* variables instead of the flags
		flags  []string
		want   string // the signal each change delivers
		// noiseCounts: writing another file into the directory is a
		// change too.
		noiseCounts bool
	}{
		{name: "a directory the kubelet's atomic writer swaps: one SIGHUP per swap",
			atomic: true, want: "HUP"},
		{name: "a file in such a directory, watched by its path: one SIGHUP per swap",
			atomic: true, byFile: true, want: "HUP"},
		{name: "a plain directory: each rewrite of a file in it is one SIGHUP, a new file too",
			want: "HUP", noiseCounts: true},
		{name: "a plain file watched by its path: each rewrite is one SIGHUP, another file beside it none",
			byFile: true, want: "HUP"},
		{name: "--reload-signal USR1 sends USR1 instead",
			atomic: true, flags: []string{"--reload-signal", "USR1"}, want: "USR1"},
		{name: "--rewrite HUP:USR1 leaves the reload signal alone",
			atomic: true, flags: []string{"--rewrite", "HUP:USR1"}, want: "HUP"},
		{name: "TINIT_RELOAD_ON, TINIT_RELOAD_DEBOUNCE and TINIT_RELOAD_SIGNAL do the same",
			atomic: true, viaEnv: true, want: "USR1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := shortDir(t)
			write := func(n int) {
				t.Helper()
				content := map[string]string{"app.conf": fmt.Sprintf("version %d\n", n)}
				var err error
				switch {
				case tt.atomic && n == 0:
					err = watchtest.AtomicInit(dir, content)
				case tt.atomic:
					err = watchtest.AtomicSwap(dir, content)
				default:
					err = os.WriteFile(filepath.Join(dir, "app.conf"), []byte(content["app.conf"]), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			write(0)
			watched := dir
			if tt.byFile {
				watched = filepath.Join(dir, "app.conf")
			}
			port := freePort(t)
			env := []string{helperEnv + "=record"}
			args := []string{"--health-addr", fmt.Sprintf("127.0.0.1:%d", port)}
			if tt.viaEnv {
				env = append(env, "TINIT_RELOAD_ON="+watched, "TINIT_RELOAD_DEBOUNCE="+reloadDebounce.String(),
					"TINIT_RELOAD_SIGNAL="+tt.want)
			} else {
				args = append(args, "--reload-on", watched, "--reload-debounce", reloadDebounce.String())
			}
			// The main child and a second process in its group record
			// what they get: the reload signal goes to the whole group.
			recs := []string{filepath.Join(t.TempDir(), "main"), filepath.Join(t.TempDir(), "grand")}
			args = append(append(args, tt.flags...), "--", "/bin/sh", "-c",
				`"$0" "$2" HUP USR1 TERM! & exec "$0" "$1" HUP USR1 TERM!`, selfBin, recs[0], recs[1])
			r := startTinit(t, env, args...)
			for range recs {
				if got := r.line(10 * time.Second); got != "ready" {
					t.Fatalf("a child said %q; stderr:\n%s", got, r.stderr)
				}
			}
			// each waits until both processes have recorded n signals,
			// all of them want, and checks they stay at n a while longer.
			each := func(n int, after string) {
				t.Helper()
				for _, rec := range recs {
					if !waitFor(10*time.Second, func() bool { return len(lines(rec)) >= n }) {
						t.Fatalf("%s: %s recorded %q, want %d %s; stderr:\n%s", after, filepath.Base(rec), lines(rec), n, tt.want, r.stderr)
					}
				}
				time.Sleep(reloadGap)
				for _, rec := range recs {
					if !recordedOnly(rec, tt.want, n) {
						t.Fatalf("%s: %s recorded %q, want %d %s; stderr:\n%s", after, filepath.Base(rec), lines(rec), n, tt.want, r.stderr)
					}
				}
			}
			for n := 1; n <= 3; n++ {
				write(n)
				each(n, fmt.Sprintf("change %d", n))
			}
			if err := os.WriteFile(filepath.Join(dir, "other.conf"), []byte("x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			want := 3
			if tt.noiseCounts {
				want = 4
			}
			each(want, "another file written into the directory")
			if got := scrapeSeries(t, port)[reloadsSeries("signal", "file")]; got != float64(want) {
				t.Errorf("%s = %v, want %d", reloadsSeries("signal", "file"), got, want)
			}
			r.signal(syscall.SIGTERM)
			if code := r.exitCode(10 * time.Second); code != 0 {
				t.Fatalf("exit %d after SIGTERM, want the child's 0; stderr:\n%s", code, r.stderr)
			}
		})
	}
}

// stampedHUPs reads the "HUP NS" lines of a record-stamped file.
func stampedHUPs(t *testing.T, path string) []time.Time {
	t.Helper()
	b, _ := os.ReadFile(path)
	var out []time.Time
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "HUP" {
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("record line %q", line)
			}
			out = append(out, time.Unix(0, ns))
		}
	}
	return out
}

func TestReloadDebounceDefaultsToOneSecondAfterTheLastChange(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(t.TempDir(), "rec")
	a, env := helper("record-stamped", rec, "HUP", "TERM!")
	r := startTinit(t, []string{env}, append([]string{"--reload-on", dir, "--"}, a...)...)
	if got := r.line(10 * time.Second); got != "ready" {
		t.Fatalf("the child said %q", got)
	}
	// Ten writes 50 ms apart: each well inside the 1 s default of the
	// one before, so one burst.
	for i := 0; i < 10; i++ {
		if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte(fmt.Sprintf("%d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	last := time.Now()
	if !waitFor(10*time.Second, func() bool { return len(stampedHUPs(t, rec)) > 0 }) {
		t.Fatalf("no SIGHUP within 10s of the writes; stderr:\n%s", r.stderr)
	}
	time.Sleep(2 * time.Second)
	hups := stampedHUPs(t, rec)
	if len(hups) != 1 {
		t.Fatalf("%d SIGHUPs for one burst of writes, want 1", len(hups))
	}
	// A lower bound only: the debounce runs from the last write, not
	// the first (the burst itself lasted half a second).
	if early := last.Add(900 * time.Millisecond); hups[0].Before(early) {
		t.Fatalf("the SIGHUP came %v after the last write, before the 1s debounce", hups[0].Sub(last).Round(time.Millisecond))
	}
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, r.stderr)
	}
}

func TestReloadOnUnderNginx(t *testing.T) {
	requireNamespace(t)
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		unavailable(t, "nginx is needed (apt-get install nginx-light)")
	}
	tests := []struct {
		name    string
		flags   []string
		restart bool   // a new master, or the same one reloaded
		got     string // the signal the first master logs, as nginx names it
	}{
		{"--reload-signal restart: a new nginx serves the new config and the old generation is gone",
			[]string{"--reload-signal", "restart"}, true, "signal 15 (SIGTERM)"},
		{"--reload-signal restart with --rewrite TERM:QUIT: the old master stops gracefully",
			[]string{"--reload-signal", "restart", "--rewrite", "TERM:QUIT"}, true, "signal 3 (SIGQUIT)"},
		{"the default SIGHUP: the same master reloads and serves the new config",
			nil, false, "signal 1 (SIGHUP)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, work := t.TempDir(), t.TempDir()
			port, health := freePort(t), freePort(t)
			version := func(v string) map[string]string {
				return map[string]string{"nginx.conf": nginxConf(work, port, v+" ")}
			}
			if err := watchtest.AtomicInit(conf, version("v1")); err != nil {
				t.Fatal(err)
			}
			args := append(append([]string{"--health-addr", fmt.Sprintf("127.0.0.1:%d", health),
				"--reload-on", conf, "--reload-debounce", reloadDebounce.String(), "--grace", "5s"}, tt.flags...),
				"--", nginx, "-p", work, "-c", filepath.Join(conf, "nginx.conf"))
			r := startTinit(t, nil, args...)
			// served is the version answering GET /, or "".
			served := func() string {
				if f := strings.Fields(nginxAnswer(port)); len(f) == 2 {
					return f[0]
				}
				return ""
			}
			var master int
			var workers []int
			if !waitFor(15*time.Second, func() bool {
				master, workers = nginxGeneration(r.tinitPid())
				return master != 0 && served() == "v1"
			}) {
				t.Fatalf("nginx did not serve v1 with a master and 2 workers within 15s; stderr:\n%s", r.stderr)
			}
			// How the master names itself in its log: its namespace pid,
			// read while it lives.
			ns := nsPid(master)
			if err := watchtest.AtomicSwap(conf, version("v2")); err != nil {
				t.Fatal(err)
			}
			if !waitFor(20*time.Second, func() bool { return served() == "v2" }) {
				t.Fatalf("v2 not served within 20s of the swap (now %q); stderr:\n%s", served(), r.stderr)
			}
			var left []int
			if !waitFor(15*time.Second, func() bool {
				left = left[:0]
				for _, w := range workers {
					if alive(w) {
						left = append(left, w)
					}
				}
				return len(left) == 0
			}) {
				t.Fatalf("the old workers %v of %v are still alive 15s after v2 was served", left, workers)
			}
			newMaster, _ := nginxGeneration(r.tinitPid())
			switch {
			case tt.restart && alive(master):
				t.Fatalf("the old master %d is still alive after the restart", master)
			case tt.restart && newMaster == 0:
				t.Fatalf("no new master with 2 workers; stderr:\n%s", r.stderr)
			case !tt.restart && newMaster != master:
				t.Fatalf("the master is %d, want the same %d reloaded; stderr:\n%s", newMaster, master, r.stderr)
			}
			// From pid 1: tinit sent it.
			if line := fmt.Sprintf("%d#%d: %s received from 1", ns, ns, tt.got); !strings.Contains(r.stderr.String(), line) {
				t.Errorf("nginx's log has no %q; stderr:\n%s", line, r.stderr)
			}
			action := "signal"
			if tt.restart {
				action = "restart"
			}
			var got map[string]float64
			if !waitFor(5*time.Second, func() bool {
				got = scrapeSeries(t, health)
				return got[reloadsSeries(action, "file")] == 1
			}) {
				t.Errorf("%s = %v, want 1", reloadsSeries(action, "file"), got[reloadsSeries(action, "file")])
			}
			if v := got["tinit_child_restarts_total"]; v != 0 {
				t.Errorf("tinit_child_restarts_total = %v after a reload, want 0", v)
			}
			r.signal(syscall.SIGTERM)
			if code := r.exitCode(15 * time.Second); code != 0 {
				t.Fatalf("exit %d after SIGTERM, want 0; stderr:\n%s", code, r.stderr)
			}
		})
	}
}

func TestRestartSignal(t *testing.T) {
	for _, via := range []struct {
		name  string
		env   []string
		flags []string
	}{
		{"--restart-signal USR2", nil, []string{"--restart-signal", "USR2"}},
		{"TINIT_RESTART_SIGNAL=USR2", []string{"TINIT_RESTART_SIGNAL=USR2"}, nil},
	} {
		t.Run(via.name+": the child is restarted gracefully and never sees USR2", func(t *testing.T) {
			rec := filepath.Join(t.TempDir(), "rec")
			a, env := recordArgs(rec, "USR2", "HUP", "TERM!")
			port := freePort(t)
			r := startTinit(t, append(via.env, env), append(append([]string{"--health-addr", fmt.Sprintf("127.0.0.1:%d", port)},
				via.flags...), append([]string{"--"}, a...)...)...)
			if got := r.line(10 * time.Second); got != "ready" {
				t.Fatalf("the child said %q", got)
			}
			first := mainChildOf(t, r.tinitPid())
			r.signal(syscall.SIGUSR2)
			if got := r.line(10 * time.Second); got != "ready" {
				t.Fatalf("after SIGUSR2 no new child said ready (got %q); stderr:\n%s", got, r.stderr)
			}
			if got := lines(rec); strings.Join(got, " ") != "TERM" {
				t.Fatalf("the first child recorded %q, want TERM alone", got)
			}
			if second := mainChildOf(t, r.tinitPid()); second == first || alive(first) {
				t.Fatalf("main child %d after the restart, %d before (alive %v)", second, first, alive(first))
			}
			got := scrapeSeries(t, port)
			for series, want := range map[string]float64{
				reloadsSeries("restart", "signal"): 1,
				reloadsSeries("restart", "file"):   0,
				reloadsSeries("signal", "signal"):  0,
				"tinit_child_restarts_total":       0,
				"tinit_child_up":                   1,
			} {
				if v, ok := got[series]; !ok || v != want {
					t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
				}
			}
			if v := got[`tinit_signals_forwarded_total{signal="SIGUSR2"}`]; v != 0 {
				t.Errorf("tinit counted %v SIGUSR2 forwarded", v)
			}
			r.signal(syscall.SIGTERM)
			if code := r.exitCode(10 * time.Second); code != 0 {
				t.Fatalf("exit %d after SIGTERM, want the child's 0; stderr:\n%s", code, r.stderr)
			}
			if got := lines(rec); strings.Join(got, " ") != "TERM TERM" {
				t.Fatalf("the children recorded %q, want a TERM each", got)
			}
		})
	}
	t.Run("graceful restarts do not count against --max-restarts", func(t *testing.T) {
		dir := t.TempDir()
		// Each run says ready, exits 0 on TERM, and exits 3 once crash
		// exists.
		script := `echo run >> runs; trap "exit 0" TERM; echo ready; while [ ! -e crash ]; do sleep 0.05; done; exit 3`
		r := startTinitIn(t, dir, nil, "--restart", "on-failure", "--max-restarts", "1", "--backoff", "10ms",
			"--restart-signal", "USR2", "--", "/bin/sh", "-c", script)
		r.line(10 * time.Second)
		for i := 0; i < 2; i++ {
			r.signal(syscall.SIGUSR2)
			if got := r.line(10 * time.Second); got != "ready" {
				t.Fatalf("graceful restart %d: the child said %q; stderr:\n%s", i+1, got, r.stderr)
			}
		}
		// Run 3 crashes and is restarted (the one restart allowed); run 4
		// crashes too, and tinit gives up.
		if err := os.WriteFile(filepath.Join(dir, "crash"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		code := r.exitCode(15 * time.Second)
		if n := len(lines(filepath.Join(dir, "runs"))); code != 3 || n != 4 {
			t.Fatalf("exit %d after %d runs, want 3 after 4 (2 graceful restarts, then 1 crash restart); stderr:\n%s", code, n, r.stderr)
		}
		if !strings.Contains(r.stderr.String(), "--max-restarts 1 reached") {
			t.Fatalf("stderr does not say --max-restarts 1 reached:\n%s", r.stderr)
		}
	})
	t.Run("a group that ignores SIGTERM is killed after --grace, not ready meanwhile, then the new child starts", func(t *testing.T) {
		// A grace period long enough for /readyz to be seen in it.
		const grace = 2 * time.Second
		port := freePort(t)
		r := startTinit(t, nil, "--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--grace", grace.String(),
			"--restart-signal", "USR2", "--", "/bin/sh", "-c", ignoresTERM)
		r.line(10 * time.Second)
		waitCode(t, port, "/readyz", 200, 10*time.Second)
		old := mainChildOf(t, r.tinitPid())
		group := append([]int{old}, children(old)...)
		start := time.Now()
		r.signal(syscall.SIGUSR2)
		waitCode(t, port, "/readyz", 503, grace)
		if got := r.line(10 * time.Second); got != "ready" {
			t.Fatalf("no new child within 10s (got %q); stderr:\n%s", got, r.stderr)
		}
		// A lower bound only: nothing ends this group before SIGKILL.
		if took := time.Since(start); took < grace {
			t.Fatalf("the new child started %v after SIGUSR2, before --grace %v", took.Round(time.Millisecond), grace)
		}
		for _, p := range group {
			if alive(p) {
				t.Fatalf("process %d of the old group %v is alive next to the new child", p, group)
			}
		}
		waitCode(t, port, "/readyz", 200, 10*time.Second)
		r.signal(syscall.SIGTERM)
		if code := r.exitCode(10 * time.Second); code != 137 {
			t.Fatalf("exit %d, want 137 (the new group ignores SIGTERM too)", code)
		}
	})
}

func TestReloadAndRestartSignalValues(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-config")
	refused := []struct {
		name string
		env  []string
		args []string
		want []string // what the one line names
	}{
		{"--restart-signal TERM, a stop signal", nil, []string{"--restart-signal", "TERM"}, []string{"--restart-signal"}},
		{"--restart-signal INT, a stop signal", nil, []string{"--restart-signal", "INT"}, []string{"--restart-signal"}},
		{"--restart-signal QUIT, a stop signal", nil, []string{"--restart-signal", "QUIT"}, []string{"--restart-signal"}},
		{"--restart-signal TSTP, job control", nil, []string{"--restart-signal", "TSTP"}, []string{"--restart-signal"}},
		{"--restart-signal TTIN, job control", nil, []string{"--restart-signal", "TTIN"}, []string{"--restart-signal"}},
		{"--restart-signal TTOU, job control", nil, []string{"--restart-signal", "TTOU"}, []string{"--restart-signal"}},
		{"--restart-signal CONT, job control", nil, []string{"--restart-signal", "CONT"}, []string{"--restart-signal"}},
		{"--restart-signal CHLD, the reaper's", nil, []string{"--restart-signal", "CHLD"}, []string{"--restart-signal"}},
		{"--restart-signal ALRM while the heartbeat runs", nil, []string{"--heartbeat", "1s", "--restart-signal", "ALRM"}, []string{"--restart-signal"}},
		{"TINIT_RESTART_SIGNAL=SIGTERM", []string{"TINIT_RESTART_SIGNAL=SIGTERM"}, nil, []string{"TINIT_RESTART_SIGNAL"}},
		{"--reload-signal that is no signal", nil, []string{"--reload-on", dir, "--reload-signal", "NOPE"}, []string{"--reload-signal", "NOPE"}},
		{"--reload-on a path that does not exist", nil, []string{"--reload-on", missing}, []string{"--reload-on", missing}},
		{"TINIT_RELOAD_ON a path that does not exist", []string{"TINIT_RELOAD_ON=" + missing}, nil, []string{"TINIT_RELOAD_ON", missing}},
	}
	for _, tt := range refused {
		t.Run(tt.name+" is exit 2, one line, no child", func(t *testing.T) {
			wantUsageError(t, tt.env, tt.args, tt.want...)
		})
	}
	accepted := []struct {
		name string
		args []string
	}{
		{"--restart-signal ALRM with the heartbeat off", []string{"--restart-signal", "ALRM"}},
		{"--restart-signal SIGUSR2", []string{"--restart-signal", "SIGUSR2"}},
		{"--restart-signal 12", []string{"--restart-signal", "12"}},
		{"--reload-signal restart", []string{"--reload-on", dir, "--reload-signal", "restart"}},
		{"--reload-signal SIGUSR1", []string{"--reload-on", dir, "--reload-signal", "SIGUSR1"}},
	}
	for _, tt := range accepted {
		t.Run(tt.name+" is accepted", func(t *testing.T) {
			r := startTinit(t, nil, append(tt.args, "--", "/bin/sh", "-c", "exit 7")...)
			if code := r.exitCode(10 * time.Second); code != 7 {
				t.Fatalf("exit %d, want the child's 7; stderr:\n%s", code, r.stderr)
			}
		})
	}
}
