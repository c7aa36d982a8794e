package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

var update = flag.Bool("update", false, "rewrite the README's options table from the options table")

const (
	tableBegin = "<!-- options table: generated from cmd/tinit/options.go; go test ./cmd/tinit -run TestReadmeOptionsTable -update -->"
	tableEnd   = "<!-- end of options table -->"
)

// readmeTable is the README's flag table, made from the options table.
// .ci/deb/build.sh makes the man page from it: the header stays as it is.
func readmeTable() string {
	var b strings.Builder
	b.WriteString("| Flag | Variable | Default | Meaning |\n|---|---|---|---|\n")
	for _, o := range options {
		var flags []string
		arg := ""
		if o.value != "" {
			arg = " " + o.value
		}
		if o.short != 0 {
			flags = append(flags, "`-"+string(o.short)+arg+"`")
		}
		flags = append(flags, "`--"+o.long+arg+"`")
		vars := ""
		if o.env != "" {
			vars = "`" + o.env + "`"
		}
		var alias []string
		for _, a := range o.alias {
			alias = append(alias, "`"+a.name+"`")
		}
		if len(alias) > 0 {
			vars = strings.TrimSpace(vars + " (" + strings.Join(alias, ", ") + ")")
		}
		cells := []string{strings.Join(flags, ", "), vars, o.defaultText(true), meaning(o)}
		row := "| " + strings.Join(cells, " | ") + " |"
		for strings.Contains(row, "|  |") {
			row = strings.ReplaceAll(row, "|  |", "| |")
		}
		b.WriteString(row + "\n")
	}
	return b.String()
}

// meaning joins an option's help and what the README adds to it.
func meaning(o option) string {
	switch {
	case o.more == "":
		return o.help
	case strings.HasPrefix(o.more, "("):
		return o.help + " " + o.more
	case unicode.IsUpper(rune(o.more[0])):
		return o.help + ". " + o.more
	}
	return o.help + "; " + o.more
}

// TestReadmeOptionsTable keeps the README's flag table what the options
// table makes: -update rewrites it.
func TestReadmeOptionsTable(t *testing.T) {
	// Tests run in the package's directory, cmd/tinit.
	path := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	begin := strings.Index(readme, tableBegin+"\n")
	end := strings.Index(readme, tableEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md has no %q ... %q block", tableBegin, tableEnd)
	}
	begin += len(tableBegin) + 1
	want := "\n" + readmeTable() + "\n"
	if readme[begin:end] == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:begin]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's options table is not the options table's: run go test ./cmd/tinit -run TestReadmeOptionsTable -update\ngot:\n%s\nwant:\n%s", readme[begin:end], want)
}

// TestOptionsTable checks the rows themselves: every default is accepted
// by its own set, every option can be given, and the text fits one line.
func TestOptionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range options {
		t.Run(o.long, func(t *testing.T) {
			for _, name := range append([]string{"--" + o.long, "-" + string(o.short)}, o.variables()...) {
				if seen[name] && name != "-\x00" {
					t.Errorf("%s named twice", name)
				}
				seen[name] = true
			}
			switch {
			case o.set == nil:
				t.Error("no set")
			case o.help == "" || strings.ContainsAny(o.help+o.more, "|\n"):
				t.Errorf("help %q, more %q: want one line without |", o.help, o.more)
			case o.mode && (o.env != "" || len(o.alias) > 0):
				t.Error("a mode has a variable: a stray variable would turn tinit into something else")
			case (o.kind == value || o.kind == list) != (o.value != ""):
				t.Errorf("kind %d with value name %q", o.kind, o.value)
			case o.def != "":
				c := &conf{s: &settings{}, cl: &cmdline{values: map[string][]string{}}, checkSrc: map[string]string{}}
				c.s.ExitMap = map[int]int{}
				o.set(c, input{src: "default", vals: []string{o.def}, from: fromDefault})
				if len(c.errs) > 0 {
					t.Errorf("the default %q is refused: %v", o.def, c.errs)
				}
			}
		})
	}
}
