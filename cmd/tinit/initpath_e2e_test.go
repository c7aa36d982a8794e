package main_test

// docker run --init with tinit as dockerd's init (--init-path, daemon.json
// "init-path"): dockerd bind-mounts that binary at /sbin/docker-init and
// runs the container as /sbin/docker-init -- ENTRYPOINT/CMD...
//
// These tests start a dockerd of their own, on its own socket, data root,
// exec root, pid file and containerd namespace, with no bridge and no
// iptables: it cannot collide with the engine the other Docker tests use
// (or start) at /var/run/docker.sock, nor with another test run's. It is
// stopped, by its PID, when the test ends.

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ownDockerd is a dockerd started for one test.
type ownDockerd struct {
	t    *testing.T
	host string // unix://…/docker.sock
}

// startOwnDockerd starts a dockerd with extra flags, stopped when t ends.
func startOwnDockerd(t *testing.T, flags ...string) *ownDockerd {
	t.Helper()
	path, err := exec.LookPath("dockerd")
	if err != nil {
		unavailable(t, "dockerd is needed (apt-get install docker.io)")
	}
	needTools(t, "docker")
	if os.Geteuid() != 0 {
		unavailable(t, "starting dockerd needs root")
	}
	// Short: containerd's socket under the exec root must fit a sun_path.
	dir, err := os.MkdirTemp("", "tinitd")
	if err != nil {
		t.Fatal(err)
	}
	// An empty daemon.json of its own: /etc/docker/daemon.json may say
	// anything, and a setting both there and in a flag stops dockerd.
	config := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := "tinit-e2e-" + filepath.Base(dir)
	d := &ownDockerd{t: t, host: "unix://" + filepath.Join(dir, "docker.sock")}
	args := append([]string{
		"--host", d.host, "--config-file", config,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--containerd-namespace", ns, "--containerd-plugins-namespace", ns + "-plugins",
		"--bridge", "none", "--iptables=false", "--ip-masq=false",
	}, flags...)
	log, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	t.Cleanup(func() {
		// Containers first, then dockerd by its PID (it stops the
		// containerd it started), then its directories.
		if ids, err := exec.Command("docker", "--host", d.host, "ps", "-aq").Output(); err == nil && len(bytes.TrimSpace(ids)) > 0 {
			exec.Command("docker", append([]string{"--host", d.host, "rm", "-f"}, strings.Fields(string(ids))...)...).Run()
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("dockerd's log:\n%s", b)
		}
		os.RemoveAll(dir)
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if exec.Command("docker", "--host", d.host, "info").Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("dockerd %v did not answer within 60s; its log:\n%s", args, b)
		}
	}
	t.Logf("dockerd %s answered after %v", strings.Join(flags, " "), time.Since(start).Round(10*time.Millisecond))
	return d
}

// cmd is docker against this engine.
func (d *ownDockerd) cmd(args ...string) *exec.Cmd {
	return exec.Command("docker", append([]string{"--host", d.host}, args...)...)
}

// out runs docker and returns its trimmed output; a failure fails the test.
func (d *ownDockerd) out(t *testing.T, args ...string) string {
	t.Helper()
	b, err := d.cmd(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, b)
	}
	return strings.TrimSpace(string(b))
}

// run runs a container to the end, bounded in time: its exit code and output.
func (d *ownDockerd) run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{"--host", d.host, "run", "--rm", "--network", "none"}, args...)
	cmd := exec.CommandContext(ctx, "docker", argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("docker %v: no exit within 60s: %s", argv, out.Bytes())
	}
	return exitCodeOf(t, err), out.String()
}

// build builds an image from a Dockerfile and files, with the classic
// builder (the one docker.io 20.10 has without buildx).
func (d *ownDockerd) build(t *testing.T, tag string, files map[string][]byte, args ...string) {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := d.cmd(append(append([]string{"build", "-q", "-t", tag}, args...), dir)...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", tag, err, b)
	}
}

func TestDockerRunInitWithInitPath(t *testing.T) {
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		unavailable(t, "busybox-static is needed for the test image")
	}
	d := startOwnDockerd(t, "--init-path", tinitBin)
	// An image with no init of its own: busybox alone, no ENTRYPOINT.
	const img = "tinit-initpath:e2e"
	d.build(t, img, map[string][]byte{"Dockerfile": []byte("FROM scratch\nCOPY busybox /bin/busybox\n"), "busybox": busybox})
	bb := []string{img, "/bin/busybox", "sh", "-c"}

	// What docker info reports for an init that is not tini.
	t.Logf("docker info: %s", d.out(t, "info", "-f", "InitBinary={{.InitBinary}} InitCommit={{.InitCommit.ID}}"))

	t.Run("PID 1 is tinit, run as docker-init -- CMD", func(t *testing.T) {
		code, out := d.run(t, append([]string{"--init"}, append(bb,
			`/bin/busybox tr '\0' ' ' </proc/1/cmdline; echo; /sbin/docker-init --version`)...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 2 {
			t.Fatalf("exit %d: %s", code, out)
		}
		if want := "/sbin/docker-init -- /bin/busybox sh -c "; !strings.HasPrefix(lines[0], want) {
			t.Errorf("PID 1's command line %q, want it to start %q", lines[0], want)
		}
		want, err := exec.Command(tinitBin, "--version").Output()
		if err != nil {
			t.Fatal(err)
		}
		if lines[1] != strings.TrimSpace(string(want)) {
			t.Errorf("/sbin/docker-init --version: %q, want tinit's %q", lines[1], want)
		}
	})

	t.Run("exit codes", func(t *testing.T) {
		for _, tt := range []struct {
			script string
			want   int
		}{{"exit 0", 0}, {"exit 3", 3}, {"kill -TERM $$; sleep 5", 143}} {
			if code, out := d.run(t, append([]string{"--init"}, append(bb, tt.script)...)...); code != tt.want {
				t.Errorf("%q: exit %d, want %d: %s", tt.script, code, tt.want, out)
			}
		}
		if code, out := d.run(t, "--init", img, "/no/such/program"); code != 127 {
			t.Errorf("a missing program: exit %d, want 127: %s", code, out)
		}
		if code, out := d.run(t, append([]string{"--init", "--user", "65532"}, append(bb, "exit 3")...)...); code != 3 {
			t.Errorf("as user 65532: exit %d, want 3: %s", code, out)
		}
	})

	t.Run("orphans are reaped", func(t *testing.T) {
		id := d.out(t, "run", "-d", "--init", "--network", "none", img, "/bin/busybox", "sh", "-c",
			`i=0; while [ $i -lt 200 ]; do (/bin/busybox true &); i=$((i+1)); done; echo spawned; exec /bin/busybox sleep 1000`)
		defer d.cmd("rm", "-f", id).Run()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(d.out(t, "logs", id), "spawned"); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the child never finished spawning")
			}
		}
		time.Sleep(500 * time.Millisecond)
		top := d.out(t, "top", id, "-eo", "pid,stat,comm")
		if zombies := topZombies(top); zombies != 0 {
			t.Fatalf("%d zombies half a second after 200 orphans:\n%s", zombies, top)
		}
	})

	t.Run("docker stop gives 143 at once", func(t *testing.T) {
		// busybox sleep as PID 1 would ignore SIGTERM: 10 s, then 137.
		id := d.out(t, "run", "-d", "--init", "--network", "none", img, "/bin/busybox", "sleep", "1000")
		defer d.cmd("rm", "-f", id).Run()
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		d.out(t, "stop", "-t", "10", id)
		took := time.Since(start)
		if code := d.out(t, "inspect", "-f", "{{.State.ExitCode}}", id); code != "143" || took > 2*time.Second {
			t.Fatalf("docker stop -t 10 took %v, exit %s; want 143 within 2s", took.Round(time.Millisecond), code)
		}
		t.Logf("docker stop: %v", took.Round(time.Millisecond))
	})
}

// make images' layout in a real engine: skopeo (an OCI implementation
// that is not ours) copies this machine's image out of the index into the
// test's own dockerd, where it runs; and the Dockerfile that .ci/ociimage
// packs also builds with docker build, to the same image for a foreign
// architecture: same labels, same entrypoint, same /tinit.
func TestImageLayoutInDocker(t *testing.T) {
	dist := releaseDist(t)
	needTools(t, "skopeo")
	d := startOwnDockerd(t)
	layout := filepath.Join(t.TempDir(), "oci")
	makeImageLayout(t, dist, layout)
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top, index ociIndex
	decodeJSON(t, b, &top)
	decodeJSON(t, readBlob(t, layout, top.Manifests[0], "application/vnd.oci.image.index.v1+json"), &index)
	want := imageLabels(t)

	t.Run("skopeo loads this machine's image and it runs", func(t *testing.T) {
		ref := "oci:" + layout + ":" + top.Manifests[0].Annotations["org.opencontainers.image.ref.name"]
		const tag = "tinit-layout:e2e"
		cmd := exec.Command("skopeo", "copy", "--dest-daemon-host", d.host, ref, "docker-daemon:"+tag)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy %s: %v\n%s", ref, err, b)
		}
		if got := d.out(t, "inspect", "-f", "{{.Architecture}} {{index .Config.Labels \"org.opencontainers.image.licenses\"}}", tag); got != runtime.GOARCH+" Apache-2.0" {
			t.Errorf("docker inspect: %q, want %s Apache-2.0", got, runtime.GOARCH)
		}
		// The entrypoint is /tinit --: a missing program is 127.
		if code, out := d.run(t, tag, "/no/such/program"); code != 127 {
			t.Errorf("docker run %s /no/such/program: exit %d, want 127: %s", tag, code, out)
		}
		code, out := d.run(t, "--entrypoint", "/tinit", tag, "--version")
		wantVersion := output(t, "", filepath.Join(dist, "tinit-linux-"+runtime.GOARCH), "--version")
		if code != 0 || strings.TrimSpace(out) != strings.TrimSpace(wantVersion) {
			t.Errorf("/tinit --version in the image: exit %d, %q; want the release's %q", code, out, wantVersion)
		}
	})

	t.Run("docker build of the Dockerfile gives the same image", func(t *testing.T) {
		var a releaseArch
		for _, a = range archesUnderTest(t) {
			if a.goarch != runtime.GOARCH {
				break
			}
		}
		dockerfile, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		bin, err := os.ReadFile(filepath.Join(dist, "tinit-linux-"+a.goarch))
		if err != nil {
			t.Fatal(err)
		}
		tag := "tinit-dockerfile:e2e"
		d.build(t, tag, map[string][]byte{"Dockerfile": dockerfile, "dist/tinit-linux-" + a.goarch: bin},
			"--build-arg", "DIST=dist", "--build-arg", "TARGETARCH="+a.goarch,
			"--build-arg", "VERSION="+want["org.opencontainers.image.version"],
			"--build-arg", "REVISION="+want["org.opencontainers.image.revision"],
			"--build-arg", "CREATED="+want["org.opencontainers.image.created"])
		var c ociConfig
		decodeJSON(t, []byte(d.out(t, "inspect", "-f", "{{json .Config}}", tag)), &c.Config)
		for k, v := range want {
			if c.Config.Labels[k] != v {
				t.Errorf("docker build: label %s=%q, want %q", k, c.Config.Labels[k], v)
			}
		}
		if got := fmt.Sprint(c.Config.Entrypoint); got != "[/tinit --]" {
			t.Errorf("docker build: entrypoint %s", got)
		}
		// The classic builder records the engine's architecture, not
		// TARGETARCH's: why make images does not build this way.
		t.Logf("docker build for %s: image architecture %s", a.goarch, d.out(t, "inspect", "-f", "{{.Architecture}}", tag))
		id := d.out(t, "create", tag)
		out := filepath.Join(t.TempDir(), "tinit")
		d.out(t, "cp", id+":/tinit", out)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bin) {
			t.Errorf("docker build's /tinit is not tinit-linux-%s", a.goarch)
		}
		// .ci/ociimage's config for that architecture says the same.
		for _, md := range index.Manifests {
			if md.Platform.Architecture != a.goarch {
				continue
			}
			var m ociManifest
			var lc ociConfig
			decodeJSON(t, readBlob(t, layout, md, "application/vnd.oci.image.manifest.v1+json"), &m)
			decodeJSON(t, readBlob(t, layout, m.Config, "application/vnd.oci.image.config.v1+json"), &lc)
			if !maps.Equal(lc.Config.Labels, c.Config.Labels) || !slices.Equal(lc.Config.Entrypoint, c.Config.Entrypoint) {
				t.Errorf("docker build's labels and entrypoint\n%v %v\ndiffer from the layout's\n%v %v", c.Config.Labels, c.Config.Entrypoint, lc.Config.Labels, lc.Config.Entrypoint)
			}
			return
		}
		t.Fatalf("the layout has no %s image", a.goarch)
	})
}
