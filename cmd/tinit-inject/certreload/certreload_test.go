package certreload

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pair makes a self-signed certificate for cn, as PEM.
func pair(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// secretVolume lays files out as the kubelet does a Secret volume:
// tls.crt -> ..data/tls.crt, ..data -> a timestamped directory, swapped
// in one rename.
type secretVolume struct {
	t   *testing.T
	dir string
	gen int
}

func (v *secretVolume) write(cert, key []byte) {
	v.t.Helper()
	v.gen++
	ts := filepath.Join(v.dir, "..gen"+string(rune('0'+v.gen)))
	if err := os.Mkdir(ts, 0o755); err != nil {
		v.t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ts, "tls.crt"), cert, 0o644)
	os.WriteFile(filepath.Join(ts, "tls.key"), key, 0o600)
	tmp := filepath.Join(v.dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		v.t.Fatal(err)
	}
	for _, f := range []string{"tls.crt", "tls.key"} {
		if _, err := os.Lstat(filepath.Join(v.dir, f)); err != nil {
			os.Symlink(filepath.Join("..data", f), filepath.Join(v.dir, f))
		}
	}
}

func served(t *testing.T, r *Reloader) string {
	t.Helper()
	c, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

func TestReloadsARotatedSecret(t *testing.T) {
	v := &secretVolume{t: t, dir: t.TempDir()}
	v.write(pair(t, "first"))
	r, err := New(filepath.Join(v.dir, "tls.crt"), filepath.Join(v.dir, "tls.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.now = func() time.Time { return now }
	if got := served(t, r); got != "first" {
		t.Fatalf("serves %q", got)
	}
	v.write(pair(t, "second"))
	if got := served(t, r); got != "first" {
		t.Errorf("looked at the files before CheckEvery: %q", got)
	}
	now = now.Add(CheckEvery)
	if got := served(t, r); got != "second" {
		t.Errorf("after a rotation: %q, want second", got)
	}
	// A broken pair (the key of another certificate) is not taken.
	c3, _ := pair(t, "third")
	_, k4 := pair(t, "fourth")
	v.write(c3, k4)
	now = now.Add(CheckEvery)
	if got := served(t, r); got != "second" {
		t.Errorf("after a broken rotation: %q, want second", got)
	}
	v.write(pair(t, "fifth"))
	now = now.Add(CheckEvery)
	if got := served(t, r); got != "fifth" {
		t.Errorf("after a good one again: %q", got)
	}
}

func TestNewRefusesFilesThatDoNotLoad(t *testing.T) {
	dir := t.TempDir()
	c, _ := pair(t, "a")
	_, k := pair(t, "b")
	os.WriteFile(filepath.Join(dir, "c"), c, 0o644)
	os.WriteFile(filepath.Join(dir, "k"), k, 0o600)
	if _, err := New(filepath.Join(dir, "c"), filepath.Join(dir, "k"), nil); err == nil {
		t.Error("a mismatched pair loaded")
	}
	if _, err := New(filepath.Join(dir, "none"), filepath.Join(dir, "k"), nil); err == nil {
		t.Error("a missing file loaded")
	}
}
