package test

// The tests of charts/tinit-inject, the chart of the tinit-inject
// admission webhook (issue 21): lint, render with the generated
// certificate and with cert-manager, strict decoding into k8s.io/api types
// (cert-manager's objects, whose types are not there, as unstructured),
// the webhook's selectors evaluated against labelled pods and namespaces,
// the generated CA and serving certificate, the injector's own pod under
// the restricted profile, and the values the chart refuses.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

func init() {
	for k, f := range map[string]func() any{
		"v1/Service":                    func() any { return new(corev1.Service) },
		"v1/ServiceAccount":             func() any { return new(corev1.ServiceAccount) },
		"v1/Secret":                     func() any { return new(corev1.Secret) },
		"v1/ConfigMap":                  func() any { return new(corev1.ConfigMap) },
		"policy/v1/PodDisruptionBudget": func() any { return new(policyv1.PodDisruptionBudget) },
		"rbac.authorization.k8s.io/v1/ClusterRole":        func() any { return new(rbacv1.ClusterRole) },
		"rbac.authorization.k8s.io/v1/ClusterRoleBinding": func() any { return new(rbacv1.ClusterRoleBinding) },
		"rbac.authorization.k8s.io/v1/RoleBinding":        func() any { return new(rbacv1.RoleBinding) },
		"admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": func() any {
			return new(admissionregistrationv1.MutatingWebhookConfiguration)
		},
		// cert-manager's CRDs are not in k8s.io/api: kept as unstructured,
		// and their fields checked one by one.
		"cert-manager.io/v1/Issuer":      func() any { return new(unstructured.Unstructured) },
		"cert-manager.io/v1/Certificate": func() any { return new(unstructured.Unstructured) },
	} {
		kinds[k] = f
	}
}

const (
	injRelease = "tinit-test"
	injNS      = "apps"
	injName    = "tinit-test-tinit-inject"
	injTLSDir  = "/etc/tinit-inject/tls"
)

// injectChartDir is charts/tinit-inject.
func injectChartDir() string { return filepath.Join(filepath.Dir(chartDir), "tinit-inject") }

// injRender renders charts/tinit-inject as release tinit-test in namespace
// apps and decodes every document strictly.
func injRender(t *testing.T, args ...string) *injObjs {
	t.Helper()
	return injRenderIn(t, injectChartDir(), args...)
}

func injRenderIn(t *testing.T, dir string, args ...string) *injObjs {
	t.Helper()
	return sortObjs(t, renderIn(t, dir, args...))
}

// injObjs are the rendered objects by kind.
type injObjs struct {
	deploy   []*appsv1.Deployment
	svc      []*corev1.Service
	sa       []*corev1.ServiceAccount
	secret   []*corev1.Secret
	cm       []*corev1.ConfigMap
	pdb      []*policyv1.PodDisruptionBudget
	role     []*rbacv1.ClusterRole
	crb      []*rbacv1.ClusterRoleBinding
	rb       []*rbacv1.RoleBinding
	mwc      []*admissionregistrationv1.MutatingWebhookConfiguration
	cmIssuer []*unstructured.Unstructured
	cmCert   []*unstructured.Unstructured
}

func sortObjs(t *testing.T, objs []any) *injObjs {
	t.Helper()
	o := &injObjs{}
	for _, x := range objs {
		switch v := x.(type) {
		case *appsv1.Deployment:
			o.deploy = append(o.deploy, v)
		case *corev1.Service:
			o.svc = append(o.svc, v)
		case *corev1.ServiceAccount:
			o.sa = append(o.sa, v)
		case *corev1.Secret:
			o.secret = append(o.secret, v)
		case *corev1.ConfigMap:
			o.cm = append(o.cm, v)
		case *policyv1.PodDisruptionBudget:
			o.pdb = append(o.pdb, v)
		case *rbacv1.ClusterRole:
			o.role = append(o.role, v)
		case *rbacv1.ClusterRoleBinding:
			o.crb = append(o.crb, v)
		case *rbacv1.RoleBinding:
			o.rb = append(o.rb, v)
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			o.mwc = append(o.mwc, v)
		case *unstructured.Unstructured:
			switch v.GetKind() {
			case "Issuer":
				o.cmIssuer = append(o.cmIssuer, v)
			case "Certificate":
				o.cmCert = append(o.cmCert, v)
			}
		default:
			t.Fatalf("charts/tinit-inject rendered a %T", x)
		}
	}
	return o
}

// one returns the only element of s, failing otherwise.
func one[T any](t *testing.T, what string, s []T) T {
	t.Helper()
	if len(s) != 1 {
		t.Fatalf("%d %s rendered, want 1", len(s), what)
	}
	return s[0]
}

// injContainer is the injector's container of the Deployment.
func injContainer(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	pod := &d.Spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Fatalf("injector pod: %d containers and %d init containers, want 1 and 0", len(pod.Containers), len(pod.InitContainers))
	}
	return &pod.Containers[0]
}

// serveFlags reads the container's args, `serve` and then `--flag value`
// pairs, into flag -> values.
func serveFlags(t *testing.T, c *corev1.Container) map[string][]string {
	t.Helper()
	if len(c.Command) != 0 {
		t.Errorf("command %q: the image's ENTRYPOINT [/tinit-inject] must stay", c.Command)
	}
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("args %q do not start with serve", c.Args)
	}
	m := map[string][]string{}
	rest := c.Args[1:]
	for len(rest) > 0 {
		if !strings.HasPrefix(rest[0], "--") || len(rest) < 2 || strings.HasPrefix(rest[1], "--") {
			t.Fatalf("args %q: %q is not a --flag with a value", c.Args, rest[0])
		}
		m[rest[0]] = append(m[rest[0]], rest[1])
		rest = rest[2:]
	}
	return m
}

// flag1 is the value of a flag given once.
func flag1(t *testing.T, flags map[string][]string, name string) string {
	t.Helper()
	v := flags[name]
	if len(v) != 1 {
		t.Fatalf("%s given %d times (%q), want once", name, len(v), v)
	}
	return v[0]
}

func containerPort(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, name)
	return 0
}

// addrPort is the port of a ":port" listen address.
func addrPort(t *testing.T, addr string) string {
	t.Helper()
	if !regexp.MustCompile(`^:[0-9]+$`).MatchString(addr) {
		t.Fatalf("listen address %q is not :port", addr)
	}
	return addr[1:]
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

func chartAppVersion(t *testing.T, dir string) string {
	t.Helper()
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	readYAML(t, filepath.Join(dir, "Chart.yaml"), &c)
	if c.AppVersion == "" {
		t.Fatalf("%s/Chart.yaml has no appVersion", dir)
	}
	return c.AppVersion
}

func TestInjectChartLint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(injectChartDir(), "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("want at least two chart-testing values files in charts/tinit-inject/ci, got %v", files)
	}
	cases := [][]string{nil, {"--set", "tls.certManager.enabled=true"}}
	for _, f := range files {
		cases = append(cases, []string{"-f", filepath.Join("ci", filepath.Base(f))})
	}
	for _, extra := range cases {
		t.Run(strings.Join(extra, " "), func(t *testing.T) {
			args := append([]string{"lint", "--strict", "--kube-version", kubeVersion, "."}, extra...)
			out, err := runHelmIn(injectChartDir(), args...)
			if err != nil || !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			// Every ci file also renders and decodes.
			injRender(t, extra...)
		})
	}
}

// TestInjectDefaults: the objects of a default install and how they point
// at each other: the Service at the container's HTTPS port, the probes at
// its health port, the flags at the mounted Secret, the RBAC binding at
// the ServiceAccount the pods run as.
func TestInjectDefaults(t *testing.T) {
	o := injRender(t)
	ver := chartAppVersion(t, injectChartDir())
	d := one(t, "Deployments", o.deploy)
	svc := one(t, "Services", o.svc)
	sa := one(t, "ServiceAccounts", o.sa)
	secret := one(t, "Secrets", o.secret)
	pdb := one(t, "PodDisruptionBudgets", o.pdb)
	role := one(t, "ClusterRoles", o.role)
	crb := one(t, "ClusterRoleBindings", o.crb)
	one(t, "MutatingWebhookConfigurations", o.mwc)
	if len(o.cm)+len(o.rb)+len(o.cmIssuer)+len(o.cmCert) != 0 {
		t.Errorf("defaults render ConfigMaps %d, RoleBindings %d, cert-manager objects %d", len(o.cm), len(o.rb), len(o.cmIssuer)+len(o.cmCert))
	}
	for _, m := range []metav1.ObjectMeta{d.ObjectMeta, svc.ObjectMeta, sa.ObjectMeta, secret.ObjectMeta, pdb.ObjectMeta} {
		if m.Namespace != injNS {
			t.Errorf("%s is in namespace %q, want the release's %q", m.Name, m.Namespace, injNS)
		}
	}

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil ||
		ru.MaxUnavailable == nil || ru.MaxUnavailable.String() != "0" {
		t.Errorf("strategy %+v: a rollout must not take a pod away before its replacement is ready", d.Spec.Strategy)
	}
	pod := &d.Spec.Template.Spec
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Fatalf("the Deployment's selector %v does not match its pods (%v)", d.Spec.Selector, err)
	}
	c := injContainer(t, d)
	if want := "tinit-inject:" + ver; c.Image != want {
		t.Errorf("image %q, want %q", c.Image, want)
	}
	flags := serveFlags(t, c)
	if got := flag1(t, flags, "--tinit-image"); got != "tinit:"+ver {
		t.Errorf("--tinit-image %q, want tinit:%s", got, ver)
	}
	if got := flag1(t, flags, "--timeout"); got != "8s" {
		t.Errorf("--timeout %q, want 8s (timeoutSeconds 10 - 2)", got)
	}
	if got := flag1(t, flags, "--log-level"); got != "info" {
		t.Errorf("--log-level %q, want info", got)
	}
	checkShutdown(t, d, 5)
	for _, f := range []string{"--registry-ca", "--insecure-registry"} {
		if _, ok := flags[f]; ok {
			t.Errorf("%s given by default", f)
		}
	}
	https := containerPort(t, c, "https")
	if p := addrPort(t, flag1(t, flags, "--listen")); p != itoa(https) {
		t.Errorf("--listen port %s, container port https %d", p, https)
	}
	health := containerPort(t, c, "health")
	if p := addrPort(t, flag1(t, flags, "--health-addr")); p != itoa(health) {
		t.Errorf("--health-addr port %s, container port health %d", p, health)
	}
	for kind, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != "/healthz" || pr.HTTPGet.Port.String() != "health" {
			t.Errorf("%s probe %+v, want GET /healthz on the health port", kind, pr)
		} else if pr.HTTPGet.Scheme != "" && pr.HTTPGet.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s probe scheme %s: the health port is plain HTTP", kind, pr.HTTPGet.Scheme)
		}
	}

	// The certificate files are the Secret's, mounted read-only.
	cert, key := flag1(t, flags, "--tls-cert"), flag1(t, flags, "--tls-key")
	if filepath.Dir(cert) != filepath.Dir(key) || filepath.Base(cert) != corev1.TLSCertKey || filepath.Base(key) != corev1.TLSPrivateKeyKey {
		t.Fatalf("--tls-cert %q --tls-key %q: want tls.crt and tls.key of one mounted Secret", cert, key)
	}
	checkSecretMount(t, pod, c, filepath.Dir(cert), secret.Name)

	// The Service sends 443 to the HTTPS port, and selects these pods.
	if svc.Name != injName {
		t.Errorf("Service %q, want %q", svc.Name, injName)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not match the pods %v", svc.Spec.Selector, podLabels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != "https" {
		t.Errorf("Service ports %+v, want 443 -> https", svc.Spec.Ports)
	}

	// The PodDisruptionBudget keeps one of the two.
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.String() != "1" || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("PDB minAvailable %v maxUnavailable %v, want minAvailable 1", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
	}
	if s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || !s.Matches(podLabels) {
		t.Errorf("PDB selector %v does not match the pods (%v)", pdb.Spec.Selector, err)
	}

	// RBAC: get, and only get, on secrets and serviceaccounts, bound to the
	// ServiceAccount the pods run as.
	checkInjectRole(t, role)
	if pod.ServiceAccountName != sa.Name || pod.ServiceAccountName == "" {
		t.Errorf("pods run as %q, the chart's ServiceAccount is %q", pod.ServiceAccountName, sa.Name)
	}
	if pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken {
		t.Error("the injector's token is not mounted: it reads pull secrets through the API")
	}
	checkBinding(t, crb.RoleRef, crb.Subjects, role.Name, sa.Name)

	// Soft anti-affinity: spread over nodes, never refused on one node.
	aff := pod.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 0 ||
		len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("affinity %+v, want one preferred pod anti-affinity term", aff)
	}
	term := aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
	if s, err := metav1.LabelSelectorAsSelector(term.LabelSelector); term.TopologyKey != "kubernetes.io/hostname" || err != nil || !s.Matches(podLabels) {
		t.Errorf("anti-affinity term %+v: want the pods' labels by kubernetes.io/hostname", term)
	}
	checkRestricted(t, d)
	checkInjectorHardened(t, d)
}

// checkShutdown: the injector keeps serving delay seconds after the
// kubelet decides to stop it (a preStop sleep; none for 0), and the grace
// period covers that and the injector's own 10 s for requests in flight.
func checkShutdown(t *testing.T, d *appsv1.Deployment, delay int64) {
	t.Helper()
	c := injContainer(t, d)
	var got int64
	if l := c.Lifecycle; l != nil {
		if l.PostStart != nil || l.PreStop == nil || l.PreStop.Sleep == nil || l.PreStop.Exec != nil || l.PreStop.HTTPGet != nil {
			t.Fatalf("lifecycle %+v, want a preStop sleep only", l)
		}
		got = l.PreStop.Sleep.Seconds
	}
	if got != delay {
		t.Errorf("preStop sleep %d s, want %d", got, delay)
	}
	g := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if g == nil || *g < delay+10+5 {
		t.Errorf("terminationGracePeriodSeconds %v, want at least %d (the sleep, 10 s in flight, 5 s spare)", g, delay+15)
	}
}

// checkSecretMount: the container mounts, read-only at dir, a volume of
// the Secret secretName.
func checkSecretMount(t *testing.T, pod *corev1.PodSpec, c *corev1.Container, dir, secretName string) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("%s is mounted read-write", dir)
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name {
				if v.Secret == nil || v.Secret.SecretName != secretName {
					t.Errorf("volume %s at %s is %+v, want the Secret %s", v.Name, dir, v.VolumeSource, secretName)
				}
				return
			}
		}
		t.Fatalf("mount %s names no volume", m.Name)
	}
	t.Fatalf("nothing is mounted at %s", dir)
}

func checkInjectRole(t *testing.T, role *rbacv1.ClusterRole) {
	t.Helper()
	if len(role.Rules) != 1 {
		t.Fatalf("ClusterRole rules %+v, want one", role.Rules)
	}
	r := role.Rules[0]
	res := slices.Sorted(slices.Values(r.Resources))
	if !equal(r.APIGroups, []string{""}) || !equal(res, []string{"secrets", "serviceaccounts"}) || !equal(r.Verbs, []string{"get"}) ||
		len(r.ResourceNames) != 0 || len(r.NonResourceURLs) != 0 {
		t.Errorf("ClusterRole rule %+v, want get on core secrets and serviceaccounts", r)
	}
}

func checkBinding(t *testing.T, ref rbacv1.RoleRef, subjects []rbacv1.Subject, role, sa string) {
	t.Helper()
	if ref.Kind != "ClusterRole" || ref.Name != role || ref.APIGroup != rbacv1.GroupName {
		t.Errorf("roleRef %+v, want ClusterRole %s", ref, role)
	}
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: injNS}}
	if !reflect.DeepEqual(subjects, want) {
		t.Errorf("subjects %+v, want %+v", subjects, want)
	}
}

// checkInjectorHardened: beyond the restricted profile, the injector runs
// as 65532 on a read-only root filesystem.
func checkInjectorHardened(t errorer, d *appsv1.Deployment) {
	t.Helper()
	pod := &d.Spec.Template.Spec
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
		uid := pod.SecurityContext.RunAsUser
		if sc != nil && sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if uid == nil || *uid != 65532 {
			t.Errorf("container %s: runs as %v, want 65532", c.Name, uid)
		}
	}
}

// webhookFor finds the webhook named name.
func webhookFor(t *testing.T, mwc *admissionregistrationv1.MutatingWebhookConfiguration, name string) *admissionregistrationv1.MutatingWebhook {
	t.Helper()
	for i := range mwc.Webhooks {
		if mwc.Webhooks[i].Name == name {
			return &mwc.Webhooks[i]
		}
	}
	t.Fatalf("no webhook named %s", name)
	return nil
}

// TestInjectWebhook: both webhooks call /mutate on the Service for pods
// at CREATE, with the settings issue 21 fixes.
func TestInjectWebhook(t *testing.T) {
	o := injRender(t)
	mwc := one(t, "MutatingWebhookConfigurations", o.mwc)
	svc := one(t, "Services", o.svc)
	if len(mwc.Webhooks) != 2 {
		t.Fatalf("%d webhooks, want 2", len(mwc.Webhooks))
	}
	names := map[string]bool{}
	for _, w := range mwc.Webhooks {
		if names[w.Name] {
			t.Errorf("webhook name %s twice", w.Name)
		}
		names[w.Name] = true
		if strings.Count(w.Name, ".") < 2 {
			t.Errorf("webhook name %q is not a fully qualified name", w.Name)
		}
		checkWebhookCommon(t, &w, svc, admissionregistrationv1.Ignore, 10)
	}
	if !names["pods.inject.tinit.dev"] || !names["ns-pods.inject.tinit.dev"] {
		t.Errorf("webhooks %v, want pods.inject.tinit.dev and ns-pods.inject.tinit.dev", names)
	}

	for _, args := range [][]string{
		{"--set", "webhook.failurePolicy=Fail", "--set", "webhook.timeoutSeconds=30"},
		{"--set", "webhook.timeoutSeconds=3"},
	} {
		o := injRender(t, args...)
		mwc := one(t, "MutatingWebhookConfigurations", o.mwc)
		policy, timeout, wantTimeout := admissionregistrationv1.Ignore, int32(3), "1s"
		if args[1] == "webhook.failurePolicy=Fail" {
			policy, timeout, wantTimeout = admissionregistrationv1.Fail, 30, "28s"
		}
		for _, w := range mwc.Webhooks {
			checkWebhookCommon(t, &w, one(t, "Services", o.svc), policy, timeout)
		}
		flags := serveFlags(t, injContainer(t, one(t, "Deployments", o.deploy)))
		if got := flag1(t, flags, "--timeout"); got != wantTimeout {
			t.Errorf("%v: --timeout %q, want %q", args, got, wantTimeout)
		}
	}
}

func checkWebhookCommon(t *testing.T, w *admissionregistrationv1.MutatingWebhook, svc *corev1.Service, policy admissionregistrationv1.FailurePolicyType, timeout int32) {
	t.Helper()
	ref := w.ClientConfig.Service
	if w.ClientConfig.URL != nil || ref == nil {
		t.Fatalf("%s: clientConfig %+v, want the Service", w.Name, w.ClientConfig)
	}
	if ref.Name != svc.Name || ref.Namespace != svc.Namespace || ref.Path == nil || *ref.Path != "/mutate" || ref.Port == nil || *ref.Port != 443 {
		t.Errorf("%s: service %+v, want %s/%s:443/mutate", w.Name, ref, svc.Namespace, svc.Name)
	}
	want := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
			Scope: ptr(admissionregistrationv1.NamespacedScope),
		},
	}}
	if !reflect.DeepEqual(w.Rules, want) {
		t.Errorf("%s: rules %+v, want pods at CREATE", w.Name, w.Rules)
	}
	switch {
	case w.FailurePolicy == nil || *w.FailurePolicy != policy:
		t.Errorf("%s: failurePolicy %v, want %s", w.Name, w.FailurePolicy, policy)
	case w.TimeoutSeconds == nil || *w.TimeoutSeconds != timeout:
		t.Errorf("%s: timeoutSeconds %v, want %d", w.Name, w.TimeoutSeconds, timeout)
	case w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNone:
		t.Errorf("%s: sideEffects %v, want None", w.Name, w.SideEffects)
	case w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy:
		t.Errorf("%s: reinvocationPolicy %v, want IfNeeded", w.Name, w.ReinvocationPolicy)
	case w.MatchPolicy == nil || *w.MatchPolicy != admissionregistrationv1.Equivalent:
		t.Errorf("%s: matchPolicy %v, want Equivalent", w.Name, w.MatchPolicy)
	case !equal(w.AdmissionReviewVersions, []string{"v1"}):
		t.Errorf("%s: admissionReviewVersions %v, want [v1]", w.Name, w.AdmissionReviewVersions)
	case len(w.MatchConditions) != 0:
		t.Errorf("%s: matchConditions %v: the selectors decide", w.Name, w.MatchConditions)
	}
}

func ptr[T any](v T) *T { return &v }

// matching lists the webhooks that a pod with podLabels in the namespace
// ns (labelled nsLabels, plus the kubernetes.io/metadata.name label that
// the apiserver sets) is sent to, as the apiserver decides it from the
// selectors.
func matching(t *testing.T, mwc *admissionregistrationv1.MutatingWebhookConfiguration, ns string, nsLabels, podLabels map[string]string) []string {
	t.Helper()
	nsSet := labels.Set{"kubernetes.io/metadata.name": ns}
	for k, v := range nsLabels {
		nsSet[k] = v
	}
	var out []string
	for _, w := range mwc.Webhooks {
		nsSel, err := metav1.LabelSelectorAsSelector(w.NamespaceSelector)
		if err != nil {
			t.Fatalf("%s: namespaceSelector: %v", w.Name, err)
		}
		objSel, err := metav1.LabelSelectorAsSelector(w.ObjectSelector)
		if err != nil {
			t.Fatalf("%s: objectSelector: %v", w.Name, err)
		}
		// A nil selector is the apiserver's default, everything; an empty
		// one too. LabelSelectorAsSelector gives Nothing for nil.
		if w.NamespaceSelector == nil || w.ObjectSelector == nil {
			t.Fatalf("%s: a selector is unset", w.Name)
		}
		if nsSel.Matches(nsSet) && objSel.Matches(labels.Set(podLabels)) {
			out = append(out, w.Name)
		}
	}
	return out
}

// TestInjectSelectors: which webhook a pod reaches, for each way to opt in
// and out: at most one, so a pod is mutated once; never in the release's
// namespace or kube-system.
func TestInjectSelectors(t *testing.T) {
	const (
		podHook = "pods.inject.tinit.dev"
		nsHook  = "ns-pods.inject.tinit.dev"
	)
	in := map[string]string{"tinit.dev/inject": "true"}
	out := map[string]string{"tinit.dev/inject": "false"}
	enabled := map[string]string{"tinit.dev/inject": "enabled"}
	other := map[string]string{"app": "web"}
	cases := []struct {
		name     string
		ns       string
		nsLabels map[string]string
		pod      map[string]string
		want     string // "" for none
	}{
		{"pod opts in", "shop", nil, in, podHook},
		{"pod opts in, with other labels", "shop", other, map[string]string{"tinit.dev/inject": "true", "app": "web"}, podHook},
		{"pod opts in, namespace too: once", "shop", enabled, in, podHook},
		{"namespace opts in", "shop", enabled, nil, nsHook},
		{"namespace opts in, pod has other labels", "shop", enabled, other, nsHook},
		{"namespace opts in, pod opts out", "shop", enabled, out, ""},
		{"namespace opts in, pod label neither true nor false", "shop", enabled, map[string]string{"tinit.dev/inject": "yes"}, nsHook},
		{"nothing opts in", "shop", nil, nil, ""},
		{"pod opts out", "shop", nil, out, ""},
		{"pod label neither true nor false", "shop", nil, map[string]string{"tinit.dev/inject": "yes"}, ""},
		{"namespace label not enabled", "shop", map[string]string{"tinit.dev/inject": "true"}, nil, ""},
		{"the release's namespace, pod opts in", injNS, nil, in, ""},
		{"the release's namespace, namespace opts in", injNS, enabled, nil, ""},
		{"kube-system, pod opts in", "kube-system", nil, in, ""},
		{"kube-system, namespace opts in", "kube-system", enabled, nil, ""},
		{"an excluded namespace", "cert-manager", enabled, in, ""},
	}
	o := injRender(t, "--set", "webhook.excludeNamespaces={cert-manager}")
	mwc := one(t, "MutatingWebhookConfigurations", o.mwc)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := matching(t, mwc, tc.ns, tc.nsLabels, tc.pod)
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if !equal(got, want) {
				t.Errorf("namespace %s %v, pod %v: reaches %v, want %v", tc.ns, tc.nsLabels, tc.pod, got, want)
			}
		})
	}
	// Without excludeNamespaces, cert-manager is an ordinary namespace.
	mwc = one(t, "MutatingWebhookConfigurations", injRender(t).mwc)
	if got := matching(t, mwc, "cert-manager", nil, in); !equal(got, []string{podHook}) {
		t.Errorf("cert-manager not excluded: pod reaches %v", got)
	}
	// In another release namespace, that one is left out, and apps is not.
	objs := sortObjs(t, renderIn(t, injectChartDir(), "--namespace", "tinit-system"))
	mwc = one(t, "MutatingWebhookConfigurations", objs.mwc)
	if got := matching(t, mwc, "tinit-system", enabled, in); len(got) != 0 {
		t.Errorf("the release namespace tinit-system: pod reaches %v", got)
	}
	if got := matching(t, mwc, injNS, enabled, nil); !equal(got, []string{nsHook}) {
		t.Errorf("namespace apps with the release elsewhere: pod reaches %v", got)
	}
}

// parseCerts decodes every CERTIFICATE block of a PEM bundle, failing on
// anything else in it.
func parseCerts(t *testing.T, what string, data []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			t.Fatalf("%s: a PEM block of type %q", what, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s: %d certificates, and %d bytes that are not PEM:\n%s", what, len(certs), len(bytes.TrimSpace(rest)), data)
	}
	return certs
}

// serviceNames are the names the apiserver may use for the Service.
func serviceNames(svc, ns string) []string {
	return []string{svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"}
}

// checkServing: the serving certificate and key in secret form a pair, the
// certificate is for server auth, and it verifies against the caBundle
// for every name of the Service. It returns the CA certificates of the
// bundle.
func checkServing(t *testing.T, secret *corev1.Secret, caBundle []byte, svc *corev1.Service) []*x509.Certificate {
	t.Helper()
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %q, want %q", secret.Type, corev1.SecretTypeTLS)
	}
	if _, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey]); err != nil {
		t.Fatalf("tls.crt and tls.key: %v", err)
	}
	leaf := parseCerts(t, "tls.crt", secret.Data[corev1.TLSCertKey])
	if len(leaf) != 1 {
		t.Fatalf("tls.crt holds %d certificates, want the serving one", len(leaf))
	}
	cas := parseCerts(t, "caBundle", caBundle)
	pool := x509.NewCertPool()
	for _, ca := range cas {
		if !ca.IsCA {
			t.Errorf("caBundle: %s is not a CA", ca.Subject)
		}
		pool.AddCert(ca)
	}
	if leaf[0].IsCA {
		t.Error("the serving certificate is a CA")
	}
	for _, name := range serviceNames(svc.Name, svc.Namespace) {
		if _, err := leaf[0].Verify(x509.VerifyOptions{DNSName: name, Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("the serving certificate for %s: %v", name, err)
		}
	}
	if left := time.Until(leaf[0].NotAfter); left < 3640*24*time.Hour {
		t.Errorf("the serving certificate expires in %s, want tls.validityDays (3650 days)", left.Round(time.Hour))
	}
	return cas
}

// TestInjectTLS: the generated CA is the webhooks' caBundle and the
// Secret's ca.crt, and signs the serving certificate the pods mount, for
// the Service's names (also under another name and namespace).
func TestInjectTLS(t *testing.T) {
	for _, args := range [][]string{nil, {"--set", "fullnameOverride=injector", "--namespace", "tinit-system"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			o := sortObjs(t, renderIn(t, injectChartDir(), args...))
			secret := one(t, "Secrets", o.secret)
			svc := one(t, "Services", o.svc)
			mwc := one(t, "MutatingWebhookConfigurations", o.mwc)
			bundle := mwc.Webhooks[0].ClientConfig.CABundle
			for _, w := range mwc.Webhooks[1:] {
				if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
					t.Errorf("%s has another caBundle", w.Name)
				}
			}
			if !bytes.Equal(secret.Data["ca.crt"], bundle) {
				t.Errorf("the Secret's ca.crt is not the caBundle")
			}
			if len(mwc.Annotations) != 0 {
				t.Errorf("annotations %v without cert-manager", mwc.Annotations)
			}
			if cas := checkServing(t, secret, bundle, svc); len(cas) != 1 {
				t.Errorf("caBundle holds %d certificates, want the CA", len(cas))
			}
			c := injContainer(t, one(t, "Deployments", o.deploy))
			checkSecretMount(t, &one(t, "Deployments", o.deploy).Spec.Template.Spec, c, injTLSDir, secret.Name)
		})
	}
	// Every install makes its own CA.
	a := one(t, "Secrets", injRender(t).secret)
	b := one(t, "Secrets", injRender(t).secret)
	if bytes.Equal(a.Data["ca.crt"], b.Data["ca.crt"]) {
		t.Error("two renders made the same CA")
	}
}

// The call whose answer decides between reusing the Secret and making a
// new one. TestInjectTLSUpgrade replaces it, since helm template has no
// cluster to look in.
const lookupCall = `lookup "v1" "Secret" $ns $secretName`

// injChartWithSecret copies charts/tinit-inject to a temporary directory
// where the lookup of the TLS Secret answers secret (nil: nothing found).
func injChartWithSecret(t *testing.T, secret *corev1.Secret) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, injectChartDir(), dir, "")
	path := filepath.Join(dir, "templates", "webhook.yaml")
	tpl, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(tpl, []byte(lookupCall)) != 1 {
		t.Fatalf("templates/webhook.yaml does not call %s once", lookupCall)
	}
	js := []byte("{}")
	if secret != nil {
		if js, err = json.Marshal(secret); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "old-secret.json"), string(js))
	write(t, path, strings.Replace(string(tpl), lookupCall, `(.Files.Get "old-secret.json" | fromJson)`, 1))
	return dir
}

// TestInjectTLSUpgrade: an upgrade keeps the Secret the install made (the
// pods keep serving what the apiserver trusts); tls.rotate makes a new
// one and trusts both CAs until the next upgrade; an incomplete Secret is
// replaced.
func TestInjectTLSUpgrade(t *testing.T) {
	first := injRender(t)
	old := one(t, "Secrets", first.secret)
	oldCA := old.Data["ca.crt"]

	t.Run("nothing found: a new one", func(t *testing.T) {
		o := injRenderIn(t, injChartWithSecret(t, nil))
		if s := one(t, "Secrets", o.secret); bytes.Equal(s.Data["ca.crt"], oldCA) {
			t.Error("the CA of another install")
		}
	})

	dir := injChartWithSecret(t, old)
	t.Run("upgrade keeps it", func(t *testing.T) {
		o := injRenderIn(t, dir)
		s := one(t, "Secrets", o.secret)
		if !reflect.DeepEqual(s.Data, old.Data) {
			t.Error("an upgrade changed the Secret")
		}
		for _, w := range one(t, "MutatingWebhookConfigurations", o.mwc).Webhooks {
			if !bytes.Equal(w.ClientConfig.CABundle, oldCA) {
				t.Errorf("%s: an upgrade changed the caBundle", w.Name)
			}
		}
		checkServing(t, s, oldCA, one(t, "Services", o.svc))
	})

	t.Run("tls.rotate", func(t *testing.T) {
		o := injRenderIn(t, dir, "--set", "tls.rotate=true")
		s := one(t, "Secrets", o.secret)
		for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
			if bytes.Equal(s.Data[k], old.Data[k]) {
				t.Errorf("tls.rotate kept %s", k)
			}
		}
		mwc := one(t, "MutatingWebhookConfigurations", o.mwc)
		bundle := mwc.Webhooks[0].ClientConfig.CABundle
		cas := checkServing(t, s, bundle, one(t, "Services", o.svc))
		if len(cas) != 2 {
			t.Fatalf("caBundle during a rotation holds %d certificates, want the new CA and the old", len(cas))
		}
		newCA := parseCerts(t, "ca.crt", s.Data["ca.crt"])
		prevCA := parseCerts(t, "old ca.crt", oldCA)
		if !cas[0].Equal(newCA[0]) || !cas[1].Equal(prevCA[0]) {
			t.Error("caBundle is not the new CA and then the old one")
		}
		// The pods that still serve the old certificate are trusted.
		checkServing(t, old, bundle, one(t, "Services", o.svc))

		// The next upgrade trusts the new CA alone.
		next := injRenderIn(t, injChartWithSecret(t, s))
		nb := one(t, "MutatingWebhookConfigurations", next.mwc).Webhooks[1].ClientConfig.CABundle
		if !bytes.Equal(nb, s.Data["ca.crt"]) {
			t.Error("the upgrade after a rotation does not trust the new CA alone")
		}
	})

	t.Run("an incomplete Secret is replaced", func(t *testing.T) {
		broken := old.DeepCopy()
		delete(broken.Data, "tls.key")
		o := injRenderIn(t, injChartWithSecret(t, broken))
		s := one(t, "Secrets", o.secret)
		bundle := one(t, "MutatingWebhookConfigurations", o.mwc).Webhooks[0].ClientConfig.CABundle
		if bytes.Equal(s.Data["ca.crt"], oldCA) || len(parseCerts(t, "caBundle", bundle)) != 1 {
			t.Error("an incomplete Secret was kept, or its CA trusted")
		}
		checkServing(t, s, bundle, one(t, "Services", o.svc))
	})
}

// str reads a string field of an unstructured object, failing if it is
// not there.
func str(t *testing.T, u *unstructured.Unstructured, fields ...string) string {
	t.Helper()
	v, ok, err := unstructured.NestedString(u.Object, fields...)
	if err != nil || !ok {
		t.Fatalf("%s %s: no string at %s (%v)", u.GetKind(), u.GetName(), strings.Join(fields, "."), err)
	}
	return v
}

func findU(us []*unstructured.Unstructured, name string) *unstructured.Unstructured {
	for _, u := range us {
		if u.GetName() == name {
			return u
		}
	}
	return nil
}

// checkCMObject: a cert-manager object is in the release's namespace and
// has nothing but apiVersion, kind, metadata and spec.
func checkCMObject(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	if u.GetNamespace() != injNS {
		t.Errorf("%s %s in namespace %q", u.GetKind(), u.GetName(), u.GetNamespace())
	}
	for k := range u.Object {
		if k != "apiVersion" && k != "kind" && k != "metadata" && k != "spec" {
			t.Errorf("%s %s: top-level field %q", u.GetKind(), u.GetName(), k)
		}
	}
}

// TestInjectCertManager: with tls.certManager.enabled the chart makes no
// Secret and no caBundle: a Certificate for the Service's names fills the
// Secret the pods mount, and cert-manager's CA injector the caBundle;
// without an issuerRef, the chart's own CA chain issues it.
func TestInjectCertManager(t *testing.T) {
	o := injRender(t, "--set", "tls.certManager.enabled=true")
	if len(o.secret) != 0 {
		t.Errorf("%d Secrets rendered with cert-manager", len(o.secret))
	}
	mwc := one(t, "MutatingWebhookConfigurations", o.mwc)
	svc := one(t, "Services", o.svc)
	d := one(t, "Deployments", o.deploy)
	for _, w := range mwc.Webhooks {
		if len(w.ClientConfig.CABundle) != 0 {
			t.Errorf("%s has a caBundle: cert-manager's CA injector writes it", w.Name)
		}
		checkWebhookCommon(t, &w, svc, admissionregistrationv1.Ignore, 10)
	}
	if len(o.cmCert) != 2 || len(o.cmIssuer) != 2 {
		t.Fatalf("%d Certificates and %d Issuers, want 2 and 2 (self-signed, CA)", len(o.cmCert), len(o.cmIssuer))
	}
	for _, u := range append(append([]*unstructured.Unstructured{}, o.cmCert...), o.cmIssuer...) {
		checkCMObject(t, u)
	}
	serving := findU(o.cmCert, injName+"-tls")
	if serving == nil {
		t.Fatalf("no Certificate %s-tls", injName)
	}
	if got, want := mwc.Annotations["cert-manager.io/inject-ca-from"], injNS+"/"+serving.GetName(); got != want {
		t.Errorf("cert-manager.io/inject-ca-from %q, want %q", got, want)
	}
	checkSecretMount(t, &d.Spec.Template.Spec, injContainer(t, d), injTLSDir, str(t, serving, "spec", "secretName"))
	dns, _, err := unstructured.NestedStringSlice(serving.Object, "spec", "dnsNames")
	if err != nil || !equal(dns, serviceNames(svc.Name, svc.Namespace)) {
		t.Errorf("dnsNames %q (%v), want %q", dns, err, serviceNames(svc.Name, svc.Namespace))
	}
	if usages, _, _ := unstructured.NestedStringSlice(serving.Object, "spec", "usages"); !slices.Contains(usages, "server auth") {
		t.Errorf("usages %q lack server auth", usages)
	}
	if isCA, _, _ := unstructured.NestedBool(serving.Object, "spec", "isCA"); isCA {
		t.Error("the serving Certificate is a CA")
	}

	// The chain: serving <- CA Issuer (the CA Certificate's Secret) <- CA
	// Certificate <- self-signed Issuer.
	if str(t, serving, "spec", "issuerRef", "kind") != "Issuer" || str(t, serving, "spec", "issuerRef", "group") != "cert-manager.io" {
		t.Errorf("serving issuerRef %v", serving.Object["spec"].(map[string]any)["issuerRef"])
	}
	caIssuer := findU(o.cmIssuer, str(t, serving, "spec", "issuerRef", "name"))
	if caIssuer == nil {
		t.Fatal("the serving Certificate's Issuer is not rendered")
	}
	caCert := findU(o.cmCert, injName+"-ca")
	if caCert == nil {
		t.Fatal("no CA Certificate")
	}
	if str(t, caIssuer, "spec", "ca", "secretName") != str(t, caCert, "spec", "secretName") {
		t.Error("the CA Issuer does not sign with the CA Certificate's Secret")
	}
	if isCA, _, _ := unstructured.NestedBool(caCert.Object, "spec", "isCA"); !isCA {
		t.Error("the CA Certificate is not isCA")
	}
	selfSigned := findU(o.cmIssuer, str(t, caCert, "spec", "issuerRef", "name"))
	if selfSigned == nil || str(t, caCert, "spec", "issuerRef", "kind") != "Issuer" {
		t.Fatal("the CA Certificate's Issuer is not rendered")
	}
	if _, ok, _ := unstructured.NestedMap(selfSigned.Object, "spec", "selfSigned"); !ok {
		t.Errorf("Issuer %s is not selfSigned", selfSigned.GetName())
	}
	for _, dur := range []string{str(t, caCert, "spec", "duration")} {
		if d, err := time.ParseDuration(dur); err != nil || d != 3650*24*time.Hour {
			t.Errorf("CA duration %q (%v), want tls.validityDays", dur, err)
		}
	}
	checkRestricted(t, d)
	checkInjectorHardened(t, d)

	t.Run("issuerRef", func(t *testing.T) {
		o := injRender(t, "--set", "tls.certManager.enabled=true", "--set", "tls.certManager.issuerRef.name=corp-ca", "--set", "tls.certManager.issuerRef.kind=ClusterIssuer")
		if len(o.cmIssuer) != 0 || len(o.secret) != 0 {
			t.Errorf("with an issuerRef: %d Issuers, %d Secrets rendered, want none", len(o.cmIssuer), len(o.secret))
		}
		c := one(t, "Certificates", o.cmCert)
		if str(t, c, "spec", "issuerRef", "name") != "corp-ca" || str(t, c, "spec", "issuerRef", "kind") != "ClusterIssuer" || str(t, c, "spec", "issuerRef", "group") != "cert-manager.io" {
			t.Errorf("issuerRef %v", c.Object["spec"].(map[string]any)["issuerRef"])
		}
		if got := one(t, "MutatingWebhookConfigurations", o.mwc).Annotations["cert-manager.io/inject-ca-from"]; got != injNS+"/"+c.GetName() {
			t.Errorf("inject-ca-from %q", got)
		}
	})
}

// TestInjectValues: what each value renders.
func TestInjectValues(t *testing.T) {
	caPEM := func() string {
		s := one(t, "Secrets", injRender(t).secret)
		return string(s.Data["ca.crt"])
	}()
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)

	t.Run("registry", func(t *testing.T) {
		vals := filepath.Join(t.TempDir(), "registry.yaml")
		b, err := yaml.Marshal(map[string]any{"registry": map[string]any{"caBundle": caPEM, "insecure": []string{"registry.local:5000", "[::1]:5000", "10.0.0.1:80"}}})
		if err != nil {
			t.Fatal(err)
		}
		write(t, vals, string(b))
		o := injRender(t, "-f", vals)
		d := one(t, "Deployments", o.deploy)
		c := injContainer(t, d)
		flags := serveFlags(t, c)
		if got := flags["--insecure-registry"]; !equal(got, []string{"registry.local:5000", "[::1]:5000", "10.0.0.1:80"}) {
			t.Errorf("--insecure-registry %q", got)
		}
		cm := one(t, "ConfigMaps", o.cm)
		caFile := flag1(t, flags, "--registry-ca")
		if strings.TrimSpace(cm.Data[filepath.Base(caFile)]) != strings.TrimSpace(caPEM) {
			t.Errorf("ConfigMap %s key %s does not hold registry.caBundle", cm.Name, filepath.Base(caFile))
		}
		parseCerts(t, "the registry CA ConfigMap", []byte(cm.Data[filepath.Base(caFile)]))
		var vol string
		for _, m := range c.VolumeMounts {
			if m.MountPath == filepath.Dir(caFile) && m.ReadOnly {
				vol = m.Name
			}
		}
		var found bool
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == vol && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
				found = true
			}
		}
		if !found {
			t.Errorf("--registry-ca %s is not in a read-only mount of ConfigMap %s", caFile, cm.Name)
		}
		if d.Spec.Template.Annotations["checksum/registry-ca"] == "" {
			t.Error("no checksum/registry-ca annotation: a new CA would not restart the injector")
		}
		checkRestricted(t, d)
	})

	t.Run("images", func(t *testing.T) {
		o := injRender(t, "--set", "image.repository=registry.local/tinit-inject", "--set", "image.tag=1.2.3", "--set", "image.digest="+digest,
			"--set", "tinitImage.repository=registry.local/tinit", "--set", "tinitImage.tag=1.2.4", "--set", "image.pullPolicy=Always")
		c := injContainer(t, one(t, "Deployments", o.deploy))
		if c.Image != "registry.local/tinit-inject:1.2.3@"+digest || c.ImagePullPolicy != corev1.PullAlways {
			t.Errorf("image %q %s", c.Image, c.ImagePullPolicy)
		}
		if got := flag1(t, serveFlags(t, c), "--tinit-image"); got != "registry.local/tinit:1.2.4" {
			t.Errorf("--tinit-image %q", got)
		}
		o = injRender(t, "--set", "tinitImage.digest="+digest)
		c = injContainer(t, one(t, "Deployments", o.deploy))
		if got, want := flag1(t, serveFlags(t, c), "--tinit-image"), "tinit:"+chartAppVersion(t, injectChartDir())+"@"+digest; got != want {
			t.Errorf("--tinit-image %q, want %q", got, want)
		}
	})

	t.Run("shutdown and log level", func(t *testing.T) {
		checkShutdown(t, one(t, "Deployments", injRender(t, "--set", "shutdownDelaySeconds=0").deploy), 0)
		checkShutdown(t, one(t, "Deployments", injRender(t, "--set", "shutdownDelaySeconds=40").deploy), 40)
		// The kubelet's sleep action is there from 1.30: older clusters get
		// no preStop.
		checkShutdown(t, one(t, "Deployments", injRender(t, "--kube-version", "1.29.4").deploy), 0)
		c := injContainer(t, one(t, "Deployments", injRender(t, "--set", "logLevel=debug").deploy))
		if got := flag1(t, serveFlags(t, c), "--log-level"); got != "debug" {
			t.Errorf("--log-level %q", got)
		}
	})

	t.Run("one replica, no PDB", func(t *testing.T) {
		o := injRender(t, "--set", "replicaCount=1")
		if len(o.pdb) != 0 {
			t.Error("a PodDisruptionBudget with minAvailable 1 for a single pod blocks every drain")
		}
		if len(injRender(t, "--set", "podDisruptionBudget.enabled=false").pdb) != 0 {
			t.Error("podDisruptionBudget.enabled=false still renders one")
		}
		if p := one(t, "PDBs", injRender(t, "--set", "replicaCount=3", "--set", "podDisruptionBudget.minAvailable=2").pdb); p.Spec.MinAvailable.String() != "2" {
			t.Errorf("minAvailable %s", p.Spec.MinAvailable)
		}
	})

	t.Run("rbac.namespaces", func(t *testing.T) {
		o := injRender(t, "--set", "rbac.namespaces={shop,web,shop}")
		if len(o.crb) != 0 {
			t.Error("a ClusterRoleBinding with rbac.namespaces")
		}
		role := one(t, "ClusterRoles", o.role)
		checkInjectRole(t, role)
		var nss []string
		for _, rb := range o.rb {
			nss = append(nss, rb.Namespace)
			checkBinding(t, rb.RoleRef, rb.Subjects, role.Name, injName)
		}
		if !equal(nss, []string{"shop", "web"}) {
			t.Errorf("RoleBindings in %q, want shop and web", nss)
		}
		o = injRender(t, "--set", "rbac.create=false")
		if len(o.role)+len(o.crb)+len(o.rb) != 0 {
			t.Error("rbac.create=false renders RBAC")
		}
	})

	t.Run("serviceAccount", func(t *testing.T) {
		o := injRender(t, "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=injector")
		if len(o.sa) != 0 {
			t.Error("serviceAccount.create=false renders one")
		}
		if got := one(t, "Deployments", o.deploy).Spec.Template.Spec.ServiceAccountName; got != "injector" {
			t.Errorf("pods run as %q", got)
		}
		checkBinding(t, one(t, "ClusterRoleBindings", o.crb).RoleRef, one(t, "ClusterRoleBindings", o.crb).Subjects, injName, "injector")
		o = injRender(t, "--set", "serviceAccount.name=inj", "--set", "serviceAccount.annotations.a=b")
		if sa := one(t, "ServiceAccounts", o.sa); sa.Name != "inj" || sa.Annotations["a"] != "b" {
			t.Errorf("ServiceAccount %s %v", sa.Name, sa.Annotations)
		}
	})

	t.Run("scheduling and pod settings", func(t *testing.T) {
		vals := filepath.Join(t.TempDir(), "sched.yaml")
		write(t, vals, `affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/os, operator: In, values: [linux]}
topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: DoNotSchedule
    labelSelector: {matchLabels: {x: z}}
nodeSelector: {pool: system}
tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}]
priorityClassName: system-cluster-critical
podAnnotations: {prometheus.io/scrape: "true"}
podLabels: {team: platform}
imagePullSecrets: [{name: regcred}]
extraArgs: ["--registry-ca", "/etc/ssl/extra.pem"]
resources: {requests: {cpu: 10m}}
`)
		d := one(t, "Deployments", injRender(t, "-f", vals).deploy)
		pod := &d.Spec.Template.Spec
		if pod.Affinity.PodAntiAffinity != nil || pod.Affinity.NodeAffinity == nil {
			t.Errorf("affinity %+v: the value replaces the default", pod.Affinity)
		}
		if len(pod.TopologySpreadConstraints) != 2 {
			t.Fatalf("topologySpreadConstraints %+v", pod.TopologySpreadConstraints)
		}
		if s, err := metav1.LabelSelectorAsSelector(pod.TopologySpreadConstraints[0].LabelSelector); err != nil || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("a constraint without labelSelector does not get the pods' labels: %+v", pod.TopologySpreadConstraints[0].LabelSelector)
		}
		if got := pod.TopologySpreadConstraints[1].LabelSelector.MatchLabels; !reflect.DeepEqual(got, map[string]string{"x": "z"}) {
			t.Errorf("a constraint's own labelSelector was changed: %v", got)
		}
		if pod.NodeSelector["pool"] != "system" || len(pod.Tolerations) != 1 || pod.PriorityClassName != "system-cluster-critical" ||
			d.Spec.Template.Annotations["prometheus.io/scrape"] != "true" || d.Spec.Template.Labels["team"] != "platform" ||
			len(pod.ImagePullSecrets) != 1 || pod.ImagePullSecrets[0].Name != "regcred" {
			t.Errorf("pod settings not rendered: %+v", pod)
		}
		c := injContainer(t, d)
		if got := c.Args[len(c.Args)-2:]; !equal(got, []string{"--registry-ca", "/etc/ssl/extra.pem"}) {
			t.Errorf("extraArgs not last: %q", c.Args)
		}
		if c.Resources.Requests.Cpu().String() != "10m" || c.Resources.Limits.Memory().String() != "128Mi" {
			t.Errorf("resources %+v", c.Resources)
		}
		checkRestricted(t, d)
	})
}

// TestInjectRestricted: the injector's pod meets the restricted profile
// with every TLS choice, and a weakened one is caught.
func TestInjectRestricted(t *testing.T) {
	for _, args := range [][]string{nil, {"--set", "tls.certManager.enabled=true"}, {"--set", "registry.caBundle=" + "-----BEGIN CERTIFICATE-----"}} {
		d := one(t, "Deployments", injRender(t, args...).deploy)
		checkRestricted(t, d)
		checkInjectorHardened(t, d)
	}
	for _, set := range []string{"securityContext.allowPrivilegeEscalation=null", "securityContext.runAsNonRoot=null,podSecurityContext.runAsNonRoot=null", "securityContext.capabilities=null", "securityContext.seccompProfile=null,podSecurityContext.seccompProfile=null"} {
		d := one(t, "Deployments", injRender(t, "--set", set).deploy)
		ft := &fakeT{}
		checkRestricted(ft, d)
		if len(ft.errs) == 0 {
			t.Errorf("--set %s was accepted as restricted", set)
		}
	}
	d := one(t, "Deployments", injRender(t, "--set", "securityContext.readOnlyRootFilesystem=false").deploy)
	ft := &fakeT{}
	checkInjectorHardened(ft, d)
	if len(ft.errs) == 0 {
		t.Error("a writable root filesystem was accepted")
	}
}

// TestInjectFailures: values the chart refuses, with a message that names
// the key, and nothing printed.
func TestInjectFailures(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"timeoutSeconds 2", []string{"--set", "webhook.timeoutSeconds=2"}, "webhook.timeoutSeconds is 2, and must be at least 3"},
		{"timeoutSeconds 0", []string{"--set", "webhook.timeoutSeconds=0"}, "/webhook/timeoutSeconds"},
		{"timeoutSeconds above the apiserver's 30", []string{"--set", "webhook.timeoutSeconds=31"}, "/webhook/timeoutSeconds"},
		{"timeoutSeconds a string", []string{"--set-string", "webhook.timeoutSeconds=10"}, "/webhook/timeoutSeconds"},
		{"bad failurePolicy", []string{"--set", "webhook.failurePolicy=Retry"}, "/webhook/failurePolicy"},
		{"failurePolicy lower case", []string{"--set", "webhook.failurePolicy=ignore"}, "/webhook/failurePolicy"},
		{"unknown key", []string{"--set", "webhook.timeout=5"}, "'timeout' not allowed"},
		{"unknown top-level key", []string{"--set", "bogusKey=1"}, "bogusKey"},
		{"registry CA not PEM", []string{"--set", "registry.caBundle=junk"}, "/registry/caBundle"},
		{"insecure registry with a scheme", []string{"--set", "registry.insecure[0]=http://registry.local:5000"}, "/registry/insecure/0"},
		{"insecure registry without a port", []string{"--set", "registry.insecure[0]=registry.local"}, "/registry/insecure/0"},
		{"bad log level", []string{"--set", "logLevel=trace"}, "/logLevel"},
		{"shutdown delay negative", []string{"--set", "shutdownDelaySeconds=-1"}, "/shutdownDelaySeconds"},
		{"numeric image tag", []string{"--set", "tinitImage.tag=5"}, "/tinitImage/tag"},
		{"bad digest", []string{"--set", "image.digest=sha256:abc"}, "/image/digest"},
		{"bad excluded namespace", []string{"--set", "webhook.excludeNamespaces[0]=Kube_System"}, "/webhook/excludeNamespaces/0"},
		{"no ServiceAccount", []string{"--set", "serviceAccount.create=false"}, "serviceAccount.name is required"},
		{"issuerRef without a name", []string{"--set", "tls.certManager.enabled=true", "--set", "tls.certManager.issuerRef.kind=ClusterIssuer"}, "tls.certManager.issuerRef.name is required"},
		{"unknown issuerRef key", []string{"--set", "tls.certManager.issuerRef.namespace=x"}, "'namespace' not allowed"},
		{"Kubernetes too old", []string{"--kube-version", "1.21.0"}, "kubeVersion"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"template", injRelease, ".", "--namespace", injNS, "--kube-version", kubeVersion}, tc.args...)
			wantRenderRefused(t, injectChartDir(), args, tc.want)
		})
	}
}

// TestInjectNotes renders NOTES.txt (which helm template skips), as
// TestNotes does for charts/tinit.
func TestInjectNotes(t *testing.T) {
	dir := notesChart(t, injectChartDir(), "")
	cases := []struct {
		args []string
		want []string
	}{
		{nil, []string{"Deployment " + injName + " in namespace apps (2 replicas)", `tinit.dev/inject: "true"`, "tinit.dev/inject=enabled",
			"Pods in apps, kube-system never reach", `tinit\.dev/wrapped`, `tinit\.dev/skipped`, "failurePolicy is Ignore", "waits 10s", "gives up after 8s", "Secret " + injName + "-tls", "tls.rotate=true"}},
		{[]string{"--set", "webhook.failurePolicy=Fail", "--set", "tls.certManager.enabled=true", "--set", "webhook.excludeNamespaces={monitoring}"},
			[]string{"failurePolicy is Fail", "refused", "cert-manager", "apps, kube-system, monitoring"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			checkNotes(t, dir, append([]string{"template", injRelease, ".", "-n", injNS, "--kube-version", kubeVersion}, tc.args...), tc.want)
		})
	}
}

// TestInjectChartMeta: Chart.yaml's licence, versions, and that every key
// of values.yaml has a comment and is in the schema (which refuses any
// other).
func TestInjectChartMeta(t *testing.T) {
	dir := injectChartDir()
	var c struct {
		APIVersion  string            `json:"apiVersion"`
		Name        string            `json:"name"`
		Version     string            `json:"version"`
		AppVersion  string            `json:"appVersion"`
		KubeVersion string            `json:"kubeVersion"`
		Annotations map[string]string `json:"annotations"`
	}
	readYAML(t, filepath.Join(dir, "Chart.yaml"), &c)
	if c.APIVersion != "v2" || c.Name != "tinit-inject" || c.Version != "0.1.0" || c.AppVersion == "" || c.KubeVersion == "" {
		t.Errorf("Chart.yaml %+v", c)
	}
	if c.Annotations["artifacthub.io/license"] != "Apache-2.0" {
		t.Errorf("artifacthub.io/license %q", c.Annotations["artifacthub.io/license"])
	}
	var schema struct {
		AdditionalProperties *bool                      `json:"additionalProperties"`
		Properties           map[string]json.RawMessage `json:"properties"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	if schema.AdditionalProperties == nil || *schema.AdditionalProperties {
		t.Error("values.schema.json allows unknown top-level keys")
	}
	var values map[string]any
	readYAML(t, filepath.Join(dir, "values.yaml"), &values)
	for k := range values {
		if _, ok := schema.Properties[k]; !ok {
			t.Errorf("values.yaml key %s is not in values.schema.json", k)
		}
	}
	// Every key line of values.yaml follows a comment line (or is a
	// securityContext setting, documented as a block).
	raw, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	key := regexp.MustCompile(`^(\s*)([A-Za-z][A-Za-z0-9]*):`)
	for i, l := range lines {
		m := key.FindStringSubmatch(l)
		if m == nil || i == 0 {
			continue
		}
		prev := strings.TrimSpace(lines[i-1])
		if !strings.HasPrefix(prev, "#") && !inBlock(lines, i, "SecurityContext:", "securityContext:") {
			t.Errorf("values.yaml:%d: key %s has no comment", i+1, m[2])
		}
	}
}

// inBlock reports whether line i of lines is indented under the nearest
// less indented line, and that line ends with one of the suffixes.
func inBlock(lines []string, i int, suffixes ...string) bool {
	indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
	for j := i - 1; j >= 0; j-- {
		l := lines[j]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if in := len(l) - len(strings.TrimLeft(l, " ")); in < indent {
			if in == 0 {
				for _, s := range suffixes {
					if strings.HasSuffix(strings.TrimSpace(l), s) {
						return true
					}
				}
				return false
			}
			indent = in
		}
	}
	return false
}

// TestInjectReadme: the chart's README shows a pod that opts in, which
// decodes strictly and reaches the first webhook, and names the RBAC it
// needs and the rotation the chart supports.
func TestInjectReadme(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(injectChartDir(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, w := range []string{"get", "secrets", "serviceaccounts", "imagePullSecrets", "tls.rotate=true", "failurePolicy", "tinit.dev/inject", "cert-manager"} {
		if !strings.Contains(text, w) {
			t.Errorf("README.md lacks %q", w)
		}
	}
	var pod *corev1.Pod
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(text, -1) {
		if !strings.Contains(m[1], "kind: Pod\n") {
			continue
		}
		obj, err := decodeStrict([]byte(m[1]))
		if err != nil {
			t.Fatalf("README's Pod: %v", err)
		}
		pod = obj.(*corev1.Pod)
	}
	if pod == nil {
		t.Fatal("README.md has no Pod example")
	}
	mwc := one(t, "MutatingWebhookConfigurations", injRender(t).mwc)
	if got := matching(t, mwc, "default", nil, pod.Labels); !equal(got, []string{"pods.inject.tinit.dev"}) {
		t.Errorf("README's Pod reaches %v", got)
	}
	if len(pod.Spec.InitContainers) != 0 || len(pod.Spec.Containers) == 0 || len(pod.Spec.Containers[0].Command) != 0 {
		t.Error("README's Pod should be a plain pod, with no tinit of its own and no command")
	}
}

// freeAddr is a 127.0.0.1 address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestInjectChartRunsTheProgram: the chart and cmd/tinit-inject agree.
// The program, built from this checkout, starts with the arguments the
// chart renders (the paths of the mounted Secret and the ports moved to a
// temporary directory and free local ports), serves /healthz on the
// health address, and answers an AdmissionReview over TLS with the
// generated certificate, which a client trusting only the caBundle
// accepts under each of the Service's names. Skipped where
// cmd/tinit-inject is not in the checkout.
func TestInjectChartRunsTheProgram(t *testing.T) {
	prog := filepath.Join(filepath.Dir(filepath.Dir(chartDir)), "cmd", "tinit-inject")
	if _, err := os.Stat(filepath.Join(prog, "main.go")); err != nil {
		t.Skipf("cmd/tinit-inject is not in this checkout: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tinit-inject")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = prog
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/tinit-inject: %v\n%s", err, out)
	}

	o := injRender(t, "--set", "registry.insecure={registry.local:5000}", "--set", "logLevel=debug")
	secret := one(t, "Secrets", o.secret)
	svc := one(t, "Services", o.svc)
	bundle := one(t, "MutatingWebhookConfigurations", o.mwc).Webhooks[0].ClientConfig.CABundle
	c := injContainer(t, one(t, "Deployments", o.deploy))
	tlsDir := filepath.Join(dir, "tls")
	if err := os.Mkdir(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for k, v := range secret.Data {
		write(t, filepath.Join(tlsDir, k), string(v))
	}
	hooks, health := freeAddr(t), freeAddr(t)
	flags := serveFlags(t, c)
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		switch {
		case strings.HasPrefix(a, injTLSDir+"/"):
			a = filepath.Join(tlsDir, strings.TrimPrefix(a, injTLSDir+"/"))
		case a == flag1(t, flags, "--listen"):
			a = hooks
		case a == flag1(t, flags, "--health-addr"):
			a = health
		}
		args[i] = a
	}
	cmd := exec.Command(bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("tinit-inject after SIGTERM: %v\n%s", err, logs.String())
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("tinit-inject did not stop within 15 s of SIGTERM:\n%s", logs.String())
		}
	}()

	// The probes' endpoint, plain HTTP on the health address.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + health + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /healthz on %s: %v %v\n%s", health, resp, err, logs.String())
		}
		select {
		case err := <-done:
			t.Fatalf("tinit-inject exited: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}

	// The apiserver's side: trust the caBundle only, ask for the Service.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		t.Fatal("caBundle holds no certificate")
	}
	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"9c7e4f1a","kind":{"group":"","version":"v1","kind":"Pod"},` +
		`"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"shop","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod",` +
		`"metadata":{"name":"web","namespace":"shop","labels":{"tinit.dev/inject":"true"}},"spec":{"containers":[{"name":"web","image":"registry.local:5000/web:1","command":["/web"]}]}}}}`
	for _, name := range serviceNames(svc.Name, svc.Namespace) {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: name}}}
		resp, err := client.Post("https://"+hooks+"/mutate", "application/json", strings.NewReader(review))
		if err != nil {
			t.Errorf("POST /mutate as %s: %v", name, err)
			continue
		}
		var out struct {
			Response struct {
				UID     string `json:"uid"`
				Allowed bool   `json:"allowed"`
				Patch   []byte `json:"patch"`
			} `json:"response"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("POST /mutate as %s: %s, %v", name, resp.Status, err)
			continue
		}
		r := out.Response
		if r.UID != "9c7e4f1a" || !r.Allowed || !bytes.Contains(r.Patch, []byte(`"/tinit-bin/tinit"`)) || !bytes.Contains(r.Patch, []byte(`"`+flag1(t, flags, "--tinit-image")+`"`)) {
			t.Errorf("POST /mutate as %s: uid %q allowed %v patch %s", name, r.UID, r.Allowed, r.Patch)
		}
	}
	if !strings.Contains(logs.String(), "tinit-inject: ") {
		t.Errorf("no line marked tinit-inject: in its log:\n%s", logs.String())
	}
}
