package nodetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
)

// Shell is a container command that runs script with sh -c. Kubernetes
// expands $(NAME) in a container's command and args and turns $$ into $,
// so every $ is doubled: the shell gets the script as written ($$, $!,
// $(cmd) and all). Exec commands (NS.Exec, exec probes) are not expanded.
// Note that Debian 12's busybox-static wget segfaults with -T.
func Shell(script string) []string {
	return []string{"sh", "-c", strings.ReplaceAll(script, "$", "$$")}
}

// PollInterval is how often WaitFor asks again.
const PollInterval = 250 * time.Millisecond

// WaitFor polls cond until it returns true, and fails the test when
// timeout passes first, naming what it waited for and cond's last error.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	if err := Poll(context.Background(), timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// Poll is WaitFor that returns an error instead (from any goroutine).
func Poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond()
		if ok && err == nil {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("timed out after %s; last error: %w", timeout, last)
			}
			return fmt.Errorf("timed out after %s", timeout)
		case <-time.After(PollInterval):
		}
	}
}

// PodReady says whether the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	return PodCondition(p, corev1.PodReady) == corev1.ConditionTrue
}

// PodCondition is the status of one of the pod's conditions, "" if it has
// none.
func PodCondition(p *corev1.Pod, c corev1.PodConditionType) corev1.ConditionStatus {
	for _, cond := range p.Status.Conditions {
		if cond.Type == c {
			return cond.Status
		}
	}
	return ""
}

// ContainerStatus is the status of the named container, an init
// container (a native sidecar) or a regular one; nil if it has none yet.
func ContainerStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// Pods lists the pods matching a label selector that are not being
// deleted.
func (ns *NS) Pods(selector string) ([]corev1.Pod, error) {
	return LivePods(ns.Ctx, ns.Env.Client, ns.Name, selector)
}

// LivePods lists the pods of namespace matching a label selector that are
// not being deleted, for a namespace that is not a test's own NS.
func LivePods(ctx context.Context, c kubernetes.Interface, namespace, selector string) ([]corev1.Pod, error) {
	list, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// Pod gets a pod by name.
func (ns *NS) Pod(name string) (*corev1.Pod, error) {
	return ns.Env.Client.CoreV1().Pods(ns.Name).Get(ns.Ctx, name, metav1.GetOptions{})
}

// WaitPod waits until exactly one pod matches the selector (besides pods
// being deleted) and cond holds for it, and returns it.
func (ns *NS) WaitPod(selector, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	ns.T.Helper()
	var pod *corev1.Pod
	WaitFor(ns.T, what+" ("+selector+")", PodTimeout, func() (bool, error) {
		pods, err := ns.Pods(selector)
		if err != nil {
			return false, err
		}
		if len(pods) != 1 {
			return false, fmt.Errorf("%d pods match", len(pods))
		}
		pod = &pods[0]
		return cond(pod), nil
	})
	return pod
}

// WaitReadyPod waits for the one pod of the selector to be Ready.
func (ns *NS) WaitReadyPod(selector string) *corev1.Pod {
	ns.T.Helper()
	return ns.WaitPod(selector, "a Ready pod", PodReady)
}

// WaitRollout waits until the Deployment's latest generation has all its
// replicas updated and available and no old replica is left.
func (ns *NS) WaitRollout(name string) {
	ns.T.Helper()
	WaitFor(ns.T, "deployment "+name+" rolled out", PodTimeout, func() (bool, error) {
		d, err := ns.Env.Client.AppsV1().Deployments(ns.Name).Get(ns.Ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want &&
			s.Replicas == want && s.AvailableReplicas == want, nil
	})
}

// PatchDeployment applies a strategic merge patch to a Deployment (JSON).
func (ns *NS) PatchDeployment(name, patch string) *appsv1.Deployment {
	ns.T.Helper()
	d, err := ns.Env.Client.AppsV1().Deployments(ns.Name).Patch(ns.Ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		ns.T.Fatalf("patching deployment %s: %v\n%s", name, err, patch)
	}
	return d
}

// ExecErr runs cmd in a container of a pod, as `kubectl exec` does, and
// returns its stdout and stderr; a non-zero exit is an error naming the
// code. Safe from any goroutine.
func (ns *NS) ExecErr(pod, container string, cmd ...string) (string, string, error) {
	req := ns.Env.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns.Name).Name(pod).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: container,
		Command:   cmd,
		Stdout:    true,
		Stderr:    true,
	}, scheme.ParameterCodec)
	spdy, err := remotecommand.NewSPDYExecutor(ns.Env.Config, "POST", req.URL())
	if err != nil {
		return "", "", err
	}
	ws, err := remotecommand.NewWebSocketExecutor(ns.Env.Config, "GET", req.URL().String())
	if err != nil {
		return "", "", err
	}
	// WebSockets first, as kubectl does; SPDY only when the upgrade
	// itself fails (never after the command ran: it would run twice).
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(ns.Ctx, time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		err = fmt.Errorf("exec %q in %s/%s: %w", cmd, pod, container, err)
	}
	return stdout.String(), stderr.String(), err
}

// Exec is ExecErr that fails the test on an error, and returns stdout.
func (ns *NS) Exec(pod, container string, cmd ...string) string {
	ns.T.Helper()
	out, errOut, err := ns.ExecErr(pod, container, cmd...)
	if err != nil {
		ns.T.Fatalf("%v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	return out
}

// Logs returns a container's log (the previous instance's with previous).
func (ns *NS) Logs(pod, container string, previous bool) (string, error) {
	ctx, cancel := context.WithTimeout(ns.Ctx, 30*time.Second)
	defer cancel()
	b, err := ns.Env.Client.CoreV1().Pods(ns.Name).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: previous}).DoRaw(ctx)
	return string(b), err
}

// LogLine is one line of a followed log, with the time the runtime took
// it (the node's clock, nanoseconds).
type LogLine struct {
	At   time.Time
	Text string
}

// LogFollower reads one container's log as it is written, from its
// start, until the container ends (or Stop).
type LogFollower struct {
	mu     sync.Mutex
	lines  []LogLine
	err    error
	done   chan struct{}
	cancel context.CancelFunc
}

// FollowLogs starts following a container's log, with timestamps. A pod's
// logs live only as long as the pod: follow them before deleting it.
func (ns *NS) FollowLogs(pod, container string) *LogFollower {
	ctx, cancel := context.WithCancel(ns.Ctx)
	f := &LogFollower{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(f.done)
		rc, err := ns.Env.Client.CoreV1().Pods(ns.Name).GetLogs(pod, &corev1.PodLogOptions{
			Container: container, Follow: true, Timestamps: true,
		}).Stream(ctx)
		if err != nil {
			f.setErr(err)
			return
		}
		defer rc.Close()
		sc := bufio.NewScanner(rc)
		for sc.Scan() {
			ts, text, _ := strings.Cut(sc.Text(), " ")
			at, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				text = sc.Text()
			}
			f.mu.Lock()
			f.lines = append(f.lines, LogLine{At: at, Text: text})
			f.mu.Unlock()
		}
		if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
			f.setErr(err)
		}
	}()
	return f
}

func (f *LogFollower) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// Lines returns the lines read so far and the stream's error, if any.
func (f *LogFollower) Lines() ([]LogLine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]LogLine(nil), f.lines...), f.err
}

// Wait waits (at most timeout) for the stream to end, as it does when
// the container exits, then stops it and returns the lines.
func (f *LogFollower) Wait(timeout time.Duration) ([]LogLine, error) {
	select {
	case <-f.done:
	case <-time.After(timeout):
	}
	f.cancel()
	<-f.done
	return f.Lines()
}

// Stop ends the stream and returns the lines.
func (f *LogFollower) Stop() ([]LogLine, error) { return f.Wait(0) }

// Matching returns the lines that contain s.
func Matching(lines []LogLine, s string) []LogLine {
	var out []LogLine
	for _, l := range lines {
		if strings.Contains(l.Text, s) {
			out = append(out, l)
		}
	}
	return out
}

// httpClient is for the pods' own addresses: the tests run in the node's
// network namespace, where the pod bridge routes (ClusterIPs do not: no
// kube-proxy). No keep-alive, so every request is a new connection, as a
// probe's is.
var httpClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// HTTPGet gets a URL with a 2 s timeout and returns the status code and
// body.
func HTTPGet(url string) (int, string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// PodURL is http://POD-IP:PORT/PATH.
func PodURL(p *corev1.Pod, port int, path string) string {
	return fmt.Sprintf("http://%s/%s", net.JoinHostPort(p.Status.PodIP, fmt.Sprint(port)), strings.TrimPrefix(path, "/"))
}

// PortOpen says whether a TCP connection to the pod's port succeeds
// within a second.
func PortOpen(p *corev1.Pod, port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(p.Status.PodIP, fmt.Sprint(port)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Processes reads /proc in a container (by exec, with busybox's sh and
// cat): every process's pid, parent, state and command.
func (ns *NS) Processes(pod, container string) ([]Proc, error) {
	out, _, err := ns.ExecErr(pod, container, "sh", "-c", `for d in /proc/[0-9]*; do s=$(cat $d/stat 2>/dev/null) || continue; c=$(tr '\0\n' '  ' < $d/cmdline 2>/dev/null); echo "$s|$c"; done`)
	if err != nil {
		return nil, err
	}
	return ParseProcs(out)
}

// Proc is one process of a container.
type Proc struct {
	Pid, PPid int
	State     string // R, S, Z...
	Comm      string
	Cmdline   string
}

// ParseProcs parses lines of "/proc/PID/stat|cmdline".
func ParseProcs(out string) ([]Proc, error) {
	var procs []Proc
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		stat, cmdline, _ := strings.Cut(line, "|")
		open, close := strings.Index(stat, "("), strings.LastIndex(stat, ")")
		if open < 0 || close < open {
			return nil, fmt.Errorf("bad stat line %q", line)
		}
		var p Proc
		if _, err := fmt.Sscan(stat[:open], &p.Pid); err != nil {
			return nil, fmt.Errorf("bad stat line %q: %v", line, err)
		}
		p.Comm = stat[open+1 : close]
		if _, err := fmt.Sscan(stat[close+1:], &p.State, &p.PPid); err != nil {
			return nil, fmt.Errorf("bad stat line %q: %v", line, err)
		}
		p.Cmdline = strings.TrimSpace(cmdline)
		procs = append(procs, p)
	}
	return procs, nil
}

// Zombies are the processes in state Z.
func Zombies(procs []Proc) []Proc {
	var z []Proc
	for _, p := range procs {
		if p.State == "Z" {
			z = append(z, p)
		}
	}
	return z
}
