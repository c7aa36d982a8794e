// Package mainstack gives the main goroutine a 16 KiB stack before any
// other package's init runs, so that tinit's start-up never has to grow it.
//
// Import it, for its init alone, from package main. It must import nothing
// at all: Go initializes packages in the order of their import paths,
// each once its imports are, so a package with no imports whose path
// sorts before "internal/" runs right after the runtime's own. An import
// puts it later: with "syscall" imported it ran after seven other inits,
// internal/godebug's among them, and a third of the saving below was gone
// (measured).
// cmd/tinit's TestMainStackGrowsBeforeAnyOtherInit checks the order.
//
// Why: a goroutine starts with a 2 KiB stack, and each time it needs more
// the runtime copies it to one twice the size. To copy, it walks every
// frame and reads, for each function, its entry in the function table,
// its stack-pointer table and its stack maps: a few bytes here and there
// in the 1.4 MB of tables at the end of the binary. The kernel maps a
// binary's cached pages 64 KiB at a time around each page fault
// ("fault-around"), so every one of those scattered reads counts a whole
// 64 KiB block in tinit's RSS. The main goroutine grew three times while
// tinit started (in internal/godebug's init, in envconfig's, and starting
// the child), each time from a deep stack; those copies alone kept 6
// blocks, 384 KiB, resident for the life of the container. Grown here,
// from the shallowest stack there is, the one copy reads the tables of
// five functions, in blocks that are resident anyway. Measured in
// docs/performance.md.
//
// 16 KiB is what the main goroutine reached in tinit's start-up, with and
// without the health endpoint and with debug logging in JSON; if it ever
// needs more, the runtime grows it then, as it did before.
package mainstack

// frameSize is a frame that does not fit in 8 KiB with the runtime's
// guard (928 bytes on Linux) but fits in 16 KiB below the few hundred
// bytes of runtime.main and the init calls: the runtime doubles the stack
// until the frame fits, so it grows from 2 to 16 KiB in one copy. The frame is zeroed,
// which touches its pages; the start-up used them anyway.
const frameSize = 8 << 10

func init() { grow() }

// grow needs a frameSize frame, and so makes the runtime grow the stack
// on entry.
//
//go:noinline
func grow() {
	var frame [frameSize]byte
	use(&frame)
}

// use keeps frame alive: not inlined, so the compiler cannot drop it.
//
//go:noinline
func use(*[frameSize]byte) {}
