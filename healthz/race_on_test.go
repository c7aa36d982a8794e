//go:build race

package healthz

// raceDetector is true in a -race build, whose instrumentation slows every
// goroutine several times over.
const raceDetector = true
