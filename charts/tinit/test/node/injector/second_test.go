package injector

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

const (
	// secondLabel selects the pods the second webhook changes.
	secondLabel = "tinit-node-test/second-webhook"
	// addedName is the container it adds.
	addedName = "added"
)

// addedArgv is what the added container runs.
var addedArgv = []string{"sleep", "1000000"}

// addContainer is a second mutating webhook, served by the test itself
// (it runs in the node's network namespace, so the apiserver reaches it
// at the node's IP) over TLS with a CA of its own: it adds a container to
// the pods it selects. Its configuration's name sorts after
// charts/tinit-inject's, so the apiserver calls it after tinit-inject,
// and calls tinit-inject again because it changed the pod.
type addContainer struct {
	calls atomic.Int32
	// sawTinit: a pod it got had tinit's install container already.
	sawTinit atomic.Bool
	image    string
}

// startAddContainer serves the second webhook and registers it for the
// namespace's pods labelled secondLabel, until the test ends; it returns
// once the apiserver calls it.
func startAddContainer(t *testing.T, ns *nodetest.NS, image string) *addContainer {
	t.Helper()
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, cert, err := selfSigned(u.Hostname())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(u.Hostname(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	w := &addContainer{image: image}
	srv := &http.Server{Handler: w, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })

	hook := "https://" + ln.Addr().String() + "/mutate"
	cfgs := env.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		// After charts/tinit-inject's in the apiserver's order (by
		// name).
		ObjectMeta: metav1.ObjectMeta{Name: "zz-tinit-node-test-" + ns.Name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "add-container.node-test.tinit.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &hook, CABundle: caPEM},
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             ptr(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:           ptr(admissionregistrationv1.Fail),
			ReinvocationPolicy:      ptr(admissionregistrationv1.NeverReinvocationPolicy),
			TimeoutSeconds:          ptr(int32(10)),
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				"kubernetes.io/metadata.name": ns.Name,
			}},
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{secondLabel: "true"}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
					Scope: ptr(admissionregistrationv1.NamespacedScope),
				},
			}},
		}},
	}
	if _, err := cfgs.Create(ns.Ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cfgs.Delete(context.Background(), cfg.Name, metav1.DeleteOptions{}) })

	// The apiserver picks a new configuration up from its informer: wait
	// until a dry run reaches the webhook.
	probe := restrictedPod("second-probe", image, addedArgv)
	probe.Labels[secondLabel] = "true"
	nodetest.WaitFor(t, "the apiserver to call the second webhook", time.Minute, func() (bool, error) {
		p, _, err := create(ns, probe, true)
		if err != nil {
			return false, err
		}
		return container(p, addedName) != nil, nil
	})
	return w
}

func (w *addContainer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.calls.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(rw, fmt.Sprintf("not an AdmissionReview: %v", err), http.StatusBadRequest)
		return
	}
	var pod corev1.Pod
	if err := json.Unmarshal(review.Request.Object.Raw, &pod); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == "tinit-install" {
			w.sawTinit.Store(true)
		}
	}
	resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	if container(&pod, addedName) == nil {
		patch, _ := json.Marshal([]map[string]any{{
			"op": "add", "path": "/spec/containers/-",
			"value": restrictedContainer(addedName, w.image, addedArgv),
		}})
		resp.Patch = patch
		resp.PatchType = ptr(admissionv1.PatchTypeJSONPatch)
	}
	review.Response = resp
	review.Request = nil
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(&review)
}

// selfSigned makes a CA and a serving certificate for ip, signed by it,
// and returns the CA's PEM (a webhook's caBundle) and the certificate.
func selfSigned(ip string) ([]byte, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tinit node test webhook CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: ip},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), cert, nil
}
