package nodetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// TinitRepository is the repository of TinitImage and of OwnTinitImage.
const TinitRepository = "tinit"

// ownTinitTar matches the file names of OwnTinitImage's tars.
var ownTinitTar = regexp.MustCompile(`^tinit_dev-[0-9a-f]{12}-[0-9a-f]{16}\.tar$`)

var ownTinit struct {
	once sync.Once
	tag  string
	err  error
}

// OwnTinitImage imports the tinit that Main built from this checkout a
// second time, as tinit:dev-SUM (SUM: the binary's hash), and returns
// that image as a chart's tinit.image block (never pulled). tinit:dev is
// one tag on a node every checkout shares: a test run of another
// worktree imports its own tinit:dev and replaces this one's, so a test
// or a measurement that depends on this checkout's tinit names its own.
func (e *Env) OwnTinitImage() (map[string]any, error) {
	ownTinit.once.Do(func() { ownTinit.tag, ownTinit.err = e.importOwnTinit() })
	if ownTinit.err != nil {
		return nil, ownTinit.err
	}
	return map[string]any{"repository": TinitRepository, "tag": ownTinit.tag, "pullPolicy": "Never"}, nil
}

func (e *Env) importOwnTinit() (string, error) {
	bin := filepath.Join(e.Dir, "tinit") // buildImages' binary
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("this checkout's tinit, built by Main: %w", err)
	}
	sum := sha256.Sum256(data)
	tag := "dev-" + hex.EncodeToString(sum[:6])
	img, err := TinitImageFrom(bin)
	if err != nil {
		return "", err
	}
	img.Ref = TinitRepository + ":" + tag
	dir := filepath.Join(CacheDir(), "images")
	tar, err := img.WriteCached(dir)
	if err != nil {
		return "", err
	}
	// The tars of earlier builds, tinit_dev-SUM-HASH.tar, are not
	// WriteCached's to remove (their names differ): remove them here.
	old, _ := filepath.Glob(filepath.Join(dir, "tinit_dev-*-*.tar"))
	for _, o := range old {
		if o != tar && ownTinitTar.MatchString(filepath.Base(o)) {
			os.Remove(o)
		}
	}
	if err := ImportImages(tar); err != nil {
		return "", err
	}
	return tag, nil
}
