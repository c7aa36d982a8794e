// Package images reads the ENTRYPOINT and CMD of a container image from
// its registry, for a container whose command is empty: Kubernetes runs
// the image's own then, and tinit-inject has to put tinit in front of
// exactly that.
//
// Invariants:
//
//   - Configs are cached by digest, never by tag: a lookup resolves the
//     reference to a digest with a HEAD (the pod's credentials decide
//     whether it may), then takes the config from the cache or reads it.
//     A tag moved between admission and pull can therefore run another
//     ENTRYPOINT than the one read here; the webhook never changes
//     `image`. A reference by digest needs no HEAD, and a cached config of
//     it is served without asking the registry.
//   - From an index, the image of the platform that matches this
//     program's own architecture (runtime.GOARCH, on linux) is read, or
//     else the index's first linux entry.
//   - Every lookup is bounded by its context: the webhook's deadline
//     holds for the HEAD, the manifests and the config, and retries are
//     few and short.
//   - Credentials come only from the Keychain passed to each lookup: one
//     built from the docker config JSON of pull secrets (webhook) or of
//     a docker config directory (render). There is no ambient keychain:
//     no cloud metadata, no credential helpers, no k8schain.
//   - Registries named as insecure may be reached over plain HTTP; an
//     extra CA file is trusted on top of the system's roots.
//   - Each lookup reports one outcome, hit, miss or error, to OnLookup.
package images
