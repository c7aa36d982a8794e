package mutate

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// settingCases are values of the variables the annotations set, and
// whether tinit takes them. TestSettingsAgreeWithTinit asks the real
// tinit the same questions.
var settingCases = []struct {
	env, value string
	ok         bool
}{
	{"TINIT_RESTART", "never", true},
	{"TINIT_RESTART", " on-failure ", true},
	{"TINIT_RESTART", "always", true},
	{"TINIT_RESTART", "", true}, // empty is unset
	{"TINIT_RESTART", "   ", true},
	{"TINIT_RESTART", "Always", false},
	{"TINIT_RESTART", "on_failure", false},
	{"TINIT_RESTART", "sometimes", false},
	{"TINIT_GRACE", "8s", true},
	{"TINIT_GRACE", " 8s ", true},
	{"TINIT_GRACE", "0", true},
	{"TINIT_GRACE", "0s", true},
	{"TINIT_GRACE", "1ns", true},
	{"TINIT_GRACE", "1.5s", true},
	{"TINIT_GRACE", ".5s", true},
	{"TINIT_GRACE", "+5s", true},
	{"TINIT_GRACE", "1m30s", true},
	{"TINIT_GRACE", "24h", true},
	{"TINIT_GRACE", "24h0m0.000000001s", false},
	{"TINIT_GRACE", "25h", false},
	{"TINIT_GRACE", "-1s", false},
	{"TINIT_GRACE", "8", false},
	{"TINIT_GRACE", "5S", false},
	{"TINIT_GRACE", "abc", false},
	{"TINIT_DRAIN", "5s", true},
	{"TINIT_DRAIN", "0", true},
	{"TINIT_DRAIN", "100ms", true},
	{"TINIT_DRAIN", "-5s", false},
	{"TINIT_DRAIN", "5", false},
	{"TINIT_DRAIN", "48h", false},
	{"TINIT_NOTIFY", "true", true},
	{"TINIT_NOTIFY", " true ", true},
	{"TINIT_NOTIFY", "1", true},
	{"TINIT_NOTIFY", "t", true},
	{"TINIT_NOTIFY", "TRUE", true},
	{"TINIT_NOTIFY", "False", true},
	{"TINIT_NOTIFY", "0", true},
	{"TINIT_NOTIFY", "tRuE", false},
	{"TINIT_NOTIFY", "yes", false},
	{"TINIT_NOTIFY", "on", false},
	{"TINIT_HEALTH_ADDR", ":9180", true},
	{"TINIT_HEALTH_ADDR", "127.0.0.1:9180", true},
	{"TINIT_HEALTH_ADDR", " :9180 ", true},
	{"TINIT_HEALTH_ADDR", "[::1]:80", true},
	{"TINIT_HEALTH_ADDR", "9180", false},
	{"TINIT_HEALTH_ADDR", ":0", false},
	{"TINIT_HEALTH_ADDR", ":65536", false},
	{"TINIT_HEALTH_ADDR", ":http", false},
}

// verdict is what the mutation makes of a variable's value.
func verdict(env, value string) error {
	if blank(value) {
		return nil
	}
	return ownChecks[env](value)
}

func TestSettingChecks(t *testing.T) {
	for _, tc := range settingCases {
		err := verdict(tc.env, tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("%s=%q: %v, want ok=%v", tc.env, tc.value, err, tc.ok)
		}
	}
	// Every annotation's check is the one for its variable.
	for _, st := range settings {
		for _, tc := range settingCases {
			if tc.env == st.env && !blank(tc.value) && (st.check(tc.value) == nil) != tc.ok {
				t.Errorf("%s %q: %v, want ok=%v", st.annotation, tc.value, st.check(tc.value), tc.ok)
			}
		}
	}
}

// TestSettingsAgreeWithTinit builds tinit from this checkout and runs it
// with each value: a value the mutation refuses must be one tinit
// refuses (exit 2 naming the variable), and one it takes, one tinit
// takes.
func TestSettingsAgreeWithTinit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tinit")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build tinit with")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !bytes.HasPrefix(b, []byte("module github.com/tinit/tinit\n")) {
		t.Skip("not inside tinit's checkout")
	}
	bin := filepath.Join(t.TempDir(), "tinit")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/tinit")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build tinit: %v\n%s", err, out)
	}
	for _, tc := range settingCases {
		cmd := exec.Command(bin, "--", "/bin/true")
		// At most one restart, at once: TINIT_RESTART=always must end.
		cmd.Env = []string{"PATH=/usr/bin:/bin", "TINIT_MAX_RESTARTS=1", "TINIT_BACKOFF=0", tc.env + "=" + tc.value}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		refused := errors.As(err, &exit) && exit.ExitCode() == 2
		if refused && !strings.Contains(stderr.String(), tc.env) {
			t.Errorf("%s=%q: tinit exited 2 without naming the variable: %s", tc.env, tc.value, stderr.String())
		}
		if ours := verdict(tc.env, tc.value); (ours == nil) == refused {
			t.Errorf("%s=%q: tinit refused=%v (%v, %s), the mutation says %v", tc.env, tc.value, refused, err, strings.TrimSpace(stderr.String()), ours)
		}
	}
}
