package certreload

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CheckEvery is how often the files may be looked at: a rotation is
// picked up within a few seconds, and a busy server stats them only
// this often.
const CheckEvery = 2 * time.Second

// Reloader holds the current certificate.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string // what the files looked like when last seen
	lastCheck time.Time
}

// New loads the pair, or says why it cannot.
func New(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	stamp, err := r.look()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	r.cert, r.stamp, r.lastCheck = &cert, stamp, r.now()
	return r, nil
}

// look sums up what the files are now: size, modification time and
// inode of each, behind any symlink.
func (r *Reloader) look() (string, error) {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("TLS file: %w", err)
		}
		s += fmt.Sprintf("%s:%d:%d:%v;", f, fi.Size(), fi.ModTime().UnixNano(), inode(fi))
	}
	return s, nil
}

// GetCertificate is tls.Config's: the current pair, reloaded first when
// the files have changed.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.lastCheck) >= CheckEvery {
		r.lastCheck = now
		r.reload()
	}
	return r.cert, nil
}

func (r *Reloader) reload() {
	stamp, err := r.look()
	if err != nil || stamp == r.stamp {
		if err != nil && r.log != nil {
			r.log.Warn("TLS files cannot be read: keeping the certificate in use", "error", err.Error())
		}
		return
	}
	// Seen once, good or bad: a bad pair is not retried until the files
	// change again.
	r.stamp = stamp
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		if r.log != nil {
			r.log.Warn("TLS files changed but do not load: keeping the certificate in use", "cert", r.certFile, "key", r.keyFile, "error", err.Error())
		}
		return
	}
	r.cert = &cert
	if r.log != nil {
		r.log.Info("TLS certificate reloaded", "cert", r.certFile)
	}
}
