package main_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Real servers from Debian under tinit as PID 1, beside nginx's test
// (TestCrashRestartStartsACleanGeneration): each is killed with SIGKILL
// under --restart on-failure, must come back and serve, and must stop
// with 0 on SIGTERM.

// restartAndStop kills the main child, waits for a new one that passes
// ready, then stops tinit with SIGTERM and wants exit 0.
func restartAndStop(t *testing.T, r *run, ready func() bool) {
	t.Helper()
	var first int
	if !waitFor(20*time.Second, func() bool {
		kids := children(r.tinitPid())
		if len(kids) == 0 {
			return false
		}
		first = kids[0]
		return ready()
	}) {
		t.Fatalf("not serving within 20s; stderr:\n%s", r.stderr)
	}
	if err := unix.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(20*time.Second, func() bool {
		kids := children(r.tinitPid())
		return len(kids) == 1 && kids[0] != first && procState(kids[0]) != "Z" && ready()
	}) {
		t.Fatalf("20s after kill -9 of %d: no new main child serving; stderr:\n%s", first, r.stderr)
	}
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(20 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0; stderr:\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "restarting (--restart on-failure)") {
		t.Fatalf("no restart logged; stderr:\n%s", r.stderr)
	}
}

func TestRedisRestartsAndStops(t *testing.T) {
	requireNamespace(t)
	redis, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server is needed (apt-get install redis-server)")
	}
	port := freePort(t)
	r := startTinit(t, nil, "--restart", "on-failure", "--", redis,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	pong := func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprint(c, "PING\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line == "+PONG\r\n"
	}
	restartAndStop(t, r, pong)
}

func TestPostgreSQLRestartsAndStops(t *testing.T) {
	requireNamespace(t)
	pg := newPostgres(t)
	r := startTinit(t, nil, append([]string{"--restart", "on-failure", "--"}, pg.argv...)...)
	restartAndStop(t, r, pg.ready)
}

// postgres is a fresh PostgreSQL cluster, run as its own user.
type postgres struct {
	argv  []string    // the server's command line
	ready func() bool // pg_isready
}

// newPostgres makes a cluster in a directory of its own, on a free port.
func newPostgres(t *testing.T) postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		unavailable(t, "PostgreSQL is needed (apt-get install postgresql)")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	pg, err := user.Lookup("postgres")
	if err != nil {
		unavailable(t, "the postgres user is needed (apt-get install postgresql)")
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	// Not t.TempDir: its parent is root's alone, and postgres must reach
	// its own data directory.
	dir, err := os.MkdirTemp("", "tinit-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command("setpriv", "--reuid", pg.Uid, "--regid", pg.Gid, "--init-groups",
		filepath.Join(bin, "initdb"), "-D", data, "--auth=trust", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := strconv.Itoa(freePort(t))
	return postgres{
		argv: []string{"setpriv", "--reuid", pg.Uid, "--regid", pg.Gid, "--init-groups",
			filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-p", port, "-c", "listen_addresses="},
		ready: func() bool {
			return exec.Command(filepath.Join(bin, "pg_isready"), "-q", "-h", dir, "-p", port).Run() == nil
		},
	}
}
