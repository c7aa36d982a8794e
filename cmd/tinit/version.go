package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
)

// version and commit come from one place, the build: make passes
// "-X main.version=$(git describe --tags --always --dirty)" and
// "-X main.commit=$(git rev-parse HEAD)". A build outside a checkout, or a
// plain go build or go install, keeps these values.
var (
	version = "dev"
	commit  = "unknown"
)

// buildInfo is what --version prints. The JSON names are for tooling:
// changing one breaks someone's script.
type buildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

func thisBuild() buildInfo {
	return buildInfo{Version: version, Commit: commit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

// String is the one line a person reads, e.g.
// "tinit v1.2.0 (commit 0123abc..., go1.26.8, linux/arm64)".
func (b buildInfo) String() string {
	return fmt.Sprintf("tinit %s (commit %s, %s, %s/%s)", b.Version, b.Commit, b.Go, b.OS, b.Arch)
}

// printVersion writes b as one line of text, or as one JSON object.
func printVersion(w io.Writer, b buildInfo, asJSON bool) error {
	var err error
	if asJSON {
		// Encode adds the newline: one object, one line.
		err = json.NewEncoder(w).Encode(b)
	} else {
		_, err = fmt.Fprintln(w, b)
	}
	if err != nil {
		return fmt.Errorf("print version: %w", err)
	}
	return nil
}
