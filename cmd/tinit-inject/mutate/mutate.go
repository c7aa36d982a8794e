package mutate

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tinit/tinit/cmd/tinit-inject/jsonpatch"
)

// The label that opts a pod in or out, and the annotations that set what
// happens. Labels decide, through the webhook's selectors, which pods
// reach it at all; annotations carry the settings.
const (
	LabelInject          = "tinit.dev/inject"     // "true" opts a pod in, "false" out; "enabled" on a namespace
	AnnotationContainers = "tinit.dev/containers" // "a,b": the containers to wrap
	AnnotationRestart    = "tinit.dev/restart"    // TINIT_RESTART
	AnnotationDrain      = "tinit.dev/drain"      // TINIT_DRAIN
	AnnotationGrace      = "tinit.dev/grace"      // TINIT_GRACE
	AnnotationNotify     = "tinit.dev/notify"     // TINIT_NOTIFY
	AnnotationHealthPort = "tinit.dev/health-port"
	AnnotationProbes     = "tinit.dev/probes"
	// Written by the mutation.
	AnnotationInjected = "tinit.dev/injected" // the injector's version
	AnnotationWrapped  = "tinit.dev/wrapped"  // "a,b": the containers now under tinit
	AnnotationSkipped  = "tinit.dev/skipped"  // "<container>: <reason>; ..."
)

// What the mutation adds, named as the tinit and tinit-lib charts name it.
const (
	BinDir         = "/tinit-bin"
	BinPath        = "/tinit-bin/tinit"
	VolumeName     = "tinit-bin"
	InstallName    = "tinit-install"
	HealthPortName = "tinit-health"
	// InstallUser runs the install container: tinit's image has no
	// user of its own, and 65532 is the chart's (distroless' nonroot).
	InstallUser = 65532
)

// defaultTerminationGrace is Kubernetes' terminationGracePeriodSeconds
// when a pod sets none.
const defaultTerminationGrace = 30

// graceMargin is the time the kubelet is given on top of tinit's drain
// and grace before it sends SIGKILL itself: tinit, not the kubelet, must
// end the pod.
const graceMargin = 5

// Settings are what does not depend on the pod or its namespace.
type Settings struct {
	Image   string // the tinit image the install container runs
	Version string // written into tinit.dev/injected
}

// PullContext is what a registry lookup needs to find the pod's
// credentials: its imagePullSecrets and those of its service account.
type PullContext struct {
	Namespace      string // "" outside a cluster (render)
	ServiceAccount string
	PullSecrets    []string
}

// ImageConfig is the part of an image's config the command comes from.
type ImageConfig struct {
	Entrypoint, Cmd []string
}

// Images reads an image's ENTRYPOINT and CMD.
type Images interface {
	Config(ctx context.Context, ref string, pull PullContext) (ImageConfig, error)
}

// Outcome sums up a mutation.
type Outcome string

const (
	Injected  Outcome = "injected"  // at least one container runs under tinit
	Skipped   Outcome = "skipped"   // containers were chosen, none wrapped: tinit.dev/skipped says why
	Unchanged Outcome = "unchanged" // no patch at all: Result.Why says why
)

// Skip is a chosen container left alone, and why.
type Skip struct {
	Container, Reason string
}

func (s Skip) String() string { return s.Container + ": " + s.Reason }

// Result is what Mutate did.
type Result struct {
	Outcome Outcome
	Patch   []jsonpatch.Op // empty when Unchanged
	Wrapped []string
	Skipped []Skip
	Why     string // for Unchanged
}

// target is one chosen container and where it is in the pod.
type target struct {
	c       *corev1.Container
	path    string // "/spec/containers/0"
	init    bool   // in initContainers
	sidecar bool   // an init container with restartPolicy Always
}

// mutation is Mutate's working state.
type mutation struct {
	pod      *corev1.Pod
	s        Settings
	images   Images
	pull     PullContext
	ops      []jsonpatch.Op // container operations, in order
	wrapped  []string
	skipped  []Skip
	settings map[string]string // env name -> value from the annotations
	health   int               // the health port, 0 for none
	probes   bool
	grace    int64 // the largest drain + grace + margin, in seconds
}

// Mutate returns the patch that puts pod's chosen containers under tinit.
// The error is for a call that cannot be answered at all (no pod, no
// tinit image); everything about the pod itself is in the Result.
func Mutate(ctx context.Context, pod *corev1.Pod, s Settings, images Images) (Result, error) {
	if pod == nil {
		return Result{}, errors.New("mutate: no pod")
	}
	if strings.TrimSpace(s.Image) == "" {
		return Result{}, errors.New("mutate: no tinit image to install from")
	}
	if v := pod.Labels[LabelInject]; v == "false" {
		return unchanged(`opted out: label ` + LabelInject + ` is "false"`), nil
	}
	for _, k := range []string{AnnotationInjected, AnnotationSkipped} {
		if _, ok := pod.Annotations[k]; ok {
			return unchanged("processed before: it has the annotation " + k), nil
		}
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == VolumeName {
			return unchanged("it has tinit already: a volume named " + VolumeName), nil
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == InstallName {
			return unchanged("it has tinit already: an init container named " + InstallName), nil
		}
	}
	m := &mutation{pod: pod, s: s, images: images, pull: pullContext(pod)}
	chosen := m.choose()
	if len(chosen) == 0 {
		if len(m.skipped) == 0 {
			return unchanged("no container to wrap"), nil
		}
		return m.finish(), nil
	}
	if reason := m.podRules(chosen); reason != "" {
		for _, t := range chosen {
			m.skip(t.c.Name, reason)
		}
		return m.finish(), nil
	}
	for _, t := range chosen {
		m.wrap(ctx, t)
	}
	return m.finish(), nil
}

func unchanged(why string) Result { return Result{Outcome: Unchanged, Why: why} }

func pullContext(pod *corev1.Pod) PullContext {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = pod.Spec.DeprecatedServiceAccount
	}
	if sa == "" {
		sa = "default"
	}
	p := PullContext{Namespace: pod.Namespace, ServiceAccount: sa}
	for _, r := range pod.Spec.ImagePullSecrets {
		if r.Name != "" {
			p.PullSecrets = append(p.PullSecrets, r.Name)
		}
	}
	return p
}

func (m *mutation) skip(container, reason string) {
	// "; " separates the entries of tinit.dev/skipped.
	m.skipped = append(m.skipped, Skip{container, strings.ReplaceAll(reason, ";", ",")})
}

// choose finds the containers named by tinit.dev/containers, or else
// every regular container. A name that is in no list is skipped.
func (m *mutation) choose() []target {
	spec := &m.pod.Spec
	find := func(name string) (target, bool) {
		for i := range spec.Containers {
			if spec.Containers[i].Name == name {
				return target{c: &spec.Containers[i], path: fmt.Sprintf("/spec/containers/%d", i)}, true
			}
		}
		for i := range spec.InitContainers {
			if c := &spec.InitContainers[i]; c.Name == name {
				sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
				return target{c: c, path: fmt.Sprintf("/spec/initContainers/%d", i), init: true, sidecar: sidecar}, true
			}
		}
		return target{}, false
	}
	var out []target
	v, ok := m.pod.Annotations[AnnotationContainers]
	if !ok || blank(v) {
		for i := range spec.Containers {
			out = append(out, target{c: &spec.Containers[i], path: fmt.Sprintf("/spec/containers/%d", i)})
		}
		return out
	}
	seen := map[string]bool{}
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		if t, ok := find(name); ok {
			out = append(out, t)
		} else {
			m.skip(name, "no such container (named in "+AnnotationContainers+")")
		}
	}
	return out
}

// podRules checks what concerns the whole pod: the settings' values, the
// health-port rule, the pod's OS. It returns the reason every chosen
// container is left alone, or "".
func (m *mutation) podRules(chosen []target) string {
	pod := m.pod
	if pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Windows {
		return "pod left alone: a Windows pod: tinit runs on Linux only"
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == InstallName {
			return "pod left alone: a container is named " + InstallName + " already, the name of tinit's install container"
		}
	}
	var problems []string
	m.settings = map[string]string{}
	for _, st := range settings {
		v, ok := pod.Annotations[st.annotation]
		if !ok || blank(v) {
			continue
		}
		if err := st.check(v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", st.annotation, err))
			continue
		}
		m.settings[st.env] = strings.TrimSpace(v)
	}
	if v, ok := pod.Annotations[AnnotationProbes]; ok && !blank(v) {
		if err := checkBool(v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", AnnotationProbes, err))
		} else {
			m.probes = parseBool(v)
		}
	}
	if v, ok := pod.Annotations[AnnotationHealthPort]; ok && !blank(v) {
		port, err := parsePort(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", AnnotationHealthPort, err))
		} else if p := m.healthRule(port, chosen); p != "" {
			problems = append(problems, p)
		}
	} else if m.probes {
		problems = append(problems, AnnotationProbes+` is "true" without `+AnnotationHealthPort+`: the probes need tinit's health port`)
	}
	if len(problems) > 0 {
		return "pod left alone: " + strings.Join(problems, ", and ")
	}
	return ""
}

// healthRule checks tinit.dev/health-port against the pod: one chosen
// container, whose tinit is to listen on a port no other container of the
// pod declares. A TINIT_HEALTH_ADDR the container sets itself wins, and
// the port follows it. It returns the problem, or "" and sets m.health.
func (m *mutation) healthRule(port int, chosen []target) string {
	if len(chosen) != 1 {
		names := make([]string, len(chosen))
		for i, t := range chosen {
			names[i] = t.c.Name
		}
		return fmt.Sprintf("%s needs exactly one chosen container, not %d (%s): name it with %s", AnnotationHealthPort, len(chosen), strings.Join(names, ","), AnnotationContainers)
	}
	t := chosen[0]
	if m.probes && t.init && !t.sidecar {
		return fmt.Sprintf("%s: init container %s cannot have probes (only a native sidecar, restartPolicy Always, can)", AnnotationProbes, t.c.Name)
	}
	if e, ok := ownEnv(t.c)["TINIT_HEALTH_ADDR"]; ok {
		if e.ValueFrom != nil || strings.Contains(e.Value, "$(") {
			return fmt.Sprintf("%s: container %s sets TINIT_HEALTH_ADDR itself, to a value known only when it starts", AnnotationHealthPort, t.c.Name)
		}
		if p, err := checkHealthAddr(e.Value); err == nil {
			port = p
		}
	}
	all := append(append([]corev1.Container{}, m.pod.Spec.InitContainers...), m.pod.Spec.Containers...)
	for _, c := range all {
		for _, p := range c.Ports {
			own := c.Name == t.c.Name
			switch {
			case own && p.Name == HealthPortName && int(p.ContainerPort) != port:
				return fmt.Sprintf("%s: container %s has a port named %s already, %d, not %d", AnnotationHealthPort, c.Name, HealthPortName, p.ContainerPort, port)
			case own && p.Name == HealthPortName:
			case int(p.ContainerPort) == port && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP):
				return fmt.Sprintf("%s: port %d is declared by container %s already", AnnotationHealthPort, port, c.Name)
			}
		}
	}
	m.health = port
	return ""
}

// ownEnv is a container's own variables by name; the last of a name
// wins, as the kubelet takes it.
func ownEnv(c *corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// known reports whether an own variable's value is known here: a literal,
// not from a ConfigMap or Secret and with no $(VAR) in it.
func known(e corev1.EnvVar) bool {
	return e.ValueFrom == nil && !strings.Contains(e.Value, "$(")
}

// wrap puts one container under tinit, or skips it with a reason.
func (m *mutation) wrap(ctx context.Context, t target) {
	c := t.c
	own := ownEnv(c)
	names := make([]string, 0, len(ownChecks))
	for n := range ownChecks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if e, ok := own[n]; ok && known(e) && !blank(e.Value) {
			if err := ownChecks[n](e.Value); err != nil {
				m.skip(c.Name, fmt.Sprintf("its own %s is one tinit would refuse: %v", n, err))
				return
			}
		}
	}
	for _, vm := range c.VolumeMounts {
		if path.Clean(vm.MountPath) == BinDir {
			m.skip(c.Name, "it mounts something at "+BinDir+" already")
			return
		}
	}

	cmd, args, ok := m.argv(ctx, c)
	if !ok {
		return
	}
	var ops []jsonpatch.Op
	if len(c.Command) == 0 {
		ops = append(ops, jsonpatch.Add(t.path+"/command", cmd))
	} else {
		ops = append(ops, jsonpatch.Replace(t.path+"/command", cmd))
	}
	switch {
	case slices.Equal(args, c.Args):
	case len(args) == 0:
		ops = append(ops, jsonpatch.Remove(t.path+"/args"))
	case len(c.Args) == 0:
		ops = append(ops, jsonpatch.Add(t.path+"/args", args))
	default:
		ops = append(ops, jsonpatch.Replace(t.path+"/args", args))
	}

	var env []corev1.EnvVar
	for _, st := range settings {
		if v, ok := m.settings[st.env]; ok {
			if _, mine := own[st.env]; !mine {
				env = append(env, corev1.EnvVar{Name: st.env, Value: v})
			}
		}
	}
	if _, mine := own["TINIT_HEALTH_ADDR"]; m.health > 0 && !mine {
		env = append(env, corev1.EnvVar{Name: "TINIT_HEALTH_ADDR", Value: fmt.Sprintf(":%d", m.health)})
	}
	ops = appendItems(ops, t.path+"/env", c.Env == nil, env)
	ops = appendItems(ops, t.path+"/volumeMounts", c.VolumeMounts == nil,
		[]corev1.VolumeMount{{Name: VolumeName, MountPath: BinDir, ReadOnly: true}})

	drain, grace := m.durations(own)
	if m.health > 0 {
		has := false
		for _, p := range c.Ports {
			has = has || p.Name == HealthPortName
		}
		if !has {
			ops = appendItems(ops, t.path+"/ports", c.Ports == nil,
				[]corev1.ContainerPort{{Name: HealthPortName, ContainerPort: int32(m.health), Protocol: corev1.ProtocolTCP}})
		}
		if m.probes {
			ops = append(ops, probeOps(t, drain)...)
		}
	}
	need := int64((drain+grace+time.Second-1)/time.Second) + graceMargin
	m.grace = max(m.grace, need)
	m.ops = append(m.ops, ops...)
	m.wrapped = append(m.wrapped, c.Name)
}

// durations are the drain and grace the container's tinit will have: its
// own variable, else the annotation's, else tinit's default.
func (m *mutation) durations(own map[string]corev1.EnvVar) (drain, grace time.Duration) {
	pick := func(env string, l span, def time.Duration) time.Duration {
		if e, ok := own[env]; ok {
			if known(e) && !blank(e.Value) {
				d, _ := l.parse(e.Value) // checked by wrap
				return d
			}
			if known(e) {
				return def // empty: tinit reads it as unset
			}
			return def // unknown here: counted as tinit's default
		}
		if v, ok := m.settings[env]; ok {
			d, _ := l.parse(v)
			return d
		}
		return def
	}
	return pick("TINIT_DRAIN", drainSpan, defaultDrain), pick("TINIT_GRACE", graceSpan, defaultGrace)
}

// argv works out the container's new command and args, or skips it.
func (m *mutation) argv(ctx context.Context, c *corev1.Container) (cmd, args []string, ok bool) {
	var head, tail []string // what replaces ENTRYPOINT, and CMD
	if len(c.Command) > 0 {
		// The image's ENTRYPOINT and CMD are not run at all.
		head, tail = c.Command, c.Args
	} else {
		if m.images == nil {
			m.skip(c.Name, "it has no command, and no image reader is set up to find the image's")
			return nil, nil, false
		}
		cfg, err := m.images.Config(ctx, c.Image, m.pull)
		if err != nil {
			m.skip(c.Name, fmt.Sprintf("image %s: %v", c.Image, err))
			return nil, nil, false
		}
		head, tail = escape(cfg.Entrypoint), c.Args
		if len(c.Args) == 0 {
			tail = escape(cfg.Cmd)
		}
	}
	if len(head)+len(tail) == 0 {
		m.skip(c.Name, "nothing to run: no command or args, and the image has no ENTRYPOINT or CMD")
		return nil, nil, false
	}
	first := head
	if len(first) == 0 {
		first = tail
	}
	switch path.Base(first[0]) {
	case "tini", "tini-static", "dumb-init":
		// tinit takes their command lines: it goes in their place.
		if len(head) > 0 {
			return append([]string{BinPath}, head[1:]...), tail, true
		}
		return []string{BinPath}, tail[1:], true
	case "catatonit":
		m.skip(c.Name, "it starts catatonit, whose flags tinit does not take")
		return nil, nil, false
	case "tinit":
		m.skip(c.Name, "it starts tinit already")
		return nil, nil, false
	}
	return append([]string{BinPath, "--"}, head...), tail, true
}

// escape makes image values literal where the kubelet expands $(VAR):
// "$(" and "$$" would be read as a reference and an escaped "$". A "$"
// before a non-ASCII character is escaped too: the kubelet's expansion
// copies the byte after a lone "$" as a rune of its own, which turns
// "$é" into "$Ã©".
func escape(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		if !strings.Contains(s, "$") {
			out[i] = s
			continue
		}
		var b strings.Builder
		for j := 0; j < len(s); j++ {
			if s[j] == '$' && j+1 < len(s) && (s[j+1] == '(' || s[j+1] == '$' || s[j+1] >= 0x80) {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[j])
			}
		}
		out[i] = b.String()
	}
	return out
}

// appendItems appends items to the list at p: one "add p/-" each, or one
// "add p" creating it when absent. A list is never replaced.
func appendItems[T any](ops []jsonpatch.Op, p string, absent bool, items []T) []jsonpatch.Op {
	if len(items) == 0 {
		return ops
	}
	if absent {
		return append(ops, jsonpatch.Add(p, items))
	}
	for _, it := range items {
		ops = append(ops, jsonpatch.Add(p+"/-", it))
	}
	return ops
}

// probeOps adds the probes tinit-lib's chart gives, each that the
// container does not have: liveness on /healthz, readiness on /readyz,
// and startup on /healthz (/readyz for a native sidecar, whose startup
// holds the pod's main containers back).
func probeOps(t target, drain time.Duration) []jsonpatch.Op {
	probe := func(p string, period, timeout, failure int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: p, Port: intstr.FromString(HealthPortName)}},
			PeriodSeconds:    period,
			TimeoutSeconds:   timeout,
			FailureThreshold: failure,
		}
	}
	// The kubelet must see /readyz turn 503 within half the drain
	// (period x failures), as tinit-lib's chart keeps it.
	readyPeriod, readyFailures := int32(5), int32(2)
	if d := int32(drain / time.Second); d > 0 && 2*readyPeriod*readyFailures > d {
		readyPeriod = max(1, d/(2*readyFailures))
	}
	startup := probe("/healthz", 2, 2, 3)
	if t.sidecar {
		startup = probe("/readyz", 1, 1, 60)
	}
	var ops []jsonpatch.Op
	if t.c.LivenessProbe == nil {
		ops = append(ops, jsonpatch.Add(t.path+"/livenessProbe", probe("/healthz", 10, 2, 3)))
	}
	if t.c.ReadinessProbe == nil {
		ops = append(ops, jsonpatch.Add(t.path+"/readinessProbe", probe("/readyz", readyPeriod, 2, readyFailures)))
	}
	if t.c.StartupProbe == nil {
		ops = append(ops, jsonpatch.Add(t.path+"/startupProbe", startup))
	}
	return ops
}

// finish turns the mutation's state into the result and its patch.
func (m *mutation) finish() Result {
	r := Result{Wrapped: m.wrapped, Skipped: m.skipped}
	ann := map[string]string{}
	if len(m.skipped) > 0 {
		parts := make([]string, len(m.skipped))
		for i, s := range m.skipped {
			parts[i] = s.String()
		}
		ann[AnnotationSkipped] = strings.Join(parts, "; ")
	}
	if len(m.wrapped) == 0 {
		r.Outcome = Skipped
		r.Patch = m.annotationOps(ann)
		return r
	}
	r.Outcome = Injected
	ann[AnnotationInjected] = m.s.Version
	ann[AnnotationWrapped] = strings.Join(m.wrapped, ",")
	ops := m.annotationOps(ann)
	ops = append(ops, m.ops...)
	spec := &m.pod.Spec
	ops = appendItems(ops, "/spec/volumes", spec.Volumes == nil, []corev1.Volume{{
		Name:         VolumeName,
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("64Mi"))}},
	}})
	switch cur := spec.TerminationGracePeriodSeconds; {
	case cur == nil && m.grace > defaultTerminationGrace:
		ops = append(ops, jsonpatch.Add("/spec/terminationGracePeriodSeconds", m.grace))
	case cur != nil && *cur < m.grace:
		ops = append(ops, jsonpatch.Replace("/spec/terminationGracePeriodSeconds", m.grace))
	}
	// Last: the insert shifts the init containers' indices.
	if spec.InitContainers == nil {
		ops = append(ops, jsonpatch.Add("/spec/initContainers", []corev1.Container{m.installContainer()}))
	} else {
		ops = append(ops, jsonpatch.Add("/spec/initContainers/0", m.installContainer()))
	}
	r.Patch = ops
	return r
}

// annotationOps sets the annotations in ann, creating the map if the pod
// has none. Keys in a stable order, for a stable patch.
func (m *mutation) annotationOps(ann map[string]string) []jsonpatch.Op {
	if len(ann) == 0 {
		return nil
	}
	if m.pod.Annotations == nil {
		return []jsonpatch.Op{jsonpatch.Add("/metadata/annotations", ann)}
	}
	keys := make([]string, 0, len(ann))
	for k := range ann {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ops []jsonpatch.Op
	for _, k := range keys {
		ops = append(ops, jsonpatch.Add(jsonpatch.Pointer("metadata", "annotations", k), ann[k]))
	}
	return ops
}

// installContainer copies tinit into the emptyDir, as tinit-lib's
// initContainer does: restricted Pod Security clean, read-only root.
func (m *mutation) installContainer() corev1.Container {
	return corev1.Container{
		Name:    InstallName,
		Image:   m.s.Image,
		Command: []string{"/tinit", "--install", BinDir},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: VolumeName, MountPath: BinDir}},
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr(true),
			RunAsUser:                ptr(int64(InstallUser)),
			RunAsGroup:               ptr(int64(InstallUser)),
			ReadOnlyRootFilesystem:   ptr(true),
			AllowPrivilegeEscalation: ptr(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

func ptr[T any](v T) *T { return &v }
