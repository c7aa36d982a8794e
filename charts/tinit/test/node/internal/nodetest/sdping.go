package nodetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// SDPingImage is cmd/sdping (static, at /sdping) with busybox beside it,
// as 65532: an app that sends READY=1 and a few WATCHDOG=1 to tinit, then
// hangs. Not built by Main: a test that needs it calls
// Env.ImportSDPing.
const SDPingImage = "tinit-test/sdping:dev"

// SDPingCommand is the command of SDPingImage's program.
var SDPingCommand = []string{"/sdping"}

var sdping struct {
	once sync.Once
	err  error
}

// ImportSDPing builds cmd/sdping of this module (CGO_ENABLED=0, a static
// binary), packs it into SDPingImage, imports that into the node's
// containerd and checks it is there; once per process.
func (e *Env) ImportSDPing() error {
	sdping.once.Do(func() { sdping.err = e.importSDPing() })
	return sdping.err
}

func (e *Env) importSDPing() error {
	bin := filepath.Join(e.Dir, "sdping")
	cmd := exec.Command(goCmd(), "build", "-trimpath", "-o", bin, "./cmd/sdping")
	cmd.Dir = filepath.Join(e.ChartDir, "test", "node")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/sdping: %v\n%s", err, out)
	}
	if dynamic, err := isDynamic(bin); err != nil || dynamic {
		return fmt.Errorf("%s is not a static binary (%v)", bin, err)
	}
	f, err := HostFile(bin)
	if err != nil {
		return err
	}
	f.Path = SDPingCommand[0]
	bb, err := busyboxFiles()
	if err != nil {
		return err
	}
	img := &Image{
		Ref:        SDPingImage,
		Files:      append(bb, f),
		Entrypoint: SDPingCommand,
		User:       fmt.Sprintf("%d:%d", NonRoot, NonRoot),
		// A hung sdping ends by the watchdog's SIGABRT: no goroutine dump.
		Env:        append(append([]string{}, appEnv...), "GOTRACEBACK=none"),
		WorkingDir: "/tmp",
	}
	tar, err := img.WriteCached(filepath.Join(CacheDir(), "images"))
	if err != nil {
		return err
	}
	if err := ImportImages(tar); err != nil {
		return err
	}
	out, err := exec.Command("ctr", "images", "ls", "-q").CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images ls: %v\n%s", err, out)
	}
	for _, l := range strings.Fields(string(out)) {
		if l == NormalizedRef(SDPingImage) {
			return nil
		}
	}
	return fmt.Errorf("after ctr images import, containerd lacks %s", NormalizedRef(SDPingImage))
}
