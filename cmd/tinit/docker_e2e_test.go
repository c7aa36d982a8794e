package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Docker tests run against a real engine: one that answers, or one
// they start themselves (root, dockerd installed) and stop by its PID when
// the tests end. Images are built FROM scratch: no registry is reachable.

var docker struct {
	once    sync.Once
	err     error
	dockerd *exec.Cmd // started here, stopped in stopDockerd
	images  sync.Once
	imgErr  error
}

const (
	imgTinit = "tinit:e2e"      // the project's Dockerfile
	imgTest  = "tinit-test:e2e" // plus busybox, to have programs to run
	imgHC    = "tinit-hc:e2e"   // plus a HEALTHCHECK on tinit --healthcheck
)

// requireDocker makes sure an engine answers; under CI a missing one fails.
func requireDocker(t *testing.T) {
	t.Helper()
	docker.once.Do(func() { docker.err = startDocker() })
	if docker.err != nil {
		unavailable(t, fmt.Sprintf("Docker is needed (apt-get install docker.io): %v", docker.err))
	}
	docker.images.Do(func() { docker.imgErr = buildImages() })
	if docker.imgErr != nil {
		t.Fatalf("build images: %v", docker.imgErr)
	}
}

func dockerAnswers() bool { return exec.Command("docker", "info").Run() == nil }

func startDocker() error {
	if dockerAnswers() {
		return nil
	}
	path, err := exec.LookPath("dockerd")
	if err != nil {
		return fmt.Errorf("no engine answers and no dockerd: %w", err)
	}
	log, _ := os.CreateTemp("", "dockerd-*.log")
	cmd := exec.Command(path)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dockerd: %w", err)
	}
	docker.dockerd = cmd
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if dockerAnswers() {
			return nil
		}
	}
	b, _ := os.ReadFile(log.Name())
	return fmt.Errorf("dockerd did not answer within 60s; its log:\n%s", b)
}

// stopDockerd stops the engine the tests started, by its PID.
func stopDockerd() {
	if docker.dockerd == nil {
		return
	}
	docker.dockerd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { docker.dockerd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		docker.dockerd.Process.Kill()
	}
}

// buildImages builds the project's image from its Dockerfile and the
// binary under test, then the test images on top of it.
func buildImages() error {
	ctx, err := os.MkdirTemp("", "tinit-image")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctx)
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		return err
	}
	os.MkdirAll(filepath.Join(ctx, "bin"), 0o755)
	bin, _ := os.ReadFile(tinitBin)
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("busybox-static is needed for the test image: %w", err)
	}
	files := map[string][]byte{
		"Dockerfile": dockerfile, "bin/tinit": bin, "busybox": busybox,
		"Dockerfile.test": []byte("FROM " + imgTinit + "\nCOPY busybox /bin/busybox\n"),
		"Dockerfile.hc": []byte("FROM " + imgTest + "\nENV TINIT_HEALTH_ADDR=:9180\n" +
			`HEALTHCHECK --interval=1s --timeout=3s --retries=2 CMD ["/tinit", "--healthcheck"]` + "\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(ctx, name), b, 0o755); err != nil {
			return err
		}
	}
	for _, b := range [][2]string{{imgTinit, "Dockerfile"}, {imgTest, "Dockerfile.test"}, {imgHC, "Dockerfile.hc"}} {
		out, err := exec.Command("docker", "build", "-q", "-t", b[0], "-f", filepath.Join(ctx, b[1]), ctx).CombinedOutput()
		if err != nil {
			return fmt.Errorf("docker build %s: %v\n%s", b[0], err, out)
		}
	}
	return nil
}

// dockerRun runs a container to the end and returns its exit code and
// output.
func dockerRun(t *testing.T, args ...string) (int, string) {
	t.Helper()
	argv := append([]string{"run", "--rm", "--network", "none"}, args...)
	cmd := exec.Command("docker", argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitCodeOf(t, err), out.String()
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("docker %v: no exit within 60s", argv)
		return -1, ""
	}
}

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// detached starts a container in the background, removed at the end.
func detached(t *testing.T, args ...string) string {
	t.Helper()
	id := dockerOut(t, append([]string{"run", "-d", "--network", "none"}, args...)...)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", id).Run() })
	return id
}

func TestDockerExitCodes(t *testing.T) {
	requireDocker(t)
	bb := []string{imgTest, "/bin/busybox", "sh", "-c"}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"exit 0", append(bb, "exit 0"), 0},
		{"exit 3", append(bb, "exit 3"), 3},
		{"killed by SIGTERM is 143", append(bb, "kill -TERM $$; sleep 5"), 143},
		{"a missing program is 127", []string{imgTest, "/no/such/program"}, 127},
		{"as a non-root user (65532), exit 3", append([]string{"--user", "65532"}, append(bb, "exit 3")...), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := dockerRun(t, tt.args...); code != tt.want {
				t.Fatalf("exit %d, want %d: %s", code, tt.want, out)
			}
		})
	}
}

func TestDockerStopIsQuick(t *testing.T) {
	requireDocker(t)
	id := detached(t, imgTest, "/bin/busybox", "sleep", "1000")
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	dockerOut(t, "stop", "-t", "10", id)
	took := time.Since(start)
	code := dockerOut(t, "inspect", "-f", "{{.State.ExitCode}}", id)
	if code != "143" || took > time.Second {
		t.Fatalf("docker stop took %v, exit %s; want under 1s and 143", took.Round(time.Millisecond), code)
	}
	t.Logf("docker stop -t 10 of busybox sleep under tinit: %v, exit %s", took.Round(time.Millisecond), code)
}

func TestDockerOrphansLeaveNoZombie(t *testing.T) {
	requireDocker(t)
	id := detached(t, imgTest, "/bin/busybox", "sh", "-c",
		`i=0; while [ $i -lt 1000 ]; do (/bin/busybox true &); i=$((i+1)); done; echo spawned; exec /bin/busybox sleep 1000`)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(dockerOut(t, "logs", id), "spawned") {
		if time.Now().After(deadline) {
			t.Fatal("the child never finished spawning")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	top := dockerOut(t, "top", id, "-eo", "pid,stat,comm")
	if zombies := topZombies(top); zombies != 0 {
		t.Fatalf("%d zombies a second after 1,000 orphans:\n%s", zombies, top)
	}
}

func TestDockerHealthcheck(t *testing.T) {
	requireDocker(t)
	id := detached(t, imgHC, "/bin/busybox", "sleep", "1000")
	var status string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if status = dockerOut(t, "inspect", "-f", "{{.State.Health.Status}}", id); status == "healthy" {
			return
		}
	}
	t.Fatalf("health status %q after 30s, want healthy", status)
}

func TestDockerTerminal(t *testing.T) {
	requireDocker(t)
	// -t: the child's group must be the terminal's foreground group.
	code, out := dockerRun(t, "-t", imgTest, "/bin/busybox", "cat", "/proc/self/stat")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	stat := strings.TrimSpace(out)
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+2:])
	pid, pgrp, tpgid := strings.Fields(stat)[0], f[2], f[5]
	if pgrp != tpgid || pgrp == "1" {
		t.Fatalf("pid %s pgrp %s tpgid %s: want the child's own group in the foreground", pid, pgrp, tpgid)
	}
	if n, _ := strconv.Atoi(pgrp); n < 2 {
		t.Fatalf("pgrp %s", pgrp)
	}
}

// topZombies counts the zombies in `docker top ID -eo pid,stat,comm`.
func topZombies(top string) int {
	n := 0
	for _, line := range strings.Split(top, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], "Z") {
			n++
		}
	}
	return n
}
