package nodetest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// The images the tests run, named as the pods name them. A name without a
// registry is docker.io's to containerd: tinit:dev is
// docker.io/library/tinit:dev, the image charts/tinit renders by default
// (tinit-lib's appVersion is "dev" in a checkout).
const (
	// TinitImage is the tinit binary built from this checkout at /tinit,
	// ENTRYPOINT ["/tinit", "--"], as the Dockerfile builds it.
	TinitImage = "tinit:dev"
	// HTTPDImage is Debian's busybox-static: sh, httpd, wget, ps and the
	// rest of its applets in /bin, a page in /www. Runs as 65532.
	HTTPDImage = "tinit-test/httpd:dev"
	// NginxImage is Debian's nginx with its shared libraries, listening on
	// 8080 as 65532 (/etc/nginx/nginx.conf, pid and temp files in /tmp;
	// it includes /etc/nginx/conf.d/*.conf), busybox beside it. Command:
	// NginxCommand.
	NginxImage = "tinit-test/nginx:dev"
	// RedisImage is Debian's redis-server with its shared libraries, as
	// 65532, busybox beside it. Command: RedisCommand.
	RedisImage = "tinit-test/redis:dev"
)

// NginxCommand runs nginx in the foreground on port 8080 (the image's
// ENTRYPOINT too; charts/tinit needs app.command in inject mode).
var NginxCommand = []string{"/usr/sbin/nginx", "-e", "stderr", "-c", "/etc/nginx/nginx.conf", "-g", "daemon off;"}

// RedisCommand runs redis-server on port 6379 without persistence (the
// image's ENTRYPOINT and CMD). Add "--supervised", "systemd" for
// sd_notify's READY=1.
var RedisCommand = []string{"/usr/bin/redis-server", "--port", "6379", "--save", "", "--appendonly", "no", "--dir", "/tmp", "--protected-mode", "no"}

// NonRoot is the numeric user the app images run as (the restricted Pod
// Security Standard needs a non-root one; a numeric USER lets the kubelet
// check runAsNonRoot).
const NonRoot = 65532

// ImageValues is a chart's image block for ref (e.g. app.image), pulled
// never: nothing can be pulled here, and an image that is missing then
// fails at once with ErrImageNeverPull instead of a pull that times out.
func ImageValues(ref string) map[string]any {
	repo, tag := SplitRef(ref)
	return map[string]any{"repository": repo, "tag": tag, "pullPolicy": "Never"}
}

// SplitRef splits "repo:tag" at the last colon after the last slash.
func SplitRef(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
}

// File is one entry of an image's single layer. Parent directories are
// added as needed (0755, root).
type File struct {
	Path string // absolute, in the image
	Mode int64  // permission bits, and os.ModeSticky via 01000
	Data []byte // a regular file's content
	Link string // a symlink's target (Data unused)
	Dir  bool   // a directory
	UID  int
	GID  int
}

// Image is a one-layer image, written as a docker-archive tar (what
// `docker save` writes and `ctr images import` reads).
type Image struct {
	Ref        string // the RepoTag, e.g. "tinit-test/httpd:dev"
	Files      []File
	Entrypoint []string
	Cmd        []string
	User       string
	Env        []string
	WorkingDir string
}

// epoch is every file's and the image's time: the same inputs give the
// same bytes, so the tar is cached by its content.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// layer returns the layer as an uncompressed tar.
func (img *Image) layer() ([]byte, error) {
	files := map[string]File{}
	for _, f := range img.Files {
		p := path.Clean(f.Path)
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("image %s: path %q is not absolute", img.Ref, f.Path)
		}
		f.Path = p
		files[p] = f
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := files[d]; !ok {
				files[d] = File{Path: d, Dir: true, Mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		f := files[p]
		h := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    f.Mode,
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		switch {
		case f.Dir:
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case f.Link != "":
			h.Typeflag = tar.TypeSymlink
			h.Linkname = f.Link
			h.Mode = 0o777
		default:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Archive returns the image as a docker-archive tar: the layer, the image
// config (architecture, entrypoint, user, env, rootfs diff_ids) and
// manifest.json naming it by its RepoTag.
func (img *Image) Archive() ([]byte, error) {
	layer, err := img.layer()
	if err != nil {
		return nil, err
	}
	layerSum := sha(layer)
	cfg := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config": map[string]any{
			"Entrypoint": img.Entrypoint,
			"Cmd":        img.Cmd,
			"User":       img.User,
			"Env":        img.Env,
			"WorkingDir": img.WorkingDir,
		},
		"rootfs": map[string]any{
			"type":     "layers",
			"diff_ids": []string{"sha256:" + layerSum},
		},
		"history": []map[string]any{{
			"created":    epoch.Format(time.RFC3339),
			"created_by": "tinit node tests (charts/tinit/test/node/internal/nodetest)",
		}},
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgName := sha(cfgJSON) + ".json"
	layerName := layerSum + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   cfgName,
		"RepoTags": []string{img.Ref},
		"Layers":   []string{layerName},
	}})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{
		{layerSum + "/", nil},
		{layerName, layer},
		{cfgName, cfgJSON},
		{"manifest.json", manifest},
	} {
		h := &tar.Header{Name: e.name, Mode: 0o644, ModTime: epoch, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteCached writes the image's archive into dir as NAME-SUM.tar, where
// SUM is the archive's own hash, and returns its path: the same image
// keeps its file, and older files of the same name are removed.
func (img *Image) WriteCached(dir string) (string, error) {
	data, err := img.Archive()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := strings.NewReplacer("/", "_", ":", "_").Replace(img.Ref)
	p := filepath.Join(dir, base+"-"+sha(data)[:16]+".tar")
	old, _ := filepath.Glob(filepath.Join(dir, base+"-*.tar"))
	for _, o := range old {
		if o != p {
			os.Remove(o)
		}
	}
	if st, err := os.Stat(p); err == nil && st.Size() == int64(len(data)) {
		return p, nil
	}
	// A temporary file of its own: the node package and the injector
	// package run side by side and may write the same image at once
	// (each rename is atomic, and the last one wins with the same bytes).
	f, err := os.CreateTemp(dir, base+"-*.tar.tmp")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write image %s: %w", p, err)
	}
	return p, nil
}

// HostFile is the file at path on this machine, at the same path in the
// image, with its permission bits (symlinks followed).
func HostFile(p string) (File, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return File{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return File{}, err
	}
	return File{Path: p, Mode: int64(st.Mode().Perm()), Data: data}, nil
}

// SharedLibs lists, by `ldd BINARY`, the shared libraries and dynamic
// loader the binary needs, at the paths ldd names (the loader's is the
// binary's PT_INTERP); their content is that of the file each path
// resolves to here.
func SharedLibs(binary string) ([]File, error) {
	out, err := exec.Command("ldd", binary).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", binary, err)
	}
	var files []File
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var p string
		if _, after, ok := strings.Cut(line, "=> "); ok {
			p, _, _ = strings.Cut(after, " (")
		} else if strings.HasPrefix(line, "/") {
			p, _, _ = strings.Cut(line, " (")
		}
		if p == "" || !strings.HasPrefix(p, "/") {
			continue // linux-vdso.so.1, or "not a dynamic executable"
		}
		f, err := HostFile(p)
		if err != nil {
			return nil, fmt.Errorf("ldd %s: %w", binary, err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("ldd %s: no libraries in %q", binary, out)
	}
	return files, nil
}

// BusyboxPath is Debian's busybox-static.
const BusyboxPath = "/bin/busybox"

// busyboxFiles is /bin/busybox with a /bin symlink for each applet, a
// passwd and group naming root and 65532 (ps, id), /tmp (1777) and a page
// in /www.
func busyboxFiles() ([]File, error) {
	bb, err := HostFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("%w (apt-get install -y busybox-static)", err)
	}
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	// busybox-static is a static binary: a dynamic one would need its
	// libraries in the image too.
	if dynamic, err := isDynamic(BusyboxPath); err != nil || dynamic {
		return nil, fmt.Errorf("%s is not a static binary (%v): apt-get install -y busybox-static", BusyboxPath, err)
	}
	files := []File{bb}
	for _, name := range strings.Fields(string(out)) {
		if name == "busybox" || strings.Contains(name, "/") {
			continue
		}
		files = append(files, File{Path: "/bin/" + name, Link: "busybox"})
	}
	files = append(files,
		File{Path: "/etc/passwd", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nnonroot:x:%d:%d:nonroot:/home/nonroot:/bin/sh\n", NonRoot, NonRoot))},
		File{Path: "/etc/group", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", NonRoot))},
		File{Path: "/tmp", Dir: true, Mode: 0o1777},
		File{Path: "/home/nonroot", Dir: true, Mode: 0o755, UID: NonRoot, GID: NonRoot},
		File{Path: "/www/index.html", Mode: 0o644, Data: []byte("tinit node test\n")},
	)
	return files, nil
}

// isDynamic says whether an ELF binary names a dynamic loader.
func isDynamic(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return true, nil
		}
	}
	return false, nil
}

var appEnv = []string{"PATH=/usr/sbin:/usr/bin:/bin"}

// nginxConf serves /www on 8080 as any user: the pid file and every temp
// path in /tmp, errors to stderr, no access log. Like Debian's own it
// includes /etc/nginx/conf.d/*.conf (none in the image: a mask that
// matches nothing is fine), where a test mounts a ConfigMap of servers.
const nginxConf = `worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
    access_log off;
    default_type text/html;
    client_body_temp_path /tmp/nginx-client-body;
    proxy_temp_path /tmp/nginx-proxy;
    fastcgi_temp_path /tmp/nginx-fastcgi;
    uwsgi_temp_path /tmp/nginx-uwsgi;
    scgi_temp_path /tmp/nginx-scgi;
    server {
        listen 8080;
        root /www;
        location / { }
    }
    include /etc/nginx/conf.d/*.conf;
}
`

// AppImages are the app images built from Debian's own binaries
// (apt-get install -y busybox-static nginx-light redis-server).
func AppImages() ([]*Image, error) {
	bb, err := busyboxFiles()
	if err != nil {
		return nil, err
	}
	user := fmt.Sprintf("%d:%d", NonRoot, NonRoot)
	httpd := &Image{
		Ref:        HTTPDImage,
		Files:      bb,
		Entrypoint: []string{"/bin/httpd", "-f", "-p", "8080", "-h", "/www"},
		User:       user,
		Env:        appEnv,
		WorkingDir: "/",
	}

	nginxBin, err := HostFile("/usr/sbin/nginx")
	if err != nil {
		return nil, fmt.Errorf("%w (apt-get install -y nginx-light)", err)
	}
	nginxLibs, err := SharedLibs("/usr/sbin/nginx")
	if err != nil {
		return nil, err
	}
	nginxFiles := append(append(append([]File{}, bb...), nginxBin), nginxLibs...)
	nginxFiles = append(nginxFiles, File{Path: "/etc/nginx/nginx.conf", Mode: 0o644, Data: []byte(nginxConf)})
	nginx := &Image{
		Ref:        NginxImage,
		Files:      nginxFiles,
		Entrypoint: NginxCommand,
		User:       user,
		Env:        appEnv,
		WorkingDir: "/tmp",
	}

	// /usr/bin/redis-server is a symlink to redis-check-rdb, which picks
	// its mode by its argv[0]: in the image the file is redis-server.
	redisBin, err := HostFile("/usr/bin/redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w (apt-get install -y redis-server)", err)
	}
	redisLibs, err := SharedLibs("/usr/bin/redis-server")
	if err != nil {
		return nil, err
	}
	redisFiles := append(append(append([]File{}, bb...), redisBin), redisLibs...)
	redis := &Image{
		Ref:        RedisImage,
		Files:      redisFiles,
		Entrypoint: RedisCommand[:1],
		Cmd:        RedisCommand[1:],
		User:       user,
		Env:        appEnv,
		WorkingDir: "/tmp",
	}
	return []*Image{httpd, nginx, redis}, nil
}

// TinitImageFrom is the Dockerfile's image around a tinit binary.
func TinitImageFrom(binary string) (*Image, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	return &Image{
		Ref:        TinitImage,
		Files:      []File{{Path: "/tinit", Mode: 0o755, Data: data}},
		Entrypoint: []string{"/tinit", "--"},
	}, nil
}
