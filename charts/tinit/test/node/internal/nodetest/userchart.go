package nodetest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// UserChartName is the name `helm create` gives the user chart.
const UserChartName = "shop"

// userChartEdits add the tinit-lib includes to the Deployment `helm
// create` writes (the pinned helm's), each as a replacement of a piece of
// its text, as a user following README.md's "Add tinit to your own
// chart" would: the install container, the emptyDir and its mount, the
// command wrapped in tinit (a `command` value, which helm create's chart
// lacks: it runs the image's ENTRYPOINT), the TINIT_* environment, the
// tinit-health port and the probes. Nothing else of helm create's chart
// changes: its own probes (on port http at /) stay, and the values drop
// them when tinit's take over (UserChartValues).
var userChartEdits = []struct{ old, new string }{
	{
		"      containers:\n",
		"      initContainers:\n" +
			"        {{- include \"tinit-lib.initContainer\" . | nindent 8 }}\n" +
			"      containers:\n",
	},
	{
		"          imagePullPolicy: {{ .Values.image.pullPolicy }}\n",
		"          imagePullPolicy: {{ .Values.image.pullPolicy }}\n" +
			"          command:\n" +
			"            {{- include \"tinit-lib.command\" (dict \"root\" $ \"command\" .Values.command) | nindent 12 }}\n" +
			"          env:\n" +
			"            {{- include \"tinit-lib.env\" . | nindent 12 }}\n",
	},
	{
		"              protocol: TCP\n",
		"              protocol: TCP\n" +
			"            {{- include \"tinit-lib.ports\" . | nindent 12 }}\n",
	},
	{
		"          {{- with .Values.readinessProbe }}\n" +
			"          readinessProbe:\n" +
			"            {{- toYaml . | nindent 12 }}\n" +
			"          {{- end }}\n",
		"          {{- with .Values.readinessProbe }}\n" +
			"          readinessProbe:\n" +
			"            {{- toYaml . | nindent 12 }}\n" +
			"          {{- end }}\n" +
			"          {{- include \"tinit-lib.probes\" . | nindent 10 }}\n",
	},
	{
		"          {{- with .Values.volumeMounts }}\n" +
			"          volumeMounts:\n" +
			"            {{- toYaml . | nindent 12 }}\n" +
			"          {{- end }}\n",
		"          volumeMounts:\n" +
			"            {{- with .Values.volumeMounts }}\n" +
			"            {{- toYaml . | nindent 12 }}\n" +
			"            {{- end }}\n" +
			"            {{- include \"tinit-lib.volumeMount\" . | nindent 12 }}\n",
	},
	{
		"      {{- with .Values.volumes }}\n" +
			"      volumes:\n" +
			"        {{- toYaml . | nindent 8 }}\n" +
			"      {{- end }}\n",
		"      volumes:\n" +
			"        {{- with .Values.volumes }}\n" +
			"        {{- toYaml . | nindent 8 }}\n" +
			"        {{- end }}\n" +
			"        {{- include \"tinit-lib.volume\" . | nindent 8 }}\n",
	},
}

// userChartValues are appended to helm create's values.yaml: tinit on by
// default, and the command tinit runs (the image's ENTRYPOINT is not
// visible to a chart).
const userChartValues = `
# tinit, through charts/tinit-lib (every key is optional).
tinit:
  enabled: true

# The app's command: with tinit on it runs as /tinit-bin/tinit -- COMMAND.
command: []
`

// userChartDependency is added to helm create's Chart.yaml.
const userChartDependency = `dependencies:
  - name: tinit-lib
    version: 0.1.0
    repository: file://../tinit-lib
`

// UserChart makes issue 20's user chart in dir (an empty directory): `helm
// create shop` with the pinned helm, a copy of charts/tinit-lib beside it
// listed as its dependency, the tinit-lib includes added to its
// Deployment (userChartEdits) and `helm dependency build`. It returns the
// chart's directory.
func (e *Env) UserChart(dir string) (string, error) {
	if out, err := e.RunHelm(dir, "create", UserChartName); err != nil {
		return "", fmt.Errorf("helm create %s: %v\n%s", UserChartName, err, out)
	}
	chart := filepath.Join(dir, UserChartName)
	if err := copyDir(e.LibDir, filepath.Join(dir, "tinit-lib")); err != nil {
		return "", err
	}
	if err := appendFile(filepath.Join(chart, "Chart.yaml"), userChartDependency); err != nil {
		return "", err
	}
	if err := appendFile(filepath.Join(chart, "values.yaml"), userChartValues); err != nil {
		return "", err
	}
	p := filepath.Join(chart, "templates", "deployment.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	text := string(b)
	for _, ed := range userChartEdits {
		if n := strings.Count(text, ed.old); n != 1 {
			return "", fmt.Errorf("helm create's deployment.yaml has %d copies of %q, want 1 (a new helm create?):\n%s", n, ed.old, b)
		}
		text = strings.Replace(text, ed.old, ed.new, 1)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		return "", err
	}
	if out, err := e.RunHelm(chart, "dependency", "build", "."); err != nil {
		return "", fmt.Errorf("helm dependency build: %v\n%s", err, out)
	}
	return chart, nil
}

// UserChartValues are the user chart's values for the tests: the nginx
// image (never pulled) with its command, the Service's port 8080 (helm
// create's container port `http` is service.port), the restricted
// securityContext (helm create leaves it empty), and tinit on or off.
// With tinit on, tinit's probes replace helm create's own (on port http
// at /), which are set to null: both would render the same keys twice.
func UserChartValues(tinit bool) map[string]any {
	v := map[string]any{
		"image":   ImageValues(NginxImage),
		"command": NginxCommand,
		"service": map[string]any{"port": 8080},
		"securityContext": map[string]any{
			"runAsNonRoot":             true,
			"runAsUser":                NonRoot,
			"runAsGroup":               NonRoot,
			"allowPrivilegeEscalation": false,
			"capabilities":             map[string]any{"drop": []string{"ALL"}},
			"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
		},
		"tinit": map[string]any{
			"enabled": tinit,
			"image":   map[string]any{"pullPolicy": "Never"},
			"checks":  map[string]any{"appPort": 8080},
		},
	}
	if tinit {
		v["livenessProbe"] = nil
		v["readinessProbe"] = nil
	}
	return v
}

// UserChartSelector is the label selector of the user chart's pods of a
// release (helm create's selector labels).
func UserChartSelector(release string) string {
	return "app.kubernetes.io/name=" + UserChartName + ",app.kubernetes.io/instance=" + release
}

func appendFile(p, text string) error {
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copyDir copies a tree of regular files and directories.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("copying %s: %s is not a regular file", src, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}
