package main

import (
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestTinyMatchesSource assembles bench/tiny/*.S and checks that the
// machine code embedded in tiny.go is theirs. Skipped without binutils.
func TestTinyMatchesSource(t *testing.T) {
	for _, tool := range []string{"as", "objcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	dir := t.TempDir()
	for name, want := range map[string]string{"crash": crashHex, "sigwait": sigwaitHex, "storm": stormHex} {
		obj, bin := filepath.Join(dir, name+".o"), filepath.Join(dir, name+".bin")
		src := filepath.Join("..", "..", "tiny", name+".S")
		if out, err := exec.Command("as", "--64", "-o", obj, src).CombinedOutput(); err != nil {
			t.Fatalf("as %s: %v\n%s", src, err, out)
		}
		if out, err := exec.Command("objcopy", "-O", "binary", "-j", ".text", obj, bin).CombinedOutput(); err != nil {
			t.Fatalf("objcopy: %v\n%s", err, out)
		}
		got, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != want {
			t.Errorf("%s: tiny.go's code is not bench/tiny/%s.S's; update it to\n%x", name, name, got)
		}
	}
}
