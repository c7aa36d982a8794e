// Command ociimage packs tinit's Dockerfile, once per platform, into an
// OCI image layout: one image per architecture and an OCI image index over
// them. It needs no engine, pulls no base image and reads no clock: the
// same Dockerfile, binaries and SOURCE_DATE_EPOCH give the same bytes.
//
//	go run .ci/ociimage/main.go -o DIR -context CTX -tag TAG \
//	    -platform linux/amd64,linux/arm64 -build-arg K=V ... [-f Dockerfile]
//
//	go run .ci/ociimage/main.go -docker-archive OUT.tar -context CTX -tag NAME:TAG \
//	    -platform linux/amd64 -build-arg K=V ... [-f Dockerfile]
//
// With -docker-archive it writes one platform's image as a docker-archive
// tar instead (manifest.json with RepoTags, as docker save writes it),
// which docker load and ctr images import take.
//
// It understands the subset of the Dockerfile syntax that a FROM scratch
// image of one static binary needs, with docker build's meaning: FROM
// scratch, ARG, LABEL, COPY of one file, USER, ENTRYPOINT and CMD in JSON form;
// variables as $V, ${V}, ${V:-word} and ${V:+word}; TARGETOS, TARGETARCH,
// TARGETVARIANT and TARGETPLATFORM set per platform as BuildKit sets them
// (an ARG must declare them). Anything else is refused, so that a change
// to the Dockerfile cannot be silently left out of the released images.
// (It is run as a file, not a package: .ci is no import path.)
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

const (
	mtIndex    = "application/vnd.oci.image.index.v1+json"
	mtManifest = "application/vnd.oci.image.manifest.v1+json"
	mtConfig   = "application/vnd.oci.image.config.v1+json"
	mtLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// image is what one platform's pass over the Dockerfile gives.
type image struct {
	labels     map[string]string
	entrypoint []string
	cmd        []string
	user       string
	files      []file // in COPY order
}

type file struct {
	src, dst string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	out := flag.String("o", "", "output directory: the OCI image layout (replaced)")
	archive := flag.String("docker-archive", "", "write one platform's image as a docker-archive tar here instead of -o's layout; -tag is its NAME:TAG")
	dockerfile := flag.String("f", "Dockerfile", "the Dockerfile")
	context := flag.String("context", ".", "the build context: COPY's sources are relative to it")
	tag := flag.String("tag", "", "the index's org.opencontainers.image.ref.name in index.json")
	platforms := flag.String("platform", "linux/amd64", "comma-separated OS/ARCH[/VARIANT] list")
	var buildArgs multiFlag
	flag.Var(&buildArgs, "build-arg", "K=V, as docker build's (repeatable)")
	flag.Parse()
	if (*out == "") == (*archive == "") || *tag == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	run := run
	if *archive != "" {
		run = func(_, dockerfile, context, tag, platforms string, buildArgs []string) error {
			return runArchive(*archive, dockerfile, context, tag, platforms, buildArgs)
		}
	}
	if err := run(*out, *dockerfile, *context, *tag, *platforms, buildArgs); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

// inputs reads what both outputs start from: the build arguments, the
// image's time and the Dockerfile.
func inputs(dockerfile string, buildArgs []string) (map[string]string, time.Time, []byte, error) {
	args := map[string]string{}
	for _, kv := range buildArgs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, time.Time{}, nil, fmt.Errorf("-build-arg %q: want K=V", kv)
		}
		args[k] = v
	}
	// The image's time is SOURCE_DATE_EPOCH's, as BuildKit takes it; none
	// set is the epoch, never the clock.
	created := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, time.Time{}, nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %v", s, err)
		}
		created = time.Unix(n, 0).UTC()
	}
	src, err := os.ReadFile(dockerfile)
	return args, created, src, err
}

func run(out, dockerfile, context, tag, platforms string, buildArgs []string) error {
	args, created, src, err := inputs(dockerfile, buildArgs)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	w := &layout{dir: out}
	var manifests []descriptor
	for _, p := range strings.Split(platforms, ",") {
		plat, err := parsePlatform(p)
		if err != nil {
			return err
		}
		img, err := evaluate(string(src), plat, args)
		if err != nil {
			return fmt.Errorf("%s for %s: %w", dockerfile, p, err)
		}
		d, err := w.image(img, plat, context, created)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		manifests = append(manifests, d)
	}
	index, err := w.json(mtIndex, map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtIndex,
		"manifests":     manifests,
	})
	if err != nil {
		return err
	}
	index.Annotations = map[string]string{"org.opencontainers.image.ref.name": tag}
	top, err := json.MarshalIndent(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtIndex,
		"manifests":     []descriptor{index},
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "index.json"), append(top, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`+"\n"), 0o644)
}

func parsePlatform(s string) (platform, error) {
	f := strings.Split(strings.TrimSpace(s), "/")
	if len(f) < 2 || len(f) > 3 || f[0] == "" || f[1] == "" {
		return platform{}, fmt.Errorf("platform %q: want OS/ARCH[/VARIANT]", s)
	}
	p := platform{OS: f[0], Architecture: f[1]}
	if len(f) == 3 {
		p.Variant = f[2]
	} else if p.Architecture == "arm" {
		// GOARM=7: Debian's armhf, the release's arm.
		p.Variant = "v7"
	}
	return p, nil
}

// evaluate runs the Dockerfile's instructions for one platform.
func evaluate(src string, plat platform, buildArgs map[string]string) (*image, error) {
	target := plat.OS + "/" + plat.Architecture
	if plat.Variant != "" {
		target += "/" + plat.Variant
	}
	automatic := map[string]string{
		"TARGETOS": plat.OS, "TARGETARCH": plat.Architecture,
		"TARGETVARIANT": plat.Variant, "TARGETPLATFORM": target,
	}
	vars := map[string]string{}
	img := &image{labels: map[string]string{}}
	from := false
	for _, line := range logicalLines(src) {
		instr, rest, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		rest = strings.TrimSpace(rest)
		if !from && instr != "FROM" && instr != "ARG" {
			return nil, fmt.Errorf("%s before FROM", instr)
		}
		switch instr {
		case "FROM":
			if from || rest != "scratch" {
				return nil, fmt.Errorf("FROM %s: only one FROM scratch is packed here", rest)
			}
			from = true
		case "ARG":
			name, def, hasDef := strings.Cut(rest, "=")
			if v, ok := buildArgs[name]; ok {
				vars[name] = v
			} else if v, ok := automatic[name]; ok {
				vars[name] = v
			} else if hasDef {
				v, err := expand(unquote(def), vars)
				if err != nil {
					return nil, err
				}
				vars[name] = v
			} else {
				vars[name] = ""
			}
		case "LABEL":
			words, err := splitWords(rest)
			if err != nil {
				return nil, err
			}
			for _, w := range words {
				k, v, ok := strings.Cut(w, "=")
				if !ok {
					return nil, fmt.Errorf("LABEL %q: want key=value", w)
				}
				if v, err = expand(v, vars); err != nil {
					return nil, err
				}
				img.labels[k] = v
			}
		case "COPY":
			words, err := splitWords(rest)
			if err != nil {
				return nil, err
			}
			if len(words) != 2 || strings.HasPrefix(words[0], "--") {
				return nil, fmt.Errorf("COPY %s: only COPY SRC DST of one file is packed here", rest)
			}
			s, err := expand(words[0], vars)
			if err != nil {
				return nil, err
			}
			d, err := expand(words[1], vars)
			if err != nil {
				return nil, err
			}
			if !path.IsAbs(d) || strings.HasSuffix(d, "/") {
				return nil, fmt.Errorf("COPY %s: the destination must be an absolute file path", rest)
			}
			img.files = append(img.files, file{src: s, dst: path.Clean(d)})
		case "USER":
			u, err := expand(rest, vars)
			if err != nil {
				return nil, err
			}
			if u == "" || strings.ContainsAny(u, " \t") {
				return nil, fmt.Errorf("USER %s: want one user, uid or uid:gid", rest)
			}
			img.user = u
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				return nil, fmt.Errorf("%s %s: only the JSON form is packed here", instr, rest)
			}
			if instr == "ENTRYPOINT" {
				img.entrypoint, img.cmd = argv, nil // as docker: a new ENTRYPOINT resets CMD
			} else {
				img.cmd = argv
			}
		default:
			return nil, fmt.Errorf("instruction %s is not packed here: teach .ci/ociimage it", instr)
		}
	}
	if !from {
		return nil, errors.New("no FROM")
	}
	return img, nil
}

// logicalLines joins continued lines and drops comments and blank lines.
func logicalLines(src string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(src, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "#") || (t == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\") + " ")
			continue
		}
		cur.WriteString(t)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// splitWords splits at blanks outside double quotes and removes the quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQuote, have = !inQuote, true
		case c == '\\' && inQuote && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case (c == ' ' || c == '\t') && !inQuote:
			if have {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if have {
		words = append(words, cur.String())
	}
	return words, nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// expand substitutes $V, ${V}, ${V:-word} and ${V:+word}; word may itself
// hold variables.
func expand(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] != '{' {
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			if j == i+1 {
				b.WriteByte('$')
				continue
			}
			b.WriteString(vars[s[i+1:j]])
			i = j - 1
			continue
		}
		// Find the matching brace.
		depth, j := 0, i+1
		for ; j < len(s); j++ {
			if s[j] == '{' {
				depth++
			} else if s[j] == '}' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if j == len(s) {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		body := s[i+2 : j]
		i = j
		name, word, op := body, "", ""
		if k := strings.Index(body, ":"); k >= 0 {
			name, op, word = body[:k], body[k:min(k+2, len(body))], body[min(k+2, len(body)):]
		}
		v := vars[name]
		switch op {
		case "":
			b.WriteString(v)
		case ":-", ":+":
			w, err := expand(word, vars)
			if err != nil {
				return "", err
			}
			if (op == ":-") == (v == "") {
				b.WriteString(w)
			} else {
				b.WriteString(v)
			}
		default:
			return "", fmt.Errorf("${%s}: only ${V}, ${V:-word} and ${V:+word} are packed here", body)
		}
	}
	return b.String(), nil
}

// layout writes blobs into an OCI image layout.
type layout struct{ dir string }

func (l *layout) blob(mediaType string, data []byte) (descriptor, error) {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(l.dir, "blobs", "sha256", h), data, 0o644); err != nil {
		return descriptor{}, err
	}
	return descriptor{MediaType: mediaType, Digest: "sha256:" + h, Size: int64(len(data))}, nil
}

func (l *layout) json(mediaType string, v any) (descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, err
	}
	return l.blob(mediaType, data)
}

// image writes one platform's layer, config and manifest.
func (l *layout) image(img *image, plat platform, context string, created time.Time) (descriptor, error) {
	layerTar, err := buildLayer(img, context, created)
	if err != nil {
		return descriptor{}, err
	}
	diffID := sha256.Sum256(layerTar)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // no name, no time
	zw.Write(layerTar)
	if err := zw.Close(); err != nil {
		return descriptor{}, err
	}
	layer, err := l.blob(mtLayer, gz.Bytes())
	if err != nil {
		return descriptor{}, err
	}
	config := imageConfig(img, plat, diffID, created)
	cd, err := l.json(mtConfig, config)
	if err != nil {
		return descriptor{}, err
	}
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtManifest,
		"config":        cd,
		"layers":        []descriptor{layer},
	}
	if len(img.labels) > 0 {
		manifest["annotations"] = img.labels
	}
	md, err := l.json(mtManifest, manifest)
	if err != nil {
		return descriptor{}, err
	}
	p := plat
	md.Platform = &p
	return md, nil
}

// buildLayer is the one layer of every COPY, as an uncompressed tar:
// owned by root, dated SOURCE_DATE_EPOCH, the file mode from the context
// (tinit's binary: 0755).
func buildLayer(img *image, context string, created time.Time) ([]byte, error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	dirs := map[string]bool{}
	for _, f := range img.files {
		data, err := os.ReadFile(filepath.Join(context, filepath.FromSlash(f.src)))
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(filepath.Join(context, filepath.FromSlash(f.src)))
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(f.dst, "/")
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: created, Format: tar.FormatPAX}); err != nil {
					return nil, err
				}
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(fi.Mode().Perm()), Size: int64(len(data)), ModTime: created, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return tarBuf.Bytes(), nil
}

// imageConfig is the image's config for plat, over one layer.
func imageConfig(img *image, plat platform, diffID [32]byte, created time.Time) map[string]any {
	cfg := map[string]any{}
	if len(img.entrypoint) > 0 {
		cfg["Entrypoint"] = img.entrypoint
	}
	if len(img.cmd) > 0 {
		cfg["Cmd"] = img.cmd
	}
	if img.user != "" {
		cfg["User"] = img.user
	}
	if len(img.labels) > 0 {
		cfg["Labels"] = img.labels
	}
	config := map[string]any{
		"created":      created.Format(time.RFC3339),
		"architecture": plat.Architecture,
		"os":           plat.OS,
		"config":       cfg,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
		"history": []map[string]any{{
			"created":    created.Format(time.RFC3339),
			"created_by": "tinit .ci/ociimage: the Dockerfile's COPY",
		}},
	}
	if plat.Variant != "" {
		config["variant"] = plat.Variant
	}
	return config
}

// runArchive writes one platform's image as a docker-archive tar: the
// config, the uncompressed layer and a manifest.json naming tag, as
// docker save writes them. The same inputs give the same bytes.
func runArchive(out, dockerfile, context, tag, platforms string, buildArgs []string) error {
	if strings.Contains(platforms, ",") {
		return fmt.Errorf("-docker-archive holds one platform, not %s", platforms)
	}
	args, created, src, err := inputs(dockerfile, buildArgs)
	if err != nil {
		return err
	}
	plat, err := parsePlatform(platforms)
	if err != nil {
		return err
	}
	img, err := evaluate(string(src), plat, args)
	if err != nil {
		return fmt.Errorf("%s for %s: %w", dockerfile, platforms, err)
	}
	layer, err := buildLayer(img, context, created)
	if err != nil {
		return err
	}
	diffID := sha256.Sum256(layer)
	config, err := json.Marshal(imageConfig(img, plat, diffID, created))
	if err != nil {
		return err
	}
	csum := sha256.Sum256(config)
	configName := hex.EncodeToString(csum[:]) + ".json"
	layerName := hex.EncodeToString(diffID[:]) + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{tag}, "Layers": []string{layerName}}})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"manifest.json", manifest}, {configName, config}, {layerName, layer}} {
		if dir := path.Dir(f.name); dir != "." {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: created}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: created}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
