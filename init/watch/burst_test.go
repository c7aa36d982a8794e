package watch

import (
	"fmt"
	"slices"
	"testing"
)

func TestBurstListsWhatChangedOnceEachInOrder(t *testing.T) {
	lines := func(n int) []string {
		var l []string
		for i := range n {
			l = append(l, fmt.Sprintf("/d/%d: written", i))
		}
		return l
	}
	tests := []struct {
		name string
		add  []string
		want []string
	}{
		{"one line is itself", []string{"/a: written"}, []string{"/a: written"}},
		{"repeats count once, in order of first sight",
			[]string{"/b: written", "/a: created", "/b: written", "/a: created"},
			[]string{"/b: written", "/a: created"}},
		{"eight lines fit", lines(8), lines(8)},
		{"past eight the rest is a count", append(lines(10), lines(10)...), append(lines(8), "...and 2 more")},
		{"past the memory bound the count is a floor", lines(maxSeen + 5),
			append(lines(8), fmt.Sprintf("...and over %d more", maxSeen-maxWhat))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b burst
			for _, l := range tt.add {
				b.add([]byte(l))
			}
			if got := b.take().What; !slices.Equal(got, tt.want) {
				t.Errorf("What = %q, want %q", got, tt.want)
			}
			if got := b.take().What; len(got) != 0 {
				t.Errorf("after take, the next burst starts empty; got %q", got)
			}
		})
	}
}

func TestBurstRepeatsCostNoAllocation(t *testing.T) {
	var b burst
	line := []byte("/etc/app.conf: written")
	b.add(line)
	if n := testing.AllocsPerRun(1000, func() { b.add(line) }); n != 0 {
		t.Errorf("a repeated line allocates %v times, want 0", n)
	}
}
