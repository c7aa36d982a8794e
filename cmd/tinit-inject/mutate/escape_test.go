package mutate

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// expand is the kubelet's expansion of $(VAR) in command and args
// (k8s.io/kubernetes third_party/forked/golang/expansion, copied): "$$"
// is an escaped "$", "$(NAME)" a reference, anything else literal, except
// that the byte after a lone "$" is copied as a rune (string(byte)).
func expand(input string, mapping func(string) string) string {
	var buf bytes.Buffer
	checkpoint := 0
	for cursor := 0; cursor < len(input); cursor++ {
		if input[cursor] == '$' && cursor+1 < len(input) {
			buf.WriteString(input[checkpoint:cursor])
			read, isVar, advance := tryReadVariableName(input[cursor+1:])
			if isVar {
				buf.WriteString(mapping(read))
			} else {
				buf.WriteString(read)
			}
			cursor += advance
			checkpoint = cursor + 1
		}
	}
	return buf.String() + input[checkpoint:]
}

func tryReadVariableName(input string) (string, bool, int) {
	switch input[0] {
	case '$':
		return input[0:1], false, 1
	case '(':
		for i := 1; i < len(input); i++ {
			if input[i] == ')' {
				return input[1:i], true, i + 1
			}
		}
		return "$(", false, 1
	default:
		return "$" + string(input[0]), false, 1
	}
}

// Every variable is defined: an unescaped reference shows.
func defined(string) string { return "EXPANDED" }

func TestEscapeSurvivesTheKubeletsExpansion(t *testing.T) {
	for _, s := range []string{
		"", "plain", "$", "$$", "$$$", "$(", "$(X)", "$$(X)", "a$(b)c$$d$", "echo $(date) $$ $HOME", "$((1+2))", "$)", "(", "x$", "$é", "$$é",
	} {
		if got := expand(escape([]string{s})[0], defined); got != s {
			t.Errorf("%q escaped as %q expands to %q", s, escape([]string{s})[0], got)
		}
	}
	if got := expand("$(X)", defined); got != "EXPANDED" {
		t.Fatalf("the copied expansion does not expand: %q", got)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"$(X)", "$$", "a$b$(c$$d)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("the API's strings are UTF-8")
		}
		if got := expand(escape([]string{s})[0], defined); got != s {
			t.Errorf("%q escaped as %q expands to %q", s, escape([]string{s})[0], got)
		}
	})
}
