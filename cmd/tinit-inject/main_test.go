package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/tinit/tinit/cmd/tinit-inject/internal/testregistry"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func runMain(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := runMain(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "tinit-inject dev (commit unknown, go") || strings.Count(out, "\n") != 1 {
		t.Errorf("version: %d %q", code, out)
	}
	if code, out, _ := runMain(t, "", "help"); code != 0 || !strings.Contains(out, "tinit-inject render -f FILE") {
		t.Errorf("help: %d %q", code, out)
	}
	if code, out, _ := runMain(t, "", "serve", "-h"); code != 0 || !strings.Contains(out, "-tinit-image") {
		t.Errorf("serve -h: %d %q", code, out)
	}
}

func TestUsageErrorsAreOneLineNamingTheFlag(t *testing.T) {
	ok := []string{"--tinit-image", "tinit:v1", "--tls-cert", "c", "--tls-key", "k"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"version", "x"}, `unexpected argument "x"`},
		{[]string{"serve", "--bogus"}, "-bogus"},
		{[]string{"serve", "--listen"}, "-listen"},
		{[]string{"serve", "--tls-cert", "c", "--tls-key", "k"}, "--tinit-image is required"},
		{[]string{"serve", "--tinit-image", "tinit:v1"}, "--tls-cert and --tls-key are required"},
		{append([]string{"serve", "--tinit-image", "Bad Ref!"}, ok[2:]...), `--tinit-image "Bad Ref!"`},
		{append([]string{"serve", "--timeout", "30s"}, ok...), "--timeout 30s"},
		{append([]string{"serve", "--timeout", "0s"}, ok...), "--timeout 0s"},
		{append([]string{"serve", "--timeout", "soon"}, ok...), "-timeout"},
		{append([]string{"serve", "--listen", "8443"}, ok...), `--listen "8443"`},
		{append([]string{"serve", "--health-addr", ":0"}, ok...), `--health-addr ":0"`},
		{append([]string{"serve", "--insecure-registry", "registry"}, ok...), `--insecure-registry "registry"`},
		{append([]string{"serve", "--insecure-registry", "r:5000/path"}, ok...), `--insecure-registry "r:5000/path"`},
		{append([]string{"serve", "--log-level", "loud"}, ok...), `--log-level "loud"`},
		{append([]string{"serve", "--registry-ca", "/nonexistent"}, ok...), "--registry-ca"},
		{append([]string{"serve", "extra"}, ok...), `unexpected argument "extra"`},
		{[]string{"render"}, "-f is required"},
		{[]string{"render", "-f", "/nonexistent.yaml"}, "-f: open /nonexistent.yaml"},
		{[]string{"render", "-f", "-", "--ca-file", "/nonexistent"}, "--ca-file"},
		{[]string{"render", "-f", "-", "--insecure-registry", ":5000"}, "--insecure-registry"},
		{[]string{"render", "-f", "-", "--tinit-image", ""}, "--tinit-image"},
		{[]string{"render", "-f", "-", "--timeout", "-1s"}, "--timeout"},
	} {
		code, out, errOut := runMain(t, "", tc.args...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "tinit-inject: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line with %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

const manifests = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: REG/app:1}
      - {name: side, image: REG/missing:1}
`

func TestRender(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true, User: "u", Password: "p"})
	reg.Push(t, "app:1", testregistry.Image{Entrypoint: []string{"/app"}, Cmd: []string{"serve"}})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), reg.DockerConfigJSON(), 0o600)
	in := filepath.Join(dir, "in.yaml")
	os.WriteFile(in, []byte(strings.ReplaceAll(manifests, "REG", reg.Host)), 0o644)
	for _, src := range []string{in, "-"} {
		stdin := ""
		if src == "-" {
			stdin = strings.ReplaceAll(manifests, "REG", reg.Host)
		}
		code, out, errOut := runMain(t, stdin, "render", "-f", src, "--docker-config", dir, "--ca-file", reg.CAFile)
		if code != 0 {
			t.Fatalf("render -f %s: exit %d: %s", src, code, errOut)
		}
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict([]byte(out), &d); err != nil {
			t.Fatalf("output: %v\n%s", err, out)
		}
		spec := d.Spec.Template.Spec
		if strings.Join(spec.Containers[0].Command, " ") != "/tinit-bin/tinit -- /app" || spec.InitContainers[0].Image != "tinit:dev" {
			t.Errorf("rendered %+v", spec)
		}
		if !strings.Contains(errOut, "tinit-inject: render: Deployment web: container side left alone: image "+reg.Host+"/missing:1") {
			t.Errorf("stderr %q", errOut)
		}
	}
	// Without credentials the image cannot be read: both left alone, and
	// still exit 0.
	code, out, errOut := runMain(t, "", "render", "-f", in, "--docker-config", t.TempDir(), "--ca-file", reg.CAFile)
	if code != 0 || !strings.Contains(out, "tinit.dev/skipped") || strings.Count(errOut, "left alone") != 2 {
		t.Errorf("without credentials: %d %s %s", code, out, errOut)
	}
	// An unknown kind: exit 2, one line, nothing printed.
	os.WriteFile(in, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"), 0o644)
	code, out, errOut = runMain(t, "", "render", "-f", in)
	if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, `kind "Service"`) {
		t.Errorf("unknown kind: %d %q %q", code, out, errOut)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tinit-inject"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServe runs serve as the chart does, admits a pod over HTTPS and
// stops it as the kubelet would.
func TestServe(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true})
	reg.Push(t, "app:1", testregistry.Image{Entrypoint: []string{"/app"}})
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	listen, healthAddr := freePort(t), freePort(t)
	ctx, stop := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", listen, "--health-addr", healthAddr, "--tls-cert", certFile, "--tls-key", keyFile,
			"--tinit-image", "tinit:v9", "--registry-ca", reg.CAFile, "--timeout", "3s"}, nil, io.Discard, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + healthAddr + "/healthz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pod := []byte(`{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"` + reg.Host + `/app:1"}]}}`)
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: "ns", Operation: admissionv1.Create,
			Object: runtime.RawExtension{Raw: pod}},
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post("https://"+listen+"/mutate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var rev admissionv1.AdmissionReview
	json.NewDecoder(resp.Body).Decode(&rev)
	resp.Body.Close()
	if rev.Response == nil || !rev.Response.Allowed || rev.Response.UID != "u1" || !bytes.Contains(rev.Response.Patch, []byte(`"/tinit-bin/tinit","--","/app"`)) {
		t.Fatalf("answer %+v", rev.Response)
	}
	resp, err = http.Get("http://" + healthAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`tinit_inject_admissions_total{outcome="injected"} 1`, `tinit_inject_image_lookups_total{outcome="miss"} 1`, `tinit_inject_admission_seconds_count 1`} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("/metrics lacks %s:\n%s", want, m)
		}
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(line, "tinit-inject: ") {
			t.Errorf("log line without the prefix: %q", line)
		}
	}
	t.Logf("log:\n%s", stderr.String())
	if !strings.Contains(stderr.String(), "msg=admission uid=u1 pod=ns/web wrapped=app outcome=injected took=") {
		t.Errorf("no admission line:\n%s", stderr.String())
	}
}
