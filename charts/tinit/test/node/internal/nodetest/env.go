package nodetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// HelmModule is the pinned helm, built from the Go module proxy as the
// chart tests build it (charts/tinit/test/chart_test.go).
const HelmModule = "helm.sh/helm/v3/cmd/helm@v3.22.0"

// Env is what Main sets up once for all the tests of a package: a client
// of the node's apiserver, the pinned helm, and the images imported into
// the node's containerd.
type Env struct {
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	// Node is the name of the cluster's single node.
	Node string
	// Helm is the pinned helm binary; Helm* methods of NS run it.
	Helm    string
	helmEnv []string
	// Root is the repository's root, ChartDir charts/tinit, LibDir
	// charts/tinit-lib.
	Root     string
	ChartDir string
	LibDir   string
	// Dir is a temporary directory, removed when Main returns.
	Dir string
	// Kubectl is kubectl's path, "" when there is none (Dump then shows
	// the pods without `kubectl describe`).
	Kubectl string
	// tars are the image tars Main built, by the image's RepoTag (for
	// Registry to push).
	tars map[string]string
	// atExit are run by Main after the tests, last first.
	atExit []func()
}

// AtExit has Main run f after all the tests of the package, while the
// Env (helm, its directory) still works: for what a package sets up once
// for all its tests. The last registered runs first.
func (e *Env) AtExit(f func()) { e.atExit = append(e.atExit, f) }

// NoNodeMessage is the one line a test run without a node says.
const NoNodeMessage = "node tests: KUBECONFIG is not set: run them on the test node (make node-test, or .ci/kube/node exec go test ./... in charts/tinit/test/node)"

// Main is a node test package's TestMain:
//
//	var env *nodetest.Env
//	func TestMain(m *testing.M) { os.Exit(nodetest.Main(m, &env)) }
//
// Without KUBECONFIG (the harness's exec sets it) it fails with one line
// when CI is set and skips every test with that line otherwise. Then it
// builds helm, the tinit image from this checkout and the app images,
// imports them with `ctr images import` (CONTAINERD_ADDRESS and
// CONTAINERD_NAMESPACE name the node's containerd), sets *env and runs
// the tests.
func Main(m *testing.M, env **Env) int {
	if os.Getenv("KUBECONFIG") == "" {
		fmt.Println(NoNodeMessage)
		if os.Getenv("CI") != "" {
			return 1
		}
		return 0
	}
	e, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "node tests:", err)
		if e != nil {
			os.RemoveAll(e.Dir)
		}
		return 1
	}
	*env = e
	code := m.Run()
	for i := len(e.atExit) - 1; i >= 0; i-- {
		e.atExit[i]()
	}
	os.RemoveAll(e.Dir)
	return code
}

// logf reports a setup phase and its time on stderr, as kind does.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "node tests: "+format+"\n", args...)
}

func setup() (*Env, error) {
	start := time.Now()
	e := &Env{Kubeconfig: os.Getenv("KUBECONFIG")}
	dir, err := os.MkdirTemp("", "tinit-node-test-")
	if err != nil {
		return nil, err
	}
	e.Dir = dir
	if e.Root, err = repoRoot(); err != nil {
		return e, err
	}
	e.ChartDir = filepath.Join(e.Root, "charts", "tinit")
	e.LibDir = filepath.Join(e.Root, "charts", "tinit-lib")
	e.Kubectl, _ = exec.LookPath("kubectl")

	e.Config, err = clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		return e, fmt.Errorf("KUBECONFIG %s: %w", e.Kubeconfig, err)
	}
	// The tests list and watch often: client-go's default of 5 requests
	// a second would pace them, not the node.
	e.Config.QPS, e.Config.Burst = 100, 200
	if e.Client, err = kubernetes.NewForConfig(e.Config); err != nil {
		return e, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes, err := e.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return e, fmt.Errorf("listing the nodes: %w", err)
	}
	if len(nodes.Items) != 1 {
		return e, fmt.Errorf("want one node, the apiserver lists %d", len(nodes.Items))
	}
	e.Node = nodes.Items[0].Name
	logf("node %s (%s) at %s", e.Node, nodes.Items[0].Status.NodeInfo.KubeletVersion, e.Config.Host)

	home := filepath.Join(dir, "helm-home")
	e.helmEnv = []string{
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"KUBECONFIG=" + e.Kubeconfig,
	}
	t0 := time.Now()
	if e.Helm, err = buildHelm(filepath.Join(dir, "bin", "helm")); err != nil {
		return e, fmt.Errorf("building %s: %w", HelmModule, err)
	}
	logf("helm ready in %s", time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	tars, err := e.buildImages()
	if err != nil {
		return e, fmt.Errorf("building the images: %w", err)
	}
	logf("images built in %s", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if err := ImportImages(tars...); err != nil {
		return e, err
	}
	logf("images imported in %s; set up in %s", time.Since(t0).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return e, nil
}

// repoRoot walks up from the working directory to tinit's own go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/tinit/tinit\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no tinit checkout above %s", dir)
		}
	}
}

// goCmd is the go command: on PATH, else the toolchain that built the
// test.
func goCmd() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/usr/local/go/bin/go"
}

// buildHelm builds the pinned helm with `go run -exec "cp -t DIR"`: go
// run hands cp the linked executable, cached by go run, which cp copies
// to dst's directory (go install would link it again every run). dst
// must end in "helm".
func buildHelm(dst string) (string, error) {
	if filepath.Base(dst) != "helm" {
		return "", fmt.Errorf("buildHelm: %q must be named helm", dst)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	// Inside the node's network namespace the module proxy cannot be
	// reached, and go run PKG@VERSION asks it which module holds PKG even
	// when everything is in the module cache: first ask the cache itself
	// (a file:// proxy), then the environment's GOPROXY (outside the
	// node, or a cold cache). make node-test fills the cache before up.
	var errs []string
	for _, proxy := range []string{"file://" + filepath.Join(goEnv("GOMODCACHE"), "cache", "download"), ""} {
		cmd := exec.Command(goCmd(), "run", "-exec", "cp -t "+filepath.Dir(dst), HelmModule)
		cmd.Dir = filepath.Dir(dst)
		if proxy != "" {
			cmd.Env = append(os.Environ(), "GOPROXY="+proxy)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			if _, err := os.Stat(dst); err != nil {
				return "", fmt.Errorf("go run -exec cp: %w", err)
			}
			return dst, nil
		}
		errs = append(errs, fmt.Sprintf("GOPROXY=%s: %v\n%s%s", proxy, err, out, stderr.String()))
	}
	return "", errors.New(strings.Join(errs, "\n"))
}

// goEnv is one setting of `go env`, "" if go cannot say.
func goEnv(name string) string {
	out, err := exec.Command(goCmd(), "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// CacheDir is where the image tars are kept between runs, by content.
func CacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "tinit-node-test")
	}
	return filepath.Join(os.TempDir(), "tinit-node-test-cache")
}

// buildImages builds tinit from the checkout and writes every image's
// tar into the cache.
func (e *Env) buildImages() ([]string, error) {
	bin := filepath.Join(e.Dir, "tinit")
	cmd := exec.Command(goCmd(), "build", "-trimpath", "-o", bin, "./cmd/tinit")
	cmd.Dir = e.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/tinit: %v\n%s", err, out)
	}
	ti, err := TinitImageFrom(bin)
	if err != nil {
		return nil, err
	}
	apps, err := AppImages()
	if err != nil {
		return nil, err
	}
	var tars []string
	e.tars = map[string]string{}
	for _, img := range append([]*Image{ti}, apps...) {
		p, err := img.WriteCached(filepath.Join(CacheDir(), "images"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.Ref, err)
		}
		tars = append(tars, p)
		e.tars[img.Ref] = p
	}
	return tars, nil
}

// ImportImages imports docker-archive tars into the node's containerd
// with `ctr images import` (CONTAINERD_ADDRESS and CONTAINERD_NAMESPACE
// say where) and checks that each RepoTag is there afterwards, under its
// normalized name (tinit:dev is docker.io/library/tinit:dev).
func ImportImages(tars ...string) error {
	for _, v := range []string{"CONTAINERD_ADDRESS", "CONTAINERD_NAMESPACE"} {
		if os.Getenv(v) == "" {
			return fmt.Errorf("%s is not set: the node's exec sets it, so that ctr reaches the node's containerd", v)
		}
	}
	for _, tar := range tars {
		out, err := exec.Command("ctr", "images", "import", tar).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ctr images import %s: %v\n%s", tar, err, out)
		}
	}
	out, err := exec.Command("ctr", "images", "ls", "-q").CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images ls: %v\n%s", err, out)
	}
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		have[strings.TrimSpace(sc.Text())] = true
	}
	var missing []string
	for _, ref := range []string{TinitImage, HTTPDImage, NginxImage, RedisImage} {
		if !have[NormalizedRef(ref)] {
			missing = append(missing, NormalizedRef(ref))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("after ctr images import, containerd lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// NormalizedRef is containerd's name for a short reference:
// docker.io/library/NAME:TAG for one path component, docker.io/PATH:TAG
// for more, unchanged when the first component is a registry.
func NormalizedRef(ref string) string {
	first, _, more := strings.Cut(ref, "/")
	switch {
	case !more:
		return "docker.io/library/" + ref
	case strings.ContainsAny(first, ".:") || first == "localhost":
		return ref
	default:
		return "docker.io/" + ref
	}
}

// HelmCmd is an exec.Cmd of the pinned helm with its own cache, config
// and data directories and KUBECONFIG, run in dir.
func (e *Env) HelmCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(e.Helm, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), e.helmEnv...)
	return cmd
}

// RunHelm runs the pinned helm in dir and returns stdout and stderr
// together; safe from any goroutine.
func (e *Env) RunHelm(dir string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := e.HelmCmd(dir, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// NeedEnv fails (or, outside CI, skips) a test whose package's TestMain
// did not set env up: it was run outside Main.
func NeedEnv(t testing.TB, env *Env) {
	t.Helper()
	if env == nil {
		if os.Getenv("CI") != "" {
			t.Fatal(NoNodeMessage)
		}
		t.Skip(NoNodeMessage)
	}
}

// BootTime is the wall-clock time at which /proc/uptime was 0: inside a
// container /proc/uptime is the node's (no time namespace), so an uptime
// read there with a shell builtin, at the moment something happened,
// gives that moment on the test's clock (10 ms resolution). Busybox's
// date has no %N.
func BootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/uptime")
	now := time.Now()
	if err != nil {
		return time.Time{}, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return time.Time{}, errors.New("/proc/uptime is empty")
	}
	up, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("/proc/uptime: %w", err)
	}
	return now.Add(-time.Duration(up * float64(time.Second))), nil
}

// UptimeAt converts an uptime in seconds, as /proc/uptime's first field,
// to the test's clock.
func UptimeAt(up string) (time.Time, error) {
	boot, err := BootTime()
	if err != nil {
		return time.Time{}, err
	}
	s, err := strconv.ParseFloat(up, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("uptime %q: %w", up, err)
	}
	return boot.Add(time.Duration(s * float64(time.Second))), nil
}
