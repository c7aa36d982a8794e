//go:build !race

package healthz

const raceDetector = false
