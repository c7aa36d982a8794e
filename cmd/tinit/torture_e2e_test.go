package main_test

import (
	"flag"
	"fmt"
	"math/rand"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// -torture runs the long variants; CI runs the short ones.
var torture = flag.Bool("torture", false, "run the long torture variants (100,000 orphans, more rounds)")

func scale(short, long int) int {
	if *torture {
		return long
	}
	return short
}

func TestTortureOrphanStorm(t *testing.T) {
	n := scale(20000, 100000)
	a, env := helper("orphans", strconv.Itoa(n))
	r := startTinit(t, []string{env}, append([]string{"--"}, a...)...)
	// The helper allows one second after its storm ends for the last reaps.
	if got := r.line(10 * time.Minute); got != "zombies=0" {
		t.Fatalf("after %d orphans: %s", n, got)
	}
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(30 * time.Second); code != 143 {
		t.Fatalf("exit %d, want 143", code)
	}
}

func TestTortureMixedSignalsWhileRestarting(t *testing.T) {
	n := scale(10000, 100000)
	// The child crashes at once, over and over; HUP, USR1, USR2 and WINCH
	// land on it or between two of its lives.
	ran := t.TempDir() + "/ran"
	r := startTinit(t, nil, "--restart", "always", "--backoff", "1ms", "--backoff-max", "1ms", "--",
		"/bin/sh", "-c", "touch "+ran+"; exit 1")
	pid := r.tinitPid()
	// From its first restart on: before main registers its handlers, the
	// Go runtime's own would end tinit on a SIGHUP (see the README).
	waitFile(t, ran)
	mixed := []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}
	for i := 0; i < n; i++ {
		if err := unix.Kill(pid, mixed[i%len(mixed)]); err != nil {
			t.Fatalf("signal %d: %v", i, err)
		}
	}
	select {
	case <-r.done:
		t.Fatalf("tinit exited %v during the signals; stderr: %s", r.err, r.stderr)
	default:
	}
	r.signal(syscall.SIGTERM)
	// The last child's own code, as documented: its exit 1, or 128+N for
	// the signal that ended it (a forwarded HUP, USR1 or USR2 may beat the
	// SIGTERM), or 143 from a backoff.
	switch code := r.exitCode(30 * time.Second); code {
	case 1, 128 + 1, 128 + 10, 128 + 12, 128 + 15, 128 + 9:
	default:
		t.Fatalf("exit %d after %d signals: not a code this child can end with", code, n)
	}
}

func TestTortureSIGTERMAtRandomPoints(t *testing.T) {
	rounds := scale(30, 300)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	// The inner tinit (not PID 1) lives through start-up, crashes, backoff,
	// a drain and a grace period; SIGTERM lands at a random moment. After
	// it exits, nothing it started may be left in the namespace.
	child := `trap "" TERM; [ -e $D/crashed ] || { touch $D/crashed; exit 3; }; sleep 1000 & sleep 1000`
	for i := 0; i < rounds; i++ {
		delay := rng.Intn(400)
		dir := t.TempDir()
		script := fmt.Sprintf(`D=%s; export D
$T --restart on-failure --backoff 100ms --drain 50ms --grace 150ms -- sh -c '%s' &
pid=$!; sleep %d.%03d; kill -TERM $pid; wait $pid; code=$?
`+countSleeps+`; echo code=$code left=$n`, dir, child, delay/1000, delay%1000)
		st := nested(t, script)
		// 3: SIGTERM found the first child alive and it exited 3 on its
		// own (no restart follows a stop); 143: in backoff, or the child
		// died of it; 137: the grace period ran out.
		switch st["code"] {
		case "3", "143", "137":
		default:
			t.Fatalf("round %d (SIGTERM after %d ms): exit %s, want 3, 143 or 137", i, delay, st["code"])
		}
		if st["left"] != "0" {
			t.Fatalf("round %d (SIGTERM after %d ms): %s processes left", i, delay, st["left"])
		}
	}
}

// storm runs the orphans helper under tinit with health on and returns the
// time from its start to zombies=0.
func stormTime(t *testing.T, n int, flood func(port int) func()) time.Duration {
	t.Helper()
	port := freePort(t)
	a, env := helper("orphans", strconv.Itoa(n))
	start := time.Now()
	r := startTinit(t, []string{env}, append([]string{"--health-addr", fmt.Sprintf("127.0.0.1:%d", port), "--"}, a...)...)
	waitCode(t, port, "/healthz", 200, 10*time.Second)
	stop := func() {}
	if flood != nil {
		stop = flood(port)
	}
	got := r.line(5 * time.Minute)
	took := time.Since(start)
	stop()
	if got != "zombies=0" {
		t.Fatalf("after %d orphans: %s", n, got)
	}
	r.signal(syscall.SIGTERM)
	r.exitCode(30 * time.Second)
	return took
}

func TestTortureHealthFloodDoesNotSlowReaping(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		unavailable(t, "wrk is needed to flood the health port (apt-get install wrk)")
	}
	n := scale(5000, 20000)
	quiet := stormTime(t, n, nil)
	flooded := stormTime(t, n, func(port int) func() {
		// wrk runs bounded in time, from a second process on loopback.
		cmd := exec.Command(wrk, "-t1", "-c32", "-d30s", fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		return func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	})
	t.Logf("%d orphans reaped in %v quiet, %v with /metrics flooded", n, quiet.Round(time.Millisecond), flooded.Round(time.Millisecond))
	// Two cores are shared by wrk, the storm and tinit: allow the CPU they
	// take, not a stall.
	if flooded > 3*quiet+2*time.Second {
		t.Fatalf("reaping took %v with the health port flooded, %v without", flooded, quiet)
	}
}
