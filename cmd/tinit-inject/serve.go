package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/tinit/tinit/cmd/tinit-inject/certreload"
	"github.com/tinit/tinit/cmd/tinit-inject/images"
	"github.com/tinit/tinit/cmd/tinit-inject/mutate"
	"github.com/tinit/tinit/cmd/tinit-inject/webhook"
)

// maxTimeout is the API server's own limit on a webhook's
// timeoutSeconds: a deadline of our own past it would never be reached.
const maxTimeout = 30 * time.Second

// shutdownGrace is how long requests in flight get after SIGTERM.
const shutdownGrace = 10 * time.Second

// serveFlags are serve's settings.
type serveFlags struct {
	listen, healthAddr string
	tlsCert, tlsKey    string
	tinitImage         string
	timeout            time.Duration
	registryCA         string
	insecure           listFlag
	logLevel           string
	level              slog.Level
}

func serveFlagSet(f *serveFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.listen, "listen", ":8443", "HOST:PORT to serve the webhook on (HTTPS, POST /mutate)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "the serving certificate (PEM), reloaded when the file changes (required)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "its private key (PEM), reloaded with it (required)")
	fs.StringVar(&f.healthAddr, "health-addr", ":8080", "HOST:PORT for /healthz and /metrics (plain HTTP)")
	fs.StringVar(&f.tinitImage, "tinit-image", "", "the tinit image the install init container runs, e.g. registry.example/tinit:v0.1.0 (required)")
	fs.DurationVar(&f.timeout, "timeout", webhook.DefaultTimeout, "each admission's own deadline; keep it under the webhook's timeoutSeconds (10 in the chart)")
	fs.StringVar(&f.registryCA, "registry-ca", "", "a PEM file of CA certificates to trust for registries, besides the system's")
	fs.Var(&f.insecure, "insecure-registry", "a registry HOST:PORT that may be reached over plain HTTP (repeatable)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return fs
}

// check validates the values, returning the first problem naming its flag.
func (f *serveFlags) check() error {
	switch {
	case f.tinitImage == "":
		return errors.New("--tinit-image is required: the tinit image the install init container runs")
	case f.tlsCert == "" || f.tlsKey == "":
		return errors.New("--tls-cert and --tls-key are required: the API server calls webhooks over HTTPS only")
	case f.timeout <= 0 || f.timeout >= maxTimeout:
		return fmt.Errorf("--timeout %v: want a duration above 0 and under 30s (the API server's most), below the webhook's timeoutSeconds", f.timeout)
	}
	if _, err := name.ParseReference(f.tinitImage); err != nil {
		return fmt.Errorf("--tinit-image %q: %v", f.tinitImage, err)
	}
	for flagName, v := range map[string]string{"--listen": f.listen, "--health-addr": f.healthAddr} {
		if !validAddr(v, true) {
			return fmt.Errorf("%s %q: want HOST:PORT or :PORT with a port from 1 to 65535", flagName, v)
		}
	}
	if err := checkInsecure(f.insecure); err != nil {
		return err
	}
	if err := f.level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	return nil
}

// validAddr reports whether s is HOST:PORT (or :PORT, when emptyHost)
// with a port from 1 to 65535.
func validAddr(s string, emptyHost bool) bool {
	host, port, err := net.SplitHostPort(s)
	n, errN := strconv.Atoi(port)
	return err == nil && errN == nil && n >= 1 && n <= 65535 && (emptyHost || host != "")
}

func checkInsecure(regs []string) error {
	for _, r := range regs {
		if !validAddr(r, false) || strings.Contains(r, "/") {
			return fmt.Errorf("--insecure-registry %q: want HOST:PORT, as in the image reference", r)
		}
	}
	return nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f serveFlags
	if code, ok := parse(serveFlagSet(&f), args, stdout, stderr); !ok {
		return code
	}
	if err := f.check(); err != nil {
		return usageError(stderr, "serve", "%v", err)
	}
	log := webhook.NewLogger(stderr, f.level)
	metrics := webhook.NewMetrics(version)
	reader, err := images.New(images.Options{
		CAFile:    f.registryCA,
		Insecure:  f.insecure,
		UserAgent: "tinit-inject/" + version,
		OnLookup:  func(o images.Outcome) { metrics.Lookup(string(o)) },
	})
	if err != nil {
		return usageError(stderr, "serve", "--registry-ca: %v", err)
	}
	certs, err := certreload.New(f.tlsCert, f.tlsKey, log)
	if err != nil {
		log.Error("cannot start", "error", err.Error())
		return exitFailure
	}
	cluster, err := inCluster()
	if err != nil {
		// Outside a cluster (a test, a laptop): lookups go without the
		// pods' pull secrets.
		log.Warn("not in a cluster: image lookups are anonymous", "error", err.Error())
		cluster = nil
	}
	h := webhook.New(webhook.Config{
		Settings: mutate.Settings{Image: f.tinitImage, Version: version},
		Images:   reader,
		Cluster:  cluster,
		Timeout:  f.timeout,
		Log:      log,
		Metrics:  metrics,
	})
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	hooks := &http.Server{
		Handler:           webhook.Mux(h),
		TLSConfig:         &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      f.timeout + 5*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errLog,
	}
	health := &http.Server{
		Handler:           webhook.HealthMux(metrics),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      10 * time.Second,
		ErrorLog:          errLog,
	}
	hl, err := net.Listen("tcp", f.listen)
	if err != nil {
		log.Error("cannot start", "error", err.Error())
		return exitFailure
	}
	ml, err := net.Listen("tcp", f.healthAddr)
	if err != nil {
		hl.Close()
		log.Error("cannot start", "error", err.Error())
		return exitFailure
	}
	errs := make(chan error, 2)
	go func() { errs <- hooks.ServeTLS(hl, "", "") }()
	go func() { errs <- health.Serve(ml) }()
	log.Info("serving", "version", version, "webhook", hl.Addr().String(), "health", ml.Addr().String(), "tinitImage", f.tinitImage, "timeout", f.timeout.String())

	code := 0
	select {
	case <-ctx.Done():
		log.Info("stopping: requests in flight get " + shutdownGrace.String())
	case err := <-errs:
		log.Error("server stopped", "error", err.Error())
		code = exitFailure
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := errors.Join(hooks.Shutdown(sctx), health.Shutdown(sctx)); err != nil {
		log.Warn("shutdown", "error", err.Error())
	}
	return code
}

// kubeCluster reads service accounts and secrets through client-go.
type kubeCluster struct{ c corev1client.CoreV1Interface }

func (k kubeCluster) ServiceAccount(ctx context.Context, ns, n string) (*corev1.ServiceAccount, error) {
	return k.c.ServiceAccounts(ns).Get(ctx, n, metav1.GetOptions{})
}

func (k kubeCluster) Secret(ctx context.Context, ns, n string) (*corev1.Secret, error) {
	return k.c.Secrets(ns).Get(ctx, n, metav1.GetOptions{})
}

// inCluster is the cluster of the pod this runs in, through its service
// account's token (RBAC: get on secrets and serviceaccounts).
func inCluster() (webhook.Cluster, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster config: %w", err)
	}
	cfg.UserAgent = "tinit-inject/" + version
	// Reads come in bursts of pod creations; the admission's deadline
	// bounds each.
	cfg.QPS, cfg.Burst = 50, 100
	c, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for the API server: %w", err)
	}
	return kubeCluster{c}, nil
}
