// Package jsonpatch holds the RFC 6902 operations tinit-inject emits and
// a small applier for them, used by `tinit-inject render` to print what
// the webhook's patch does to an object.
//
// Invariants:
//
//   - Only the operations the mutation needs exist: add, replace and
//     remove. An "add" or "replace" always carries a value, also a false,
//     0 or "" one (a plain omitempty would drop it and make the
//     operation invalid).
//   - Apply follows RFC 6902 for those three: "add" to an object member
//     sets it (replacing an existing one), "add" to an array index
//     inserts before it, "-" appends; "replace" and "remove" need the
//     target to exist. A patch that does not apply is an error naming the
//     operation's index and path; the document is then left as it was
//     (Apply returns a new one).
//   - Paths are JSON Pointers (RFC 6901): Pointer escapes "~" and "/" in a
//     key, as annotation keys such as "tinit.dev/injected" need.
package jsonpatch
