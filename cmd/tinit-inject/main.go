// Command tinit-inject puts tinit into any pod: a mutating admission
// webhook that adds tinit's install init container and starts each
// chosen container as /tinit-bin/tinit -- <what it would have run>, and
// a render command that shows the same on manifests.
//
//	tinit-inject serve --tinit-image REF --tls-cert FILE --tls-key FILE [FLAGS]
//	tinit-inject render -f FILE|- [FLAGS]
//	tinit-inject version
//
// What it does to a pod is package mutate's; the webhook is package
// webhook; image configs come from package images. Exit codes: 0, 1
// when serve cannot start or stops on an error, 2 for a usage error (one
// line, naming the flag) and for render input it cannot read, parse or
// does not know.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
)

// version and commit come from make's -ldflags -X, as tinit's do.
var (
	version = "dev"
	commit  = "unknown"
)

const (
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  tinit-inject serve --tinit-image REF --tls-cert FILE --tls-key FILE [FLAGS]   serve the admission webhook
  tinit-inject render -f FILE|- [FLAGS]                                         print manifests as the webhook would mutate them
  tinit-inject version                                                          print the version
tinit-inject COMMAND -h lists a command's flags.
`

// run is the whole program but the process: only main exits.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "tinit-inject: no command: want serve, render or version (tinit-inject help)")
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "render":
		return render(ctx, args[1:], stdin, stdout, stderr)
	case "version", "--version", "-version":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "tinit-inject: version: unexpected argument %q\n", args[1])
			return exitUsage
		}
		fmt.Fprintln(stdout, buildString())
		return 0
	case "help", "-h", "--help", "-help":
		io.WriteString(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tinit-inject: unknown command %q: want serve, render or version\n", args[0])
	return exitUsage
}

// buildString is the version line: "tinit-inject v0.1.0 (commit 0123abc…,
// go1.26.8, linux/amd64)", as tinit's.
func buildString() string {
	return fmt.Sprintf("tinit-inject %s (commit %s, %s, %s/%s)", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// parse reads a command's flags. A bad flag is one line naming it and
// exit 2; -h prints the flags and exit 0. ok false means return code.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "tinit-inject %s flags:\n", fs.Name())
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "tinit-inject: %s: %v\n", fs.Name(), err)
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tinit-inject: %s: unexpected argument %q (flags only)\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return 0, true
}

// usageError prints one line for a bad flag value and returns exit 2.
func usageError(stderr io.Writer, cmd, format string, a ...any) int {
	fmt.Fprintf(stderr, "tinit-inject: %s: %s\n", cmd, fmt.Sprintf(format, a...))
	return exitUsage
}
