package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// blockedOut is a stderr that nobody reads until release is closed.
type blockedOut struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (b *blockedOut) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// TestDroppedLinesAreReportedAlsoJustBeforeExit rules out a lost notice
// (issue 19 asked): a line is dropped only while the queue is full, so a
// queued line always follows the drop and carries the notice, also when
// tinit exits right after. Only a stderr still stalled when flushWait
// runs out loses it, and then it loses every line alike.
func TestDroppedLinesAreReportedAlsoJustBeforeExit(t *testing.T) {
	out := &blockedOut{release: make(chan struct{})}
	w := newAsyncWriter(out, false)
	// One line is taken by the writer (and blocks it), logDepth wait in
	// the queue, and the rest are dropped: the last lines before exit.
	for i := 0; i < logDepth+50; i++ {
		w.Write([]byte("line\n"))
	}
	close(out.release)
	w.Close()
	out.mu.Lock()
	defer out.mu.Unlock()
	if got := out.buf.String(); !strings.Contains(got, "log lines dropped") {
		t.Fatalf("no notice of the dropped lines in %d bytes of log", len(got))
	}
}
