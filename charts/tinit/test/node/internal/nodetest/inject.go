package nodetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// InjectImage is tinit-inject, the admission webhook that injects tinit
// (cmd/tinit-inject, a module of its own), built from this checkout.
const InjectImage = "tinit-inject:dev"

// InjectModuleDir is tinit-inject's module, from the repository's root.
const InjectModuleDir = "cmd/tinit-inject"

var injectBuild struct {
	once     sync.Once
	bin, tar string
	err      error
}

// BuildInject builds tinit-inject from this checkout for this machine
// (static and stripped, as make inject-build does), once per test binary, and packs it as
// InjectImage the way cmd/tinit-inject/Dockerfile does: FROM scratch, the
// binary at /tinit-inject, USER 65532, ENTRYPOINT ["/tinit-inject"], CMD
// ["serve"]. It returns the binary (for `render`) and
// the image's docker-archive tar (for Registry). Inside the node the
// module proxy is out of reach: make node-test builds it outside first,
// so that the module and build caches hold everything.
func (e *Env) BuildInject() (bin, tar string, err error) {
	injectBuild.once.Do(func() {
		injectBuild.bin, injectBuild.tar, injectBuild.err = e.buildInject()
	})
	return injectBuild.bin, injectBuild.tar, injectBuild.err
}

func (e *Env) buildInject() (string, string, error) {
	bin := filepath.Join(e.Dir, "tinit-inject")
	cmd := exec.Command(goCmd(), "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = filepath.Join(e.Root, InjectModuleDir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build %s: %v\n%s", InjectModuleDir, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", "", err
	}
	img := &Image{
		Ref:        InjectImage,
		Files:      []File{{Path: "/tinit-inject", Mode: 0o755, Data: data}},
		Entrypoint: []string{"/tinit-inject"},
		Cmd:        []string{"serve"},
		User:       fmt.Sprint(NonRoot),
	}
	tar, err := img.WriteCached(filepath.Join(CacheDir(), "images"))
	if err != nil {
		return "", "", err
	}
	return bin, tar, nil
}
