package main_test

// End-to-end tests of a release: the binaries, SHA256SUMS and .debs that
// make release writes, each foreign binary run as PID 1 under qemu-user,
// and the .deb checked by lintian, installed with dpkg and removed with apt.
// One make release per test run serves them all. A cold cross-build of
// all seven architectures takes about 5 minutes here, so by default the
// tests build and check three (amd64, arm64, riscv64: the host, the one
// most Kubernetes nodes that are not amd64 run, and one more under qemu);
// -release-arches all checks every one.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// releaseArches are make release's architectures: GOARCH, Debian's name,
// the ELF machine, and the qemu-user that runs the binary here.
type releaseArch struct {
	goarch, debArch string
	machine         elf.Machine
	class           elf.Class
	qemu            string
	notRun          string // why it is built and checked but not run
}

var releaseArches = []releaseArch{
	{"amd64", "amd64", elf.EM_X86_64, elf.ELFCLASS64, "qemu-x86_64-static", ""},
	{"arm64", "arm64", elf.EM_AARCH64, elf.ELFCLASS64, "qemu-aarch64-static", ""},
	{"arm", "armhf", elf.EM_ARM, elf.ELFCLASS32, "qemu-arm-static", ""},
	{"386", "i386", elf.EM_386, elf.ELFCLASS32, "qemu-i386-static",
		"Debian's qemu-i386-static (7.2) crashes every Go 386 binary in the runtime as its second thread starts, and CI kernels may lack IA32 emulation"},
	{"ppc64le", "ppc64el", elf.EM_PPC64, elf.ELFCLASS64, "qemu-ppc64le-static", ""},
	{"s390x", "s390x", elf.EM_S390, elf.ELFCLASS64, "qemu-s390x-static", ""},
	{"riscv64", "riscv64", elf.EM_RISCV, elf.ELFCLASS64, "qemu-riscv64-static", ""},
}

var releaseArchFlag = flag.String("release-arches", "amd64 arm64 riscv64", `release architectures (GOARCH) the release tests build and check, or "all"`)

// archesUnderTest are the entries of releaseArches that -release-arches
// picks.
func archesUnderTest(t *testing.T) []releaseArch {
	t.Helper()
	if *releaseArchFlag == "all" {
		return releaseArches
	}
	var out []releaseArch
	for _, name := range strings.Fields(*releaseArchFlag) {
		i := slices.IndexFunc(releaseArches, func(a releaseArch) bool { return a.goarch == name })
		if i < 0 {
			t.Fatalf("-release-arches %q: %q is not a release architecture", *releaseArchFlag, name)
		}
		out = append(out, releaseArches[i])
	}
	return out
}

// archesVar is the make variable that limits a release to the arches under
// test.
func archesVar(t *testing.T) string {
	t.Helper()
	var names []string
	for _, a := range archesUnderTest(t) {
		names = append(names, a.goarch)
	}
	return "ARCHES=" + strings.Join(names, " ")
}

// release is this test run's one make release.
var release struct {
	once sync.Once
	dist string
	err  error
}

// releaseDist runs make release once per test run, into a directory of its
// own (a developer's dist/ is left alone), and returns that directory.
func releaseDist(t *testing.T) string {
	t.Helper()
	needTools(t, "make", "git", "dpkg-deb", "sha256sum", "gzip")
	release.once.Do(func() {
		release.dist = filepath.Join(e2eDir, "dist")
		start := time.Now()
		release.err = makeRelease(repoRoot(t), release.dist, archesVar(t))
		t.Logf("make release: %v", time.Since(start).Round(time.Second))
	})
	if release.err != nil {
		t.Fatal(release.err)
	}
	return release.dist
}

// makeRelease runs make release in dir, writing to dist, with extra make
// variables.
func makeRelease(dir, dist string, vars ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"-C", dir, "release", "DIST=" + dist}, vars...)...)
	// The release under test is the one a user gets from a plain make
	// release: not one shaped by an outer make test's flags (MAKEFLAGS
	// carries its command-line variables down) or by variables that
	// happen to be in the environment.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VERSION", "COMMIT", "SOURCE_DATE_EPOCH", "DIST"}, k)
	})
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("make release in %s: %v\n%s", dir, err, out)
	}
	return nil
}

func repoRoot(t *testing.T) string {
	t.Helper()
	// Tests run in the package's directory, cmd/tinit.
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// needTools stops the test when a command it runs is missing.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			unavailable(t, fmt.Sprintf("%s is not installed (.ci/run installs it)", name))
		}
	}
}

// output runs a command, bounded in time, and returns its stdout; a failure
// fails the test with the command's stderr.
func output(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

func git(t *testing.T, args ...string) string {
	t.Helper()
	return strings.TrimSpace(output(t, repoRoot(t), "git", args...))
}

// versionInfo is tinit --version --json.
type versionInfo struct {
	Version, Commit, Go, OS, Arch string
}

func versionOf(t *testing.T, argv ...string) versionInfo {
	t.Helper()
	out := output(t, "", argv[0], append(argv[1:], "--version", "--json")...)
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v --version --json: %q: %v", argv, out, err)
	}
	return v
}

func TestReleaseVersionComesFromGit(t *testing.T) {
	dist := releaseDist(t)
	got := versionOf(t, filepath.Join(dist, "tinit-linux-"+runtime.GOARCH))
	want := versionInfo{
		Version: git(t, "describe", "--tags", "--always", "--dirty"),
		Commit:  git(t, "rev-parse", "HEAD"),
		Go:      runtime.Version(),
		OS:      "linux",
		Arch:    runtime.GOARCH,
	}
	if got != want {
		t.Fatalf("--version --json says %+v, want %+v", got, want)
	}
}

func TestReleaseIsReproducible(t *testing.T) {
	dist := releaseDist(t)
	// The second build: a copy of the source (not a git checkout) in
	// another directory, given the version, commit and date the first one
	// took from git. It shares the build cache: with -trimpath nothing of
	// the directory goes into the cache keys or the binaries, so what this
	// catches is every input of ours (paths, VCS stamps, clocks, file
	// order); the Go toolchain's own determinism is the Go project's test.
	v := versionOf(t, filepath.Join(dist, "tinit-linux-"+runtime.GOARCH))
	src := copySource(t)
	other := filepath.Join(t.TempDir(), "dist")
	if err := makeRelease(src, other, archesVar(t), "VERSION="+v.Version, "COMMIT="+v.Commit, "SOURCE_DATE_EPOCH="+git(t, "log", "-1", "--format=%ct")); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(filepath.Join(other, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("SHA256SUMS differ between the checkout and a copy in %s:\n--- checkout\n%s--- copy\n%s", src, first, second)
	}

	// Every binary and every .deb is listed, and the sums hold, checked
	// the way the README tells users to.
	lines := strings.Split(strings.TrimSpace(string(first)), "\n")
	if len(lines) != 2*len(archesUnderTest(t))+3 {
		t.Errorf("SHA256SUMS has %d lines, want a binary and a .deb for each of %d architectures, and the three charts:\n%s", len(lines), len(archesUnderTest(t)), first)
	}
	for _, c := range []string{"  tinit-lib-", "  tinit-0", "  tinit-inject-0"} {
		if !strings.Contains(string(first), c) {
			t.Errorf("SHA256SUMS lacks the chart %s*.tgz", strings.TrimSpace(c))
		}
	}
	for _, a := range archesUnderTest(t) {
		if !strings.Contains(string(first), "  tinit-linux-"+a.goarch+"\n") || !strings.Contains(string(first), "_"+a.debArch+".deb\n") {
			t.Errorf("SHA256SUMS lacks tinit-linux-%s or its .deb (%s)", a.goarch, a.debArch)
		}
	}
	output(t, dist, "sha256sum", "--check", "--strict", "SHA256SUMS")
}

// copySource copies the files git would commit (tracked, and new ones not
// ignored) into a new directory: the source as it is now, without .git,
// bin/ or dist/.
func copySource(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	dst := filepath.Join(t.TempDir(), "src")
	for _, rel := range strings.Split(output(t, root, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"), "\x00") {
		if rel == "" {
			continue
		}
		from := filepath.Join(root, rel)
		fi, err := os.Lstat(from)
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(from)
			if err == nil {
				err = os.Symlink(target, to)
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestReleaseBinariesAreStaticAndStripped(t *testing.T) {
	dist := releaseDist(t)
	root := repoRoot(t)
	for _, a := range archesUnderTest(t) {
		t.Run(a.goarch, func(t *testing.T) {
			path := filepath.Join(dist, "tinit-linux-"+a.goarch)
			f, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != a.machine || f.Class != a.class {
				t.Errorf("ELF %v %v, want %v %v", f.Machine, f.Class, a.machine, a.class)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("has a program interpreter: not static")
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("needs %v: not static", libs)
			}
			for _, s := range f.Sections {
				if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
					t.Errorf("has section %s: not stripped", s.Name)
				}
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// -trimpath: no path of this machine goes in.
			if bytes.Contains(data, []byte(root)) {
				t.Errorf("contains the build directory %s", root)
			}
			bi, err := buildinfo.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
				t.Errorf("built with CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
			}
			// -buildvcs=false: the commit comes in through -X only, so a
			// copy outside a checkout builds the same bytes.
			for k := range settings {
				if strings.HasPrefix(k, "vcs") {
					t.Errorf("carries VCS stamp %s=%s", k, settings[k])
				}
			}
			if a.goarch == "arm" && settings["GOARM"] != "7" {
				t.Errorf("GOARM=%q, want 7 (Debian's armhf)", settings["GOARM"])
			}
			t.Logf("%d bytes (%.2f MiB)", len(data), float64(len(data))/(1<<20))
		})
	}
}

// orphanScript runs as PID 1's child: it makes 8 orphans that exit at once
// and one that keeps running, waits, counts the zombies in the namespace
// (the same script with a PID 1 that never reaps counts 8), and exits 3
// with the runner still alive, which tinit must end.
const orphanScript = `for i in 1 2 3 4 5 6 7 8; do (sleep 0.1 &); done
(sleep 30 &)
sleep 1
z=0
for f in /proc/[0-9]*/stat; do
	read -r s <"$f" 2>/dev/null || continue
	st=${s##*) }
	case $st in Z*) z=$((z + 1)) ;; esac
done
echo zombies=$z
exit 3`

// leftoverDeadline: tinit ends what is left with SIGTERM when the main
// child exits and reaps it at once; hitting the 8 s grace would mean the
// drain failed.
const leftoverDeadline = 5 * time.Second

func TestQemuRunsEachReleaseBinary(t *testing.T) {
	dist := releaseDist(t)
	for _, a := range archesUnderTest(t) {
		if a.notRun != "" {
			t.Logf("%s: built and checked, not run: %s", a.goarch, a.notRun)
			continue
		}
		t.Run(a.goarch, func(t *testing.T) {
			bin := filepath.Join(dist, "tinit-linux-"+a.goarch)
			argv := []string{bin}
			if a.goarch != runtime.GOARCH {
				needTools(t, a.qemu)
				argv = []string{a.qemu, bin}
			}
			asInit := func(args ...string) []string {
				return slices.Concat(asPID1, argv, []string{"--"}, args)
			}

			t.Run("--version names the architecture", func(t *testing.T) {
				line := strings.TrimSpace(output(t, "", argv[0], append(argv[1:], "--version")...))
				want := regexp.MustCompile(`^tinit \S+ \(commit [0-9a-f]{40}, go1\.\S+, linux/` + regexp.QuoteMeta(a.goarch) + `\)$`)
				if !want.MatchString(line) {
					t.Fatalf("--version: %q, want %v", line, want)
				}
				if v := versionOf(t, argv...); v.Arch != a.goarch {
					t.Fatalf("--version --json: arch %q, want %q", v.Arch, a.goarch)
				}
			})

			requireNamespace(t)
			for _, tt := range []struct {
				name string
				argv []string
				want int
			}{
				{"exit 0 is 0", []string{"/bin/true"}, 0},
				{"exit 3 is 3", []string{"/bin/sh", "-c", "exit 3"}, 3},
				{"a child killed by its own SIGTERM is 143", []string{"/bin/sh", "-c", "kill -TERM $$"}, 143},
			} {
				t.Run(tt.name, func(t *testing.T) {
					r := startWrapped(t, nil, asInit(tt.argv...), nil)
					if got := r.exitCode(30 * time.Second); got != tt.want {
						t.Fatalf("exit %d, want %d; stderr: %s", got, tt.want, r.stderr)
					}
				})
			}

			t.Run("orphans are reaped and a leftover ended at exit", func(t *testing.T) {
				r := startWrapped(t, nil, asInit("/bin/sh", "-c", orphanScript), nil)
				if got := r.line(30 * time.Second); got != "zombies=0" {
					t.Fatalf("child saw %q, want zombies=0; stderr: %s", got, r.stderr)
				}
				start := time.Now()
				if got := r.exitCode(30 * time.Second); got != 3 {
					t.Fatalf("exit %d, want the child's 3; stderr: %s", got, r.stderr)
				}
				if took := time.Since(start); took > leftoverDeadline {
					t.Fatalf("tinit took %v to exit after its child, want under %v: the leftover was not ended", took, leftoverDeadline)
				}
			})
		})
	}
}

// debVersion is .ci/deb/build.sh's Debian version for git describe's v.
func debVersion(t *testing.T, v string) string {
	t.Helper()
	script := filepath.Join(repoRoot(t), ".ci", "deb", "build.sh")
	return strings.TrimSpace(output(t, "", "bash", "-c", `source "$1" && deb_version "$2"`, "bash", script, v))
}

func TestDebVersionFromGitDescribe(t *testing.T) {
	needTools(t, "bash", "dpkg")
	tests := []struct {
		name, describe, want string
	}{
		{"a tag loses its v", "v1.2.0", "1.2.0"},
		{"a tag without v", "1.2.0", "1.2.0"},
		{"commits past a tag sort after it", "v1.2.0-3-g0123abc", "1.2.0+3.g0123abc"},
		{"a dirty tree past a tag", "v1.2.0-3-g0123abc-dirty", "1.2.0+3.g0123abc.dirty"},
		{"a dirty tree on a tag", "v1.2.0-dirty", "1.2.0+dirty"},
		{"a pre-release sorts before its release", "v1.2.0-rc1", "1.2.0~rc1"},
		{"commits past a pre-release", "v1.2.0-rc1-2-gabcdef0", "1.2.0~rc1+2.gabcdef0"},
		{"no tag yet: only a hash", "d6f5b14", "0.0.0~gitd6f5b14"},
		{"a hash that starts with a digit", "0123abc", "0.0.0~git0123abc"},
		{"a hash and a dirty tree", "d6f5b14-dirty", "0.0.0~gitd6f5b14+dirty"},
		{"outside a checkout", "dev", "0.0.0~dev"},
		{"characters Debian forbids", "release_1", "0.0.0~release.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := debVersion(t, tt.describe)
			if got != tt.want {
				t.Fatalf("deb_version %q = %q, want %q", tt.describe, got, tt.want)
			}
			output(t, "", "dpkg", "--validate-version", got)
		})
	}

	// Upgrades go the way releases do.
	order := []string{"0.0.0~gitd6f5b14", "1.2.0~rc1", "1.2.0~rc1+2.gabcdef0", "1.2.0", "1.2.0+3.g0123abc", "1.2.1"}
	for i := 1; i < len(order); i++ {
		output(t, "", "dpkg", "--compare-versions", order[i-1], "lt", order[i])
	}
}

// debFile is an entry of a .deb's data: its path, mode, owner and bytes.
type debFile struct {
	mode  os.FileMode
	owner string
	data  []byte
}

// debContents reads a .deb's files as dpkg would unpack them.
func debContents(t *testing.T, deb string) map[string]debFile {
	t.Helper()
	tarball := output(t, "", "dpkg-deb", "--fsys-tarfile", deb)
	files := map[string]debFile{}
	tr := tar.NewReader(strings.NewReader(tarball))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", deb, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = debFile{mode: h.FileInfo().Mode(), owner: h.Uname + ":" + h.Gname, data: data}
	}
}

// debPath is the .deb make release wrote for a Debian architecture.
func debPath(t *testing.T, dist, debArch string) string {
	t.Helper()
	v := versionOf(t, filepath.Join(dist, "tinit-linux-"+runtime.GOARCH))
	return filepath.Join(dist, "tinit_"+debVersion(t, v.Version)+"_"+debArch+".deb")
}

func TestDebPackagesHoldTheReleaseBinaries(t *testing.T) {
	dist := releaseDist(t)
	needTools(t, "bash")
	for _, a := range archesUnderTest(t) {
		t.Run(a.debArch, func(t *testing.T) {
			deb := debPath(t, dist, a.debArch)
			fields := output(t, "", "dpkg-deb", "--field", deb, "Package", "Version", "Architecture")
			_, version, _ := strings.Cut(strings.TrimSuffix(filepath.Base(deb), ".deb"), "_")
			version, _, _ = strings.Cut(version, "_")
			want := "Package: tinit\nVersion: " + version + "\nArchitecture: " + a.debArch + "\n"
			if fields != want {
				t.Errorf("control fields:\n%s\nwant:\n%s", fields, want)
			}

			files := debContents(t, deb)
			wantFiles := map[string]os.FileMode{
				"./usr/bin/tinit":                     0o755,
				"./usr/share/man/man1/tinit.1.gz":     0o644,
				"./usr/share/doc/tinit/copyright":     0o644,
				"./usr/share/doc/tinit/changelog.gz":  0o644,
				"./usr/share/lintian/overrides/tinit": 0o644,
			}
			for name, f := range files {
				if f.owner != "root:root" {
					t.Errorf("%s is owned by %s, want root:root", name, f.owner)
				}
				switch mode, ok := wantFiles[name]; {
				case f.mode.IsDir():
					if f.mode.Perm() != 0o755 {
						t.Errorf("directory %s has mode %v, want 0755", name, f.mode)
					}
				case !ok:
					t.Errorf("unexpected file %s", name)
				case f.mode.Perm() != mode:
					t.Errorf("%s has mode %v, want %v", name, f.mode, mode)
				}
			}
			for name := range wantFiles {
				if _, ok := files[name]; !ok {
					t.Errorf("%s is missing", name)
				}
			}
			bin, err := os.ReadFile(filepath.Join(dist, "tinit-linux-"+a.goarch))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(files["./usr/bin/tinit"].data, bin) {
				t.Errorf("/usr/bin/tinit is not tinit-linux-%s", a.goarch)
			}
		})
	}
}

// helpFlags are the long flags tinit --help lists.
func helpFlags(t *testing.T) []string {
	t.Helper()
	out := output(t, "", tinitBin, "--help")
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  (?:-\w, |    )--([a-z-]+)`).FindAllStringSubmatch(out, -1) {
		flags = append(flags, m[1])
	}
	if len(flags) < 10 {
		t.Fatalf("found only %v in --help:\n%s", flags, out)
	}
	return flags
}

func TestReleaseDocsListEveryFlag(t *testing.T) {
	// The README's flag table is the man page's source too (.ci/deb/build.sh).
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var table []string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "| Flag | Variable | Default | Meaning |":
			in = true
		case in && !strings.HasPrefix(line, "|"):
			in = false
		case in:
			first, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " | ")
			for _, m := range regexp.MustCompile("`--([a-z-]+)").FindAllStringSubmatch(first, -1) {
				table = append(table, m[1])
			}
		}
	}
	help := helpFlags(t)
	slices.Sort(table)
	slices.Sort(help)
	if !slices.Equal(table, help) {
		t.Fatalf("README flag table lists\n  %v\n--help lists\n  %v", table, help)
	}
}

func TestDebManPageListsEveryFlag(t *testing.T) {
	dist := releaseDist(t)
	needTools(t, "bash", "man")
	page := debContents(t, debPath(t, dist, "amd64"))["./usr/share/man/man1/tinit.1.gz"].data
	path := filepath.Join(t.TempDir(), "tinit.1.gz")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	roff := output(t, "", "gzip", "-dc", path)
	for _, flag := range helpFlags(t) {
		if !strings.Contains(roff, `\fB\-\-`+strings.ReplaceAll(flag, "-", `\-`)+`\fR`) {
			t.Errorf("the man page lacks --%s", flag)
		}
	}
	// man --warnings prints groff's complaints on stderr.
	cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", path)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "LC_ALL=C.UTF-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 || !bytes.Contains(out, []byte("tiny init for containers")) {
		t.Fatalf("man -l: %v; stderr: %s", err, stderr.Bytes())
	}
}

func TestDebPassesLintian(t *testing.T) {
	dist := releaseDist(t)
	needTools(t, "lintian")
	debs, err := filepath.Glob(filepath.Join(dist, "*.deb"))
	if err != nil || len(debs) != len(archesUnderTest(t)) {
		t.Fatalf("found %v (%v), want a .deb for each of %d architectures", debs, err, len(archesUnderTest(t)))
	}
	// Every tag down to pedantic and experimental is shown; errors fail.
	// (--show-overrides would make lintian exit 2 over a tag it overrode.)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "lintian", append([]string{"--no-cfg", "--fail-on", "error", "--display-level", ">=pedantic", "--display-experimental"}, debs...)...)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			t.Logf("lintian: %s", line)
		}
	}
	if err != nil || regexp.MustCompile(`(?m)^E: `).Match(out) {
		t.Fatalf("lintian: %v", err)
	}
}

func TestDebInstallsAndRemoves(t *testing.T) {
	dist := releaseDist(t)
	needTools(t, "bash", "dpkg", "dpkg-query", "apt-get", "man")
	if os.Geteuid() != 0 {
		unavailable(t, "installing a package needs root")
	}
	arch := strings.TrimSpace(output(t, "", "dpkg", "--print-architecture"))
	deb := debPath(t, dist, arch)
	status := func() string {
		out, _ := exec.Command("dpkg-query", "--show", "--showformat=${Status}", "tinit").Output()
		return string(out)
	}
	if s := status(); strings.HasSuffix(s, " installed") {
		t.Fatalf("a tinit package is already installed (%s): this test installs its own and removes it; run dpkg -r tinit first", s)
	}
	t.Cleanup(func() {
		if strings.HasSuffix(status(), " installed") {
			exec.Command("dpkg", "--purge", "tinit").Run()
		}
	})

	output(t, "", "dpkg", "-i", deb)
	if s := status(); s != "install ok installed" {
		t.Fatalf("after dpkg -i: status %q", s)
	}
	want := versionOf(t, filepath.Join(dist, "tinit-linux-"+runtime.GOARCH))
	if got := versionOf(t, "/usr/bin/tinit"); got != want {
		t.Fatalf("/usr/bin/tinit --version: %+v, want %+v", got, want)
	}
	// The md5sums make release wrote match what dpkg unpacked.
	output(t, "", "dpkg", "--verify", "tinit")
	if got := strings.TrimSpace(output(t, "", "man", "-w", "tinit")); got != "/usr/share/man/man1/tinit.1.gz" {
		t.Errorf("man -w tinit: %q", got)
	}
	requireNamespace(t)
	r := startWrapped(t, nil, slices.Concat(asPID1, []string{"/usr/bin/tinit", "--", "/bin/sh", "-c", "exit 3"}), nil)
	if got := r.exitCode(30 * time.Second); got != 3 {
		t.Errorf("installed tinit as PID 1: exit %d, want 3; stderr: %s", got, r.stderr)
	}

	output(t, "", "apt-get", "remove", "-y", "tinit")
	if s := status(); strings.HasSuffix(s, " installed") {
		t.Fatalf("after apt-get remove: status %q", s)
	}
	for _, path := range []string{"/usr/bin/tinit", "/usr/share/man/man1/tinit.1.gz", "/usr/share/doc/tinit"} {
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("%s is still there after apt-get remove (%v)", path, err)
		}
	}
}

// TestReleaseChartsCarryTheVersion: the charts in a release say which
// tinit they run: appVersion, and tinit-lib's default image tag, in
// tinit-lib and in the copy that charts/tinit carries; tinit-inject's
// appVersion, the default tag of its two images.
func TestReleaseChartsCarryTheVersion(t *testing.T) {
	dist := releaseDist(t)
	version := versionOf(t, filepath.Join(dist, "tinit-linux-amd64")).Version
	charts, _ := filepath.Glob(filepath.Join(dist, "tinit*.tgz"))
	if len(charts) != 3 {
		t.Fatalf("charts in %s: %v, want tinit-lib, tinit and tinit-inject", dist, charts)
	}
	for _, c := range charts {
		for _, f := range []string{"tinit-lib/Chart.yaml", "tinit/Chart.yaml", "tinit/charts/tinit-lib/Chart.yaml",
			"tinit-lib/templates/_tinit.tpl", "tinit/charts/tinit-lib/templates/_tinit.tpl", "tinit-inject/Chart.yaml"} {
			out, err := exec.Command("tar", "-xzOf", c, f).Output()
			if err != nil {
				continue // not in this chart
			}
			want := `appVersion: "` + version + `"`
			if strings.HasSuffix(f, ".tpl") {
				want = `define "tinit-lib.appVersion" -}}` + version + `{{`
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: %s lacks %s", filepath.Base(c), f, want)
			}
		}
		if out, _ := exec.Command("tar", "-tzf", c).Output(); strings.Contains(string(out), "/test/") {
			t.Errorf("%s holds the chart's Go test module", filepath.Base(c))
		}
	}
}
