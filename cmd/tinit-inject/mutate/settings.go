package mutate

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The rules below are tinit's own (cmd/tinit/options.go and config.go),
// copied because cmd/tinit is a main package and init/supervise pulls
// logrus: a value tinit refuses is refused here, with tinit's words, and
// one it takes is taken. TestSettingsAgreeWithTinit runs the real tinit
// over the same table.

// maxDuration bounds tinit's --drain and --grace (and every duration of
// tinit's but --restart-window).
const maxDuration = 24 * time.Hour

// Tinit's defaults for the two durations the grace period adds up.
const (
	defaultGrace = 8 * time.Second
	defaultDrain = 0
)

// blank is tinit's "unset": an empty variable, or one of spaces alone,
// counts as not set at all (as Compose and Kubernetes use it).
func blank(v string) bool { return strings.TrimSpace(v) == "" }

// checkRestart is --restart's check: never, on-failure or always.
func checkRestart(v string) error {
	switch strings.TrimSpace(v) {
	case "never", "on-failure", "always":
		return nil
	}
	return fmt.Errorf("%q: want never, on-failure or always", strings.TrimSpace(v))
}

// span is the range of a duration setting: 0 when zero says what it
// means, else a positive duration up to maxDuration.
type span struct {
	zero, example string
}

func (l span) parse(v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err == nil && (d == 0 || (d >= 1 && d <= maxDuration)) {
		return d, nil
	}
	return 0, fmt.Errorf("%q: want a duration from 0 (%s) to 24h, such as %s", v, l.zero, l.example)
}

// The spans of --drain and --grace.
var (
	drainSpan = span{zero: "none", example: "5s"}
	graceSpan = span{zero: "SIGKILL at once", example: "8s"}
)

// checkBool is tinit's boolean: what strconv.ParseBool takes.
func checkBool(v string) error {
	if _, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil {
		return fmt.Errorf("%q: want true or false", v)
	}
	return nil
}

// parseBool reads a value checkBool has passed.
func parseBool(v string) bool {
	b, _ := strconv.ParseBool(strings.TrimSpace(v))
	return b
}

// checkHealthAddr is --health-addr's check: HOST:PORT or :PORT with a
// port from 1 to 65535. It returns the port.
func checkHealthAddr(v string) (int, error) {
	_, port, err := net.SplitHostPort(strings.TrimSpace(v))
	n, errN := strconv.Atoi(port)
	if err != nil || errN != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q: want HOST:PORT or :PORT with a port from 1 to 65535", v)
	}
	return n, nil
}

// setting is one tinit setting that an annotation carries.
type setting struct {
	annotation string
	env        string
	check      func(string) error
}

// settings are the annotations that become TINIT_* variables, in the
// order the variables are added.
var settings = []setting{
	{AnnotationRestart, "TINIT_RESTART", checkRestart},
	{AnnotationDrain, "TINIT_DRAIN", func(v string) error { _, err := drainSpan.parse(v); return err }},
	{AnnotationGrace, "TINIT_GRACE", func(v string) error { _, err := graceSpan.parse(v); return err }},
	{AnnotationNotify, "TINIT_NOTIFY", checkBool},
}

// ownChecks are the checks of the TINIT_* variables a container may set
// itself and the mutation reads: a container whose own value tinit would
// refuse is left alone, since tinit would exit 2 before the app starts.
var ownChecks = map[string]func(string) error{
	"TINIT_RESTART":     checkRestart,
	"TINIT_DRAIN":       func(v string) error { _, err := drainSpan.parse(v); return err },
	"TINIT_GRACE":       func(v string) error { _, err := graceSpan.parse(v); return err },
	"TINIT_NOTIFY":      checkBool,
	"TINIT_HEALTH_ADDR": func(v string) error { _, err := checkHealthAddr(v); return err },
}

// parsePort reads tinit.dev/health-port: a port number from 1 to 65535.
func parsePort(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q: want a port number from 1 to 65535", v)
	}
	return n, nil
}
