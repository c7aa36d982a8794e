package images

import (
	"container/list"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/tinit/tinit/cmd/tinit-inject/mutate"
)

// Outcome is what one lookup came to, as the metrics count it.
type Outcome string

const (
	Hit   Outcome = "hit"   // the digest's config was cached
	Miss  Outcome = "miss"  // read from the registry, now cached
	Error Outcome = "error" // no config: the reason is the error
)

// DefaultCacheSize is how many configs are kept: each is two short
// string lists, so a thousand cost little and cover a busy cluster's
// images.
const DefaultCacheSize = 1024

// Options set up a Reader.
type Options struct {
	// CAFile is a PEM file of CA certificates trusted besides the
	// system's.
	CAFile string
	// Insecure lists registries (HOST:PORT, as in the image reference)
	// that may be reached over plain HTTP.
	Insecure []string
	// Arch is the architecture whose image is read from an index;
	// runtime.GOARCH when empty.
	Arch string
	// CacheSize bounds the digest cache; DefaultCacheSize when 0.
	CacheSize int
	// UserAgent goes to the registry.
	UserAgent string
	// OnLookup, when set, is told each lookup's outcome.
	OnLookup func(Outcome)
	// Transport replaces the HTTP transport (tests); CAFile is then
	// not used.
	Transport http.RoundTripper
}

// Reader reads image configs. It is safe for concurrent use.
type Reader struct {
	transport http.RoundTripper
	insecure  map[string]bool
	arch      string
	userAgent string
	onLookup  func(Outcome)
	cache     *lru
}

// New sets up a Reader.
func New(o Options) (*Reader, error) {
	r := &Reader{
		transport: o.Transport,
		insecure:  map[string]bool{},
		arch:      o.Arch,
		userAgent: o.UserAgent,
		onLookup:  o.OnLookup,
		cache:     newLRU(o.CacheSize),
	}
	if r.arch == "" {
		r.arch = runtime.GOARCH
	}
	for _, h := range o.Insecure {
		r.insecure[strings.ToLower(h)] = true
	}
	if r.transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if o.CAFile != "" {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read registry CA file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("registry CA file %s: no PEM certificate in it", o.CAFile)
			}
			t.TLSClientConfig.RootCAs = pool
		}
		r.transport = t
	}
	return r, nil
}

// Config reads ref's ENTRYPOINT and CMD with the credentials of kc
// (anonymous when nil).
func (r *Reader) Config(ctx context.Context, ref string, kc authn.Keychain) (mutate.ImageConfig, error) {
	c, outcome, err := r.config(ctx, ref, kc)
	if r.onLookup != nil {
		r.onLookup(outcome)
	}
	return c, err
}

func (r *Reader) config(ctx context.Context, ref string, kc authn.Keychain) (mutate.ImageConfig, Outcome, error) {
	parsed, err := r.parse(ref)
	if err != nil {
		return mutate.ImageConfig{}, Error, err
	}
	if kc == nil {
		kc = authn.NewMultiKeychain()
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(r.transport),
		// Two quick tries: the admission's deadline is seconds.
		remote.WithRetryBackoff(remote.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 2}),
	}
	if r.userAgent != "" {
		opts = append(opts, remote.WithUserAgent(r.userAgent))
	}
	var digest string
	if d, ok := parsed.(name.Digest); ok {
		digest = d.DigestStr()
	} else {
		desc, err := remote.Head(parsed, opts...)
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusMethodNotAllowed {
			// A registry without HEAD on manifests: GET gives the
			// digest too.
			var got *remote.Descriptor
			if got, err = remote.Get(parsed, opts...); err == nil {
				desc = &got.Descriptor
			}
		}
		if err != nil {
			return mutate.ImageConfig{}, Error, fmt.Errorf("resolve %s: %w", ref, err)
		}
		digest = desc.Digest.String()
	}
	if c, ok := r.cache.get(digest); ok {
		return c, Hit, nil
	}
	desc, err := remote.Get(parsed.Context().Digest(digest), opts...)
	if err != nil {
		return mutate.ImageConfig{}, Error, fmt.Errorf("read manifest of %s: %w", ref, err)
	}
	img, err := r.pick(desc)
	if err != nil {
		return mutate.ImageConfig{}, Error, fmt.Errorf("image %s: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return mutate.ImageConfig{}, Error, fmt.Errorf("read config of %s: %w", ref, err)
	}
	c := mutate.ImageConfig{Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd}
	r.cache.put(digest, c)
	return c, Miss, nil
}

// parse reads a reference as Kubernetes does (docker.io and :latest by
// default), allowing plain HTTP for the registries named insecure.
func (r *Reader) parse(ref string) (name.Reference, error) {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	if r.insecure[strings.ToLower(parsed.Context().RegistryStr())] {
		if parsed, err = name.ParseReference(ref, name.Insecure); err != nil {
			return nil, fmt.Errorf("image reference %q: %w", ref, err)
		}
	}
	return parsed, nil
}

// pick finds the image to read in what a digest names: itself, or from
// an index the entry for this architecture on linux, else the first
// linux entry.
func (r *Reader) pick(desc *remote.Descriptor) (v1.Image, error) {
	switch {
	case desc.MediaType.IsImage():
		return desc.Image()
	case desc.MediaType.IsIndex():
	default:
		return nil, fmt.Errorf("%s is neither an image nor an index", desc.MediaType)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	var chosen *v1.Descriptor
	for _, arch := range []string{r.arch, ""} {
		for i := range m.Manifests {
			d := &m.Manifests[i]
			if d.Platform != nil && d.Platform.OS == "linux" && (arch == "" || d.Platform.Architecture == arch) && d.MediaType.IsImage() {
				chosen = d
				break
			}
		}
		if chosen != nil {
			break
		}
	}
	if chosen == nil {
		return nil, fmt.Errorf("the index %s has no linux image", desc.Digest)
	}
	return idx.Image(chosen.Digest)
}

// lru is a digest -> config cache of bounded size.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recent; values are *entry
	items map[string]*list.Element
}

type entry struct {
	digest string
	config mutate.ImageConfig
}

func newLRU(size int) *lru {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &lru{max: size, order: list.New(), items: map[string]*list.Element{}}
}

func (l *lru) get(digest string) (mutate.ImageConfig, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.items[digest]
	if !ok {
		return mutate.ImageConfig{}, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*entry).config, true
}

func (l *lru) put(digest string, c mutate.ImageConfig) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.items[digest]; ok {
		l.order.MoveToFront(e)
		return
	}
	l.items[digest] = l.order.PushFront(&entry{digest, c})
	if l.order.Len() > l.max {
		last := l.order.Back()
		l.order.Remove(last)
		delete(l.items, last.Value.(*entry).digest)
	}
}

// Len is the number of configs cached.
func (r *Reader) Len() int {
	r.cache.mu.Lock()
	defer r.cache.mu.Unlock()
	return r.cache.order.Len()
}
