package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const modulePath = "github.com/tinit/tinit"

// Rule names, as the messages give them.
const (
	ruleWait        = "wait"
	ruleExit        = "exit"
	ruleProcessWait = "process-wait"
	ruleSignal      = "signal"
)

var ruleText = map[string]string{
	ruleWait:        "only package reaper (reaper/) may call wait4 or waitid",
	ruleExit:        "only func main of package main in cmd/tinit may exit the process",
	ruleProcessWait: "no exec.Cmd Wait/Run/Output/CombinedOutput and no os.Process Wait anywhere: reaper reaps every child",
	ruleSignal:      "only package signals (signals/) may call os/signal's Notify, NotifyContext, Ignore, Reset or Stop",
}

// banned maps an object, as objectKey names it, to its rule.
var banned = map[string]string{
	"syscall.Wait4":                             ruleWait,
	"golang.org/x/sys/unix.Wait4":               ruleWait,
	"golang.org/x/sys/unix.Waitid":              ruleWait,
	"syscall.SYS_WAIT4":                         ruleWait,
	"syscall.SYS_WAITID":                        ruleWait,
	"golang.org/x/sys/unix.SYS_WAIT4":           ruleWait,
	"golang.org/x/sys/unix.SYS_WAITID":          ruleWait,
	"os.Exit":                                   ruleExit,
	"syscall.Exit":                              ruleExit,
	"golang.org/x/sys/unix.Exit":                ruleExit,
	"log.Fatal":                                 ruleExit,
	"log.Fatalf":                                ruleExit,
	"log.Fatalln":                               ruleExit,
	"(*log.Logger).Fatal":                       ruleExit,
	"(*log.Logger).Fatalf":                      ruleExit,
	"(*log.Logger).Fatalln":                     ruleExit,
	"flag.Parse":                                ruleExit,
	"flag.ExitOnError":                          ruleExit,
	"(*os/exec.Cmd).Wait":                       ruleProcessWait,
	"(*os/exec.Cmd).Run":                        ruleProcessWait,
	"(*os/exec.Cmd).Output":                     ruleProcessWait,
	"(*os/exec.Cmd).CombinedOutput":             ruleProcessWait,
	"(*os.Process).Wait":                        ruleProcessWait,
	"os/signal.Notify":                          ruleSignal,
	"os/signal.NotifyContext":                   ruleSignal,
	"os/signal.Ignore":                          ruleSignal,
	"os/signal.Reset":                           ruleSignal,
	"os/signal.Stop":                            ruleSignal,
	"github.com/sirupsen/logrus.Exit":           ruleExit,
	"(*github.com/sirupsen/logrus.Logger).Exit": ruleExit,
}

// rawSyscalls are the functions whose first argument is a system call
// number.
var rawSyscalls = []string{"Syscall", "Syscall6", "RawSyscall", "RawSyscall6", "SyscallNoError", "RawSyscallNoError"}

// objectKey names obj: "os.Exit", "(*os/exec.Cmd).Wait", "" for what is
// not package-level or a method.
func objectKey(obj types.Object) string {
	if obj == nil || obj.Pkg() == nil {
		return ""
	}
	if f, ok := obj.(*types.Func); ok {
		return f.Origin().FullName()
	}
	if obj.Pkg().Scope().Lookup(obj.Name()) != obj {
		return ""
	}
	return obj.Pkg().Path() + "." + obj.Name()
}

// ruleOf is the rule that bans obj, or "".
func ruleOf(obj types.Object) string {
	key := objectKey(obj)
	if r, ok := banned[key]; ok {
		return r
	}
	// logrus's Fatal, Fatalf, Fatalln and FatalFn, as functions and as
	// methods of Logger, Entry and the interfaces: all end in os.Exit.
	if f, ok := obj.(*types.Func); ok && f.Pkg() != nil && f.Pkg().Path() == "github.com/sirupsen/logrus" && strings.HasPrefix(f.Name(), "Fatal") {
		return ruleExit
	}
	return ""
}

// allowed reports whether rule permits a use in package pkg of directory
// dir (slash-separated, relative to the module root) whose innermost
// enclosing function is fn (nil at package level).
func allowed(rule, dir, pkg string, fn ast.Node) bool {
	switch rule {
	case ruleWait:
		return dir == "reaper" && pkg == "reaper"
	case ruleSignal:
		return dir == "signals" && pkg == "signals"
	case ruleExit:
		d, ok := fn.(*ast.FuncDecl)
		return dir == "cmd/tinit" && pkg == "main" && ok && d.Recv == nil && d.Name.Name == "main"
	}
	return false
}

type violation struct {
	pos  token.Position // Filename relative to the module root
	what string
	rule string
}

func (v violation) String() string {
	return fmt.Sprintf("%s:%d: %s: rule %s: %s", v.pos.Filename, v.pos.Line, v.what, v.rule, ruleText[v.rule])
}

// checkPackage type-checks one package, the files of directory dir
// (relative to root, slash-separated), and returns its violations.
func checkPackage(fset *token.FileSet, root, dir string, files []*ast.File, imp types.Importer) ([]violation, error) {
	info := &types.Info{
		Uses:  map[*ast.Ident]types.Object{},
		Types: map[ast.Expr]types.TypeAndValue{},
	}
	conf := types.Config{Importer: imp, Sizes: types.SizesFor("gc", runtime.GOARCH)}
	if _, err := conf.Check(path.Join(modulePath, dir), fset, files, info); err != nil {
		return nil, fmt.Errorf("type-check %s: %w", dir, err)
	}
	var out []violation
	report := func(pos token.Pos, what, rule string) {
		p := fset.Position(pos)
		if rel, err := filepath.Rel(root, p.Filename); err == nil {
			p.Filename = filepath.ToSlash(rel)
		}
		out = append(out, violation{pos: p, what: what, rule: rule})
	}
	for _, f := range files {
		pkg := f.Name.Name
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			fn := enclosingFunc(stack)
			switch n := n.(type) {
			case *ast.Ident:
				obj := info.Uses[n]
				rule := ruleOf(obj)
				if rule == "" || allowed(rule, dir, pkg, fn) {
					return true
				}
				report(n.Pos(), describe(stack), rule)
			case *ast.CallExpr:
				if allowed(ruleWait, dir, pkg, fn) || len(n.Args) == 0 {
					return true
				}
				callee := calleeObject(info, n.Fun)
				if callee == nil || callee.Pkg() == nil || !slices.Contains(rawSyscalls, callee.Name()) {
					return true
				}
				if p := callee.Pkg().Path(); p != "syscall" && p != "golang.org/x/sys/unix" {
					return true
				}
				if ruleOf(calleeObject(info, n.Args[0])) != "" {
					return true // the number's name is reported already
				}
				call := types.ExprString(n.Fun) + "(" + types.ExprString(n.Args[0]) + ", ...)"
				tv := info.Types[n.Args[0]]
				if tv.Value == nil {
					report(n.Pos(), call+" with a system call number that is not a constant", ruleWait)
					return true
				}
				if nr, ok := constant.Int64Val(tv.Value); ok && (nr == unix.SYS_WAIT4 || nr == unix.SYS_WAITID) {
					report(n.Pos(), fmt.Sprintf("%s, system call %d", call, nr), ruleWait)
				}
			}
			return true
		})
	}
	return out, nil
}

// enclosingFunc is the innermost FuncDecl or FuncLit on stack, or nil.
func enclosingFunc(stack []ast.Node) ast.Node {
	for i := len(stack) - 1; i >= 0; i-- {
		switch stack[i].(type) {
		case *ast.FuncDecl, *ast.FuncLit:
			return stack[i]
		}
	}
	return nil
}

// describe names the use of the identifier on top of stack as the source
// writes it: "sig.Notify(...)" for a call, "cmd.Wait" for a method value.
func describe(stack []ast.Node) string {
	var expr ast.Expr = stack[len(stack)-1].(*ast.Ident)
	i := len(stack) - 2
	if i >= 0 {
		if sel, ok := stack[i].(*ast.SelectorExpr); ok && sel.Sel == expr {
			expr = sel
			i--
		}
	}
	if i >= 0 {
		if call, ok := stack[i].(*ast.CallExpr); ok && call.Fun == expr {
			return types.ExprString(expr) + "(...)"
		}
	}
	return types.ExprString(expr) + " (used as a value, not called)"
}

// calleeObject is the object fun denotes, if an identifier or selector
// names it.
func calleeObject(info *types.Info, fun ast.Expr) types.Object {
	switch fun := ast.Unparen(fun).(type) {
	case *ast.Ident:
		return info.Uses[fun]
	case *ast.SelectorExpr:
		return info.Uses[fun.Sel]
	}
	return nil
}

// moduleRoot walks up from the working directory to go.mod and checks
// that it is tinit's.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == modulePath {
					return dir
				}
			}
			t.Fatalf("%s/go.mod is not module %s", dir, modulePath)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// productFiles lists product code by directory (relative, slash-separated).
func productFiles(root string) (map[string][]string, error) {
	dirs := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p == root {
				return nil
			}
			name := d.Name()
			if rel == "bench" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".go") && !strings.HasSuffix(d.Name(), "_test.go") {
			dir := path.Dir(rel)
			dirs[dir] = append(dirs[dir], path.Base(rel))
		}
		return nil
	})
	return dirs, err
}

// listedPackage is what `go list -json` says of one package.
type listedPackage struct {
	ImportPath string
	Dir        string
	Export     string
	GoFiles    []string
}

// goList runs `go list -export -deps` on patterns, from root, for the
// linux build, and returns the packages and an importer that reads their
// export data.
func goList(t *testing.T, root string, patterns ...string) ([]listedPackage, types.Importer, *token.FileSet) {
	t.Helper()
	args := append([]string{"list", "-export", "-deps", "-json=ImportPath,Dir,Export,GoFiles"}, patterns...)
	cmd := exec.Command("go", args...) // go test puts its own go first in PATH
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []listedPackage
	exports := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
		exports[p.ImportPath] = p.Export
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(f)
	})
	return pkgs, imp, fset
}

// TestInvariants makes CI hold tinit's design invariants. It reads the
// product code, type-checks it and fails on any of these uses, naming the
// file:line, what was used and the rule:
//
//   - wait: only package reaper (directory reaper/) may wait for a child:
//     syscall.Wait4, unix.Wait4 and unix.Waitid, the SYS_WAIT4 and
//     SYS_WAITID numbers, and any Syscall/RawSyscall (and their 6 and
//     NoError forms) whose trap is SYS_WAIT4 or SYS_WAITID, or is not a
//     constant at all (then nobody can tell what it calls).
//   - exit: only func main of package main in cmd/tinit may end the
//     process: os.Exit; also syscall.Exit and unix.Exit, which are the same
//     exit without even the runtime's hooks, so a ban on os.Exit alone
//     would be walked around by them; and what calls os.Exit itself:
//     log.Fatal*, logrus's Fatal* and Exit, flag.Parse and
//     flag.ExitOnError (a flag set that exits on a bad argument).
//     runtime.Goexit is not banned: it ends one goroutine, not the process,
//     and chooses no exit code.
//   - process-wait: nothing at all (not even reaper) may call
//     exec.Cmd's Wait, Run, Output or CombinedOutput or os.Process's Wait
//     (whoever started the process, os.StartProcess, os.FindProcess or
//     exec): reaper's wait4(-1) would take their child and they would fail
//     with ECHILD, or they would take the main child's status from the
//     supervise loop. Starting is allowed; waiting is not.
//   - signal: only package signals (directory signals/) may change signal
//     dispositions through os/signal: Notify, NotifyContext (a Notify),
//     Ignore, Reset and Stop. signal.Ignored only asks, and is allowed.
//
// How: with types, not names. go/parser reads each product package and
// go/types checks it, its imports coming from the compiler's export data
// (one `go list -export -deps`, GOOS=linux CGO_ENABLED=0, the build that
// ships; about 0.2 s with a warm build cache). Every identifier is then
// resolved to the object it denotes, so import aliases (sig "os/signal"),
// dot imports, method values (f := cmd.Wait), methods promoted from an
// embedded *exec.Cmd and a shadowing local named Exit or Wait4 are all
// told apart, and a Wait on a sync.WaitGroup is not taken for a process's.
// A purely syntactic check cannot know the type of x in x.Wait(): it would
// have to ban os/exec outright or flag every Wait. go/types with the
// "source" importer would also do, but it type-checks all of net/http and
// the rest from source on every run: about 4 s here, against well under
// one second this way.
//
// What is product code: every non-_test.go file of module
// github.com/tinit/tinit, found by walking from the module root, except
// bench/ (a measuring tool: its own minimal init calls Wait4 and os.Exit
// by design, and its driver runs the inits it compares with os/exec),
// directories with a go.mod of their own (charts/tinit/test is another
// module) and what the go command ignores too (testdata, names starting
// with . or _). A product file that the linux build leaves out by its
// build constraints cannot be type-checked here, so it fails the test
// rather than go unchecked.
//
// What it cannot see: a call through an interface value
// (interface{ Wait() error } holding an *exec.Cmd), reflection, cgo,
// go:linkname, and what dependencies do inside themselves.
//
// TestInvariantsChecker feeds the checker small snippets, one that breaks
// each rule in each way above and ones that must pass, so that the checker
// itself is tested; it runs on every `go test`.
//
// Neither test uses anything else of package main: the package's other
// tests (e2e_test.go's TestMain builds a binary) only share the binary.
func TestInvariants(t *testing.T) {
	start := time.Now()
	root := moduleRoot(t)
	dirs, err := productFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for dir := range dirs {
		patterns = append(patterns, "./"+dir)
	}
	sort.Strings(patterns)
	pkgs, imp, fset := goList(t, root, patterns...)
	listed := time.Since(start)

	byDir := map[string]listedPackage{}
	for _, p := range pkgs {
		if rel, err := filepath.Rel(root, p.Dir); err == nil && dirs[filepath.ToSlash(rel)] != nil {
			byDir[filepath.ToSlash(rel)] = p
		}
	}
	var violations []string
	nfiles := 0
	for _, pattern := range patterns {
		dir := strings.TrimPrefix(pattern, "./")
		p, ok := byDir[dir]
		if !ok {
			t.Fatalf("go list did not list %s", dir)
		}
		for _, name := range dirs[dir] {
			if !slices.Contains(p.GoFiles, name) {
				violations = append(violations, fmt.Sprintf("%s/%s: left out of the linux build by its build constraints, so it cannot be checked: move it to bench/ or teach this test its build", dir, name))
			}
		}
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		nfiles += len(files)
		vs, err := checkPackage(fset, root, dir, files, imp)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			violations = append(violations, v.String())
		}
	}
	if nfiles == 0 {
		t.Fatal("no product code found")
	}
	for _, v := range violations {
		t.Error(v)
	}
	t.Logf("%d packages, %d files checked in %v (go list %v)", len(patterns), nfiles, time.Since(start).Round(time.Millisecond), listed.Round(time.Millisecond))
}

func TestInvariantsChecker(t *testing.T) {
	root := moduleRoot(t)
	// The packages the snippets import, and only them: not the product.
	_, imp, fset := goList(t, root, "os", "os/exec", "os/signal", "syscall", "sync",
		"log", "flag", "context", "golang.org/x/sys/unix", "github.com/sirupsen/logrus")

	cases := []struct {
		name string
		dir  string // where the snippet lives
		src  string // imports and declarations after the package clause
		want []string
	}{
		// wait
		{"Wait4 in init", "init", `import "golang.org/x/sys/unix"
func f() { var ws unix.WaitStatus; unix.Wait4(-1, &ws, unix.WNOHANG, nil) }`, []string{ruleWait}},
		{"syscall.Wait4 through an alias", "healthz", `import sys "syscall"
func f() { var ws sys.WaitStatus; sys.Wait4(-1, &ws, 0, nil) }`, []string{ruleWait}},
		{"Waitid through an alias", "init/proc", `import u "golang.org/x/sys/unix"
func f() { u.Waitid(u.P_ALL, 0, nil, u.WEXITED, nil) }`, []string{ruleWait}},
		{"Wait4 through a dot import", "signals", `import . "golang.org/x/sys/unix"
func f() { var ws WaitStatus; Wait4(-1, &ws, 0, nil) }`, []string{ruleWait}},
		{"Wait4 as a value", "init", `import "golang.org/x/sys/unix"
var wait = unix.Wait4`, []string{ruleWait}},
		{"raw SYS_WAIT4", "init", `import "golang.org/x/sys/unix"
func f() { unix.Syscall6(unix.SYS_WAIT4, 0, 0, 0, 0, 0, 0) }`, []string{ruleWait}},
		{"raw SYS_WAITID through syscall", "init", `import "syscall"
func f() { syscall.RawSyscall6(syscall.SYS_WAITID, 0, 0, 0, 0, 0, 0) }`, []string{ruleWait}},
		{"raw wait4 by number", "init", fmt.Sprintf(`import "golang.org/x/sys/unix"
const nr = %d
func f() { unix.Syscall(nr, 0, 0, 0) }`, unix.SYS_WAIT4), []string{ruleWait}},
		{"raw syscall, number unknown", "init", `import "golang.org/x/sys/unix"
func f(nr uintptr) { unix.RawSyscall(nr, 0, 0, 0) }`, []string{ruleWait}},
		{"Wait4 in reaper", "reaper", `package reaper
import "golang.org/x/sys/unix"
func f() { var ws unix.WaitStatus; unix.Wait4(-1, &ws, unix.WNOHANG, nil); unix.Syscall6(unix.SYS_WAITID, 0, 0, 0, 0, 0, 0) }`, nil},
		{"another raw syscall", "signals", `import "golang.org/x/sys/unix"
func f() { unix.RawSyscall6(unix.SYS_RT_SIGACTION, 0, 0, 0, 8, 0, 0) }`, nil},
		{"a local Wait4", "init", `func Wait4() {}
func f() { Wait4() }`, nil},
		{"reaper/sub is not reaper", "reaper/sub", `package reaper
import "golang.org/x/sys/unix"
func f() { var ws unix.WaitStatus; unix.Wait4(-1, &ws, 0, nil) }`, []string{ruleWait}},

		// exit
		{"os.Exit in init", "init", `import "os"
func f() { os.Exit(1) }`, []string{ruleExit}},
		{"os.Exit in main", "cmd/tinit", `package main
import "os"
func main() { os.Exit(run()) }
func run() int { return 0 }`, nil},
		{"os.Exit in run", "cmd/tinit", `package main
import "os"
func main() { run() }
func run() { os.Exit(1) }`, []string{ruleExit}},
		{"os.Exit in a closure in main", "cmd/tinit", `package main
import "os"
func main() { go func() { os.Exit(1) }() }`, []string{ruleExit}},
		{"os.Exit in a method named main", "cmd/tinit", `package main
import "os"
type t struct{}
func (t) main() { os.Exit(1) }
func main() {}`, []string{ruleExit}},
		{"os.Exit in another command's main", "cmd/other", `package main
import "os"
func main() { os.Exit(0) }`, []string{ruleExit}},
		{"os.Exit through an alias", "signals", `import o "os"
func f() { o.Exit(1) }`, []string{ruleExit}},
		{"syscall.Exit and unix.Exit", "init", `import ("syscall"; "golang.org/x/sys/unix")
func f() { syscall.Exit(1); unix.Exit(1) }`, []string{ruleExit, ruleExit}},
		{"os.Exit as a value", "healthz", `import "os"
var exit = os.Exit`, []string{ruleExit}},
		{"log.Fatal, logrus.Fatalf, Entry.Fatal", "init", `import ("log"; "github.com/sirupsen/logrus")
func f(e *logrus.Entry) { log.Fatal("x"); logrus.Fatalf("x"); e.Fatal("x") }`, []string{ruleExit, ruleExit, ruleExit}},
		{"flag.Parse and ExitOnError", "healthz", `import "flag"
func f() { flag.Parse(); flag.NewFlagSet("x", flag.ExitOnError) }`, []string{ruleExit, ruleExit}},
		{"a method named Exit", "init", `type exit struct{}
func (exit) Exit(int) {}
func f() { exit{}.Exit(1) }`, nil},
		{"logrus.Error and runtime.Goexit", "init", `import ("runtime"; "github.com/sirupsen/logrus")
func f() { logrus.Error("x"); runtime.Goexit() }`, nil},

		// process-wait
		{"exec.Cmd.Run", "init", `import "os/exec"
func f() { exec.Command("true").Run() }`, []string{ruleProcessWait}},
		{"exec.Cmd.Start then Wait", "healthz", `import "os/exec"
func f() { c := exec.Command("true"); c.Start(); c.Wait() }`, []string{ruleProcessWait}},
		{"Output and CombinedOutput through an alias", "init", `import x "os/exec"
func f() { x.Command("a").Output(); x.Command("b").CombinedOutput() }`, []string{ruleProcessWait, ruleProcessWait}},
		{"os.StartProcess then Wait", "init", `import "os"
func f() { p, _ := os.StartProcess("/bin/true", nil, &os.ProcAttr{}); p.Wait() }`, []string{ruleProcessWait}},
		{"os.FindProcess then Wait", "signals", `import "os"
func f() { p, _ := os.FindProcess(1); p.Wait() }`, []string{ruleProcessWait}},
		{"Cmd.Process.Wait", "init", `import "os/exec"
func f(c *exec.Cmd) { c.Process.Wait() }`, []string{ruleProcessWait}},
		{"Wait promoted from an embedded Cmd", "init", `import "os/exec"
type job struct{ *exec.Cmd }
func f(j job) { j.Wait() }`, []string{ruleProcessWait}},
		{"Wait as a method value", "init", `import "os/exec"
func f(c *exec.Cmd) func() error { return c.Wait }`, []string{ruleProcessWait}},
		{"Wait in reaper too", "reaper", `package reaper
import "os/exec"
func f(c *exec.Cmd) { c.Wait() }`, []string{ruleProcessWait}},
		{"WaitGroup, Cond, Start, Signal", "init", `import ("os"; "os/exec"; "sync")
func f(c *exec.Cmd, p *os.Process) { var wg sync.WaitGroup; wg.Wait(); sync.NewCond(&sync.Mutex{}).Wait(); c.Start(); p.Signal(os.Interrupt) }`, nil},

		// signal
		{"signal.Notify in init", "init", `import ("os"; "os/signal")
func f(c chan os.Signal) { signal.Notify(c, os.Interrupt) }`, []string{ruleSignal}},
		{"Ignore, Reset, Stop through an alias", "cmd/tinit", `package main
import ("os"; sig "os/signal")
func main() { c := make(chan os.Signal, 1); sig.Ignore(os.Interrupt); sig.Reset(); sig.Stop(c) }`, []string{ruleSignal, ruleSignal, ruleSignal}},
		{"NotifyContext", "healthz", `import ("context"; "os"; "os/signal")
func f() { signal.NotifyContext(context.Background(), os.Interrupt) }`, []string{ruleSignal}},
		{"Notify in signals", "signals", `package signals
import ("os"; "os/signal")
func f(c chan os.Signal) { signal.Notify(c, os.Interrupt); signal.Ignore(os.Interrupt); signal.Reset(); signal.Stop(c) }`, nil},
		{"signal.Ignored elsewhere", "init", `import ("os"; "os/signal")
func f() bool { return signal.Ignored(os.Interrupt) }`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			if !strings.HasPrefix(src, "package ") {
				src = "package " + path.Base(c.dir) + "\n" + src
			}
			file := filepath.Join(root, filepath.FromSlash(c.dir), "snippet.go")
			f, err := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := checkPackage(fset, root, c.dir, []*ast.File{f}, imp)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.rule)
				if !strings.HasPrefix(v.String(), c.dir+"/snippet.go:") || !strings.Contains(v.String(), "rule "+v.rule) {
					t.Errorf("message %q does not name the file:line and the rule", v)
				}
				t.Log(v)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("rules broken: got %q, want %q", got, c.want)
			}
		})
	}
}
