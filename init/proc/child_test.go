package proc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe := write("app", 0o755)
	noexec := write("data", 0o644)
	env := []string{"PATH=/nonexistent:" + dir}
	tests := []struct {
		name, program string
		want          string
		code          int
	}{
		{"a bare name is found in PATH", "app", exe, 0},
		{"a path is used as is", exe, exe, 0},
		{"a missing bare name is 127", "nope-not-here", "", CodeNotFound},
		{"a missing path is 127", dir + "/nope", "", CodeNotFound},
		{"a file without x bit is 126", noexec, "", CodeNotExecutable},
		{"a bare name without x bit is 126", "data", "", CodeNotExecutable},
		{"a directory is 126", dir, "", CodeNotExecutable},
		{"an empty name is 127", "", "", CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.program, env, "")
			if tt.code == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("lookPath(%q) = %q, %v; want %q", tt.program, got, err, tt.want)
				}
				return
			}
			var se *StartError
			if !errors.As(err, &se) || se.Code != tt.code {
				t.Fatalf("lookPath(%q) = %q, %v; want a StartError with code %d", tt.program, got, err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.program) {
				t.Errorf("error %q does not name the program", err)
			}
		})
	}
}
