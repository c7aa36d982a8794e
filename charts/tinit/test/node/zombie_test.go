package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// orphanProbe is the exec probe of kubernetes#81042: its command
// backgrounds a child that outlives the probe's 1 s timeout and exits.
// The child's output goes to /dev/null, so the runtime does not wait for
// it to close the exec's pipes (the probe itself succeeds at once). The
// orphan is reparented to the container's PID 1 and becomes a zombie
// when it exits, unless PID 1 reaps it.
const orphanProbe = `{"exec": {"command": ["sh", "-c", "sleep 3 </dev/null >/dev/null 2>&1 & exit 0"]},
	"httpGet": null, "initialDelaySeconds": 0, "periodSeconds": 1, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}`

// TestExecProbeOrphans is issue 20's test 2, the kubernetes#81042 case in
// inject mode: an app that does not reap (sleep) as the container's
// command, and an exec probe leaving an orphan every second. Without
// tinit the sleep is PID 1 and the zombies pile up; with tinit as PID 1
// none is left.
//
// charts/tinit cannot add a probe of one's own (its probes are tinit's),
// so the test patches the Deployment after helm install: the app
// container's livenessProbe becomes the exec probe (with tinit, the
// startup and readiness probes stay tinit's). The patch rolls out a new
// pod, which is the one looked at.
func TestExecProbeOrphans(t *testing.T) {
	t.Run("without tinit, the probe's orphans stay zombies of the app", func(t *testing.T) { orphans(t, false) })
	t.Run("with tinit as PID 1, no zombie is left", func(t *testing.T) { orphans(t, true) })
}

func orphans(t *testing.T, tinit bool) {
	name := map[bool]string{false: "zombies-off", true: "zombies-on"}[tinit]
	ns := env.Namespace(t, name)
	const release = "z"
	ns.Install(release, env.ChartDir, map[string]any{
		"mode": "inject",
		"tinit": map[string]any{
			"enabled": tinit,
			"image":   map[string]any{"pullPolicy": "Never"},
			"restart": "on-failure",
		},
		"app": map[string]any{
			"image":           nodetest.ImageValues(nodetest.HTTPDImage),
			"command":         []string{"sleep", "1000000"},
			"port":            nil,
			"securityContext": map[string]any{"runAsUser": nodetest.NonRoot, "runAsGroup": nodetest.NonRoot},
		},
	})
	deploy := release + "-tinit"
	ns.PatchDeployment(deploy, `{"spec": {"template": {"spec": {"containers": [{"name": "app", "livenessProbe": `+orphanProbe+`}]}}}}`)
	ns.WaitRollout(deploy)
	pod := ns.WaitPod(nodetest.Selector(release), "the patched pod Ready", func(p *corev1.Pod) bool {
		lp := p.Spec.Containers[0].LivenessProbe
		return nodetest.PodReady(p) && lp != nil && lp.Exec != nil
	})

	procs, err := ns.Processes(pod.Name, "app")
	if err != nil {
		t.Fatal(err)
	}
	pid1 := find(procs, 1)
	wantPID1 := map[bool]string{false: "sleep 1000000", true: "/tinit-bin/tinit -- sleep 1000000"}[tinit]
	if pid1 == nil || pid1.Cmdline != wantPID1 {
		t.Fatalf("PID 1 of the app container is %+v, want %q", pid1, wantPID1)
	}

	if !tinit {
		var zombies []nodetest.Proc
		nodetest.WaitFor(t, "zombies to pile up under the sleep", 2*time.Minute, func() (bool, error) {
			procs, err := ns.Processes(pod.Name, "app")
			if err != nil {
				return false, err
			}
			zombies = zombies[:0]
			for _, z := range nodetest.Zombies(procs) {
				if z.PPid == 1 {
					zombies = append(zombies, z)
				}
			}
			return len(zombies) >= 5, nil
		})
		counts, _ := ns.ProbeCounts(pod, "app")
		t.Logf("%d zombies, children of PID 1 (sleep), e.g. %+v; liveness probes: %v", len(zombies), zombies[0], counts[nodetest.Liveness])
		return
	}

	// With tinit: the probe ran and its orphans were reaped (tinit counts
	// them), and no zombie stays.
	var reaped float64
	var counts map[string]map[string]float64
	nodetest.WaitFor(t, "ten probes run and five orphans reaped by tinit", 2*time.Minute, func() (bool, error) {
		var err error
		if counts, err = ns.ProbeCounts(pod, "app"); err != nil {
			return false, err
		}
		if reaped, err = nodetest.TinitMetric(pod, healthPort, "tinit_zombies_reaped_total"); err != nil {
			return false, err
		}
		return counts[nodetest.Liveness]["successful"] >= 10 && reaped >= 5, nil
	})
	// A zombie may be seen for the instant between its exit and tinit's
	// reap: one still there a second later is left.
	var seen int
	for i := 0; i < 5; i++ {
		before, err := ns.Processes(pod.Name, "app")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		after, err := ns.Processes(pod.Name, "app")
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range nodetest.Zombies(before) {
			seen++
			if a := find(after, z.Pid); a != nil && a.State == "Z" {
				t.Errorf("zombie left: %+v (still a zombie a second later)", z)
			}
		}
	}
	t.Logf("tinit reaped %v orphans; liveness probes %v; zombies seen in 5 looks: %d, none left", reaped, counts[nodetest.Liveness], seen)
}

func find(procs []nodetest.Proc, pid int) *nodetest.Proc {
	for i := range procs {
		if procs[i].Pid == pid {
			return &procs[i]
		}
	}
	return nil
}

// procList formats processes for a message.
func procList(procs []nodetest.Proc) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "  %d ppid=%d %s %s\n", p.Pid, p.PPid, p.State, p.Cmdline)
	}
	return b.String()
}
