package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tinit/tinit/cmd/tinit-inject/images"
	"github.com/tinit/tinit/cmd/tinit-inject/mutate"
	renderpkg "github.com/tinit/tinit/cmd/tinit-inject/render"
)

// renderTimeout bounds a whole render by default: every image lookup of
// every document.
const renderTimeout = 60 * time.Second

// dockerImages reads image configs with one keychain, the docker
// config's, whatever the pod's pull secrets.
type dockerImages struct {
	r  *images.Reader
	kc *images.Keychain
}

func (d dockerImages) Config(ctx context.Context, ref string, _ mutate.PullContext) (mutate.ImageConfig, error) {
	return d.r.Config(ctx, ref, d.kc)
}

// defaultDockerConfig is $DOCKER_CONFIG, else ~/.docker, as docker reads it.
func defaultDockerConfig() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".docker"
	}
	return filepath.Join(home, ".docker")
}

func render(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	file := fs.String("f", "", "the manifests to render: a file of YAML documents, or - for stdin (required)")
	dockerConfig := fs.String("docker-config", defaultDockerConfig(), "a directory with the config.json of docker login: registry credentials (its \"auths\")")
	caFile := fs.String("ca-file", "", "a PEM file of CA certificates to trust for registries, besides the system's")
	var insecure listFlag
	fs.Var(&insecure, "insecure-registry", "a registry HOST:PORT that may be reached over plain HTTP (repeatable)")
	tinitImage := fs.String("tinit-image", "tinit:"+version, "the tinit image the install init container runs")
	timeout := fs.Duration("timeout", renderTimeout, "the longest the whole render may take, image lookups included")
	if code, ok := parse(fs, args, stdout, stderr); !ok {
		return code
	}
	switch {
	case *file == "":
		return usageError(stderr, "render", "-f is required: a file of YAML documents, or - for stdin")
	case *timeout <= 0:
		return usageError(stderr, "render", "--timeout %v: want a duration above 0", *timeout)
	}
	if _, err := name.ParseReference(*tinitImage); err != nil {
		return usageError(stderr, "render", "--tinit-image %q: %v", *tinitImage, err)
	}
	if err := checkInsecure(insecure); err != nil {
		return usageError(stderr, "render", "%v", err)
	}
	reader, err := images.New(images.Options{CAFile: *caFile, Insecure: insecure, UserAgent: "tinit-inject/" + version})
	if err != nil {
		return usageError(stderr, "render", "--ca-file: %v", err)
	}
	kc, notes, err := images.LoadDockerConfigDir(*dockerConfig)
	if err != nil {
		return usageError(stderr, "render", "--docker-config: %v", err)
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "tinit-inject: render: %s\n", n)
	}
	in, inName := stdin, "stdin"
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return usageError(stderr, "render", "-f: %v", err)
		}
		defer f.Close()
		in, inName = f, *file
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	out, objs, err := renderpkg.Render(ctx, in, inName, renderpkg.Options{
		Settings: mutate.Settings{Image: *tinitImage, Version: version},
		Images:   dockerImages{reader, kc},
	})
	var ie *renderpkg.InputError
	if errors.As(err, &ie) {
		return usageError(stderr, "render", "%v", err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tinit-inject: render: %v\n", err)
		return exitFailure
	}
	for _, o := range objs {
		for _, s := range o.Result.Skipped {
			fmt.Fprintf(stderr, "tinit-inject: render: %s %s: container %s left alone: %s\n", o.Kind, o.Name, s.Container, s.Reason)
		}
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "tinit-inject: render: write: %v\n", err)
		return exitFailure
	}
	return 0
}
