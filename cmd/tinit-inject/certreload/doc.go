// Package certreload serves a TLS certificate from files that may be
// replaced while the server runs, as a rotated Kubernetes Secret is:
// the kubelet swaps the volume's ..data symlink, and the next handshake
// after the change gets the new pair.
//
// Invariants:
//
//   - The files are looked at (stat, following symlinks) at most once per
//     CheckEvery, during a handshake; nothing runs in the background.
//   - A pair that fails to load (half written, key and certificate not
//     matching) never replaces a good one: the old pair keeps being
//     served and the failure is logged, once per change seen.
//   - New refuses files that do not load: a server never starts without
//     a certificate.
package certreload
