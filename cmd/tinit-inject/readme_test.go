package main

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// TestReadmeNamesEveryFlag keeps README.md's flag tables in step with the
// flags: each flag is in its command's table, with its default.
func TestReadmeNamesEveryFlag(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	serveAt := strings.Index(readme, "## `tinit-inject serve`")
	renderAt := strings.Index(readme, "## `tinit-inject render`")
	if serveAt < 0 || renderAt < serveAt {
		t.Fatal("README.md has no serve or render section")
	}
	var f serveFlags
	check := func(section string, fs *flag.FlagSet, skipDefault map[string]bool) {
		fs.VisitAll(func(fl *flag.Flag) {
			dash := "--"
			if len(fl.Name) == 1 {
				dash = "-"
			}
			row := ""
			for _, line := range strings.Split(section, "\n") {
				if strings.HasPrefix(line, "| `"+dash+fl.Name+"`") || strings.HasPrefix(line, "| `"+dash+fl.Name+" ") {
					row = line
					break
				}
			}
			if row == "" {
				t.Errorf("%s: no row for %s%s", fs.Name(), dash, fl.Name)
				return
			}
			if !skipDefault[fl.Name] && fl.DefValue != "" && fl.DefValue != "[]" && !strings.Contains(row, "`"+fl.DefValue+"`") {
				t.Errorf("%s: the row of %s%s lacks its default `%s`: %s", fs.Name(), dash, fl.Name, fl.DefValue, row)
			}
		})
	}
	check(readme[serveAt:renderAt], serveFlagSet(&f), nil)
	// render's defaults depend on the machine (~/.docker) and the build.
	check(readme[renderAt:], renderFlagSet(&renderFlags{}), map[string]bool{"docker-config": true, "tinit-image": true, "timeout": true})
}
