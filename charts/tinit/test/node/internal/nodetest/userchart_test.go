package nodetest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestUserChartRenders makes the user chart (helm create plus the
// tinit-lib includes) without a node: it lints with tinit on and off and
// renders the pod the node test runs, tinit's probes replacing helm
// create's with tinit on, helm create's own without.
func TestUserChartRenders(t *testing.T) {
	if testing.Short() {
		t.Skip("builds helm")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := &Env{Root: root, LibDir: filepath.Join(root, "charts", "tinit-lib"), Dir: dir}
	if e.Helm, err = buildHelm(filepath.Join(dir, "bin", "helm")); err != nil {
		t.Fatal(err)
	}
	chart, err := e.UserChart(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tinit := range []bool{true, false} {
		name := map[bool]string{true: "on", false: "off"}[tinit]
		t.Run(name, func(t *testing.T) {
			// helm lint reports a failed render only as "[INFO] Fail:" and
			// counts the chart as passed: look for it.
			values, err := e.ValuesFile(UserChartValues(tinit))
			if err != nil {
				t.Fatal(err)
			}
			if out, err := e.RunHelm(chart, "lint", "--strict", ".", "-f", values); err != nil || strings.Contains(out, "Fail") {
				t.Fatalf("helm lint --strict: %v\n%s", err, out)
			}
			objs, err := e.Template("r", chart, "ns", UserChartValues(tinit), "--skip-tests")
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetKind())
			}
			slices.Sort(kinds)
			if strings.Join(kinds, " ") != "Deployment Service ServiceAccount" {
				t.Fatalf("rendered %v, want a Deployment, a Service and a ServiceAccount", kinds)
			}
			var pods []string
			for _, o := range objs {
				ps, err := PodsOf(o)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ps {
					pods = append(pods, p.Name)
					c := p.Spec.Containers[0]
					cmd := strings.Join(c.Command, " ")
					if tinit {
						if len(p.Spec.InitContainers) != 1 || p.Spec.InitContainers[0].Name != "tinit-install" {
							t.Errorf("init containers %v, want tinit-install", p.Spec.InitContainers)
						}
						if cmd != "/tinit-bin/tinit -- "+strings.Join(NginxCommand, " ") {
							t.Errorf("command %q, want nginx under tinit", cmd)
						}
						if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
							c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.StartupProbe == nil {
							t.Errorf("probes %+v %+v %+v, want tinit's", c.StartupProbe, c.LivenessProbe, c.ReadinessProbe)
						}
					} else {
						if len(p.Spec.InitContainers) != 0 || len(c.Env) != 0 || len(c.VolumeMounts) != 0 || len(p.Spec.Volumes) != 0 {
							t.Errorf("tinit off: init containers %v, env %v, mounts %v, volumes %v", p.Spec.InitContainers, c.Env, c.VolumeMounts, p.Spec.Volumes)
						}
						if cmd != strings.Join(NginxCommand, " ") {
							t.Errorf("command %q, want nginx's own", cmd)
						}
						if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Port.String() != "http" || c.StartupProbe != nil {
							t.Errorf("probes %+v %+v, want helm create's on port http", c.StartupProbe, c.ReadinessProbe)
						}
					}
					if len(c.Ports) == 0 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
						t.Errorf("ports %v, want http 8080 first", c.Ports)
					}
				}
			}
			if len(pods) != 1 {
				t.Errorf("pods %v, want the Deployment's", pods)
			}
		})
	}
}
