package watch

// Change is one debounced burst of changes (stub until the package lands).
type Change struct{ What []string }
