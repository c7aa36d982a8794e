package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestVersionOutput(t *testing.T) {
	b := buildInfo{Version: "v1.2.0-3-g0123abc", Commit: "0123abc4567890", Go: "go1.26.8", OS: "linux", Arch: "arm64"}
	tests := []struct {
		name   string
		asJSON bool
		want   string
	}{
		{"text is one line a person reads", false, "tinit v1.2.0-3-g0123abc (commit 0123abc4567890, go1.26.8, linux/arm64)\n"},
		{"JSON is one object on one line", true, `{"version":"v1.2.0-3-g0123abc","commit":"0123abc4567890","go":"go1.26.8","os":"linux","arch":"arm64"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printVersion(&out, b, tt.asJSON); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Fatalf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestVersionJSONRoundTrips(t *testing.T) {
	var out bytes.Buffer
	if err := printVersion(&out, thisBuild(), true); err != nil {
		t.Fatal(err)
	}
	var got buildInfo
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("decode %q: %v", out.String(), err)
	}
	if got != thisBuild() {
		t.Fatalf("decoded %+v, want %+v", got, thisBuild())
	}
}
