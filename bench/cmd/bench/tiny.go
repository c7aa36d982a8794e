package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
)

// The benchmark's children are three tiny static executables with no libc
// and no runtime, so that what is measured is the init and not the child's
// own start-up: "first instruction" really is the first instruction. Their
// sources are bench/tiny/*.S; the machine code below is their .text, from
//
//	as --64 -o x.o x.S && objcopy -O binary -j .text x.o x.bin && xxd -p x.bin
//
// and writeTiny wraps it in a 120-byte ELF header of its own, so that the
// harness needs neither an assembler nor a C compiler. Linux amd64 only.
const (
	// crash: stamps CLOCK_MONOTONIC at start and just before exit, writes
	// both (32 bytes) to stdout, exits 1.
	crashHex = "4883ec20b8e4000000bf010000004889e60f05b8e4000000bf01000000488d7424100f05b801000000bf010000004889e6ba200000000f05b8e7000000bf010000000f05"
	// sigwait: blocks SIGUSR1 and SIGTERM, writes a ready record, then one
	// 24-byte record [signo][sec][nsec] per signal from rt_sigtimedwait.
	sigwaitHex = "4883ec4048c7042400420000b80e00000031ff4889e631d241ba080000000f0531c0eb14b8800000004889e731f631d241ba080000000f054889442408b8e4000000bf01000000488d7424100f05b801000000bf01000000488d742408ba180000000f054885c07e02ebb9b8e700000031ff0f05"
	// storm: forks an intermediate that vforks N children which exit at
	// once, writes [forked][sec][nsec] and exits, so that N zombies are
	// re-parented to the init together; the storm process then pauses.
	// N is the imm32 at code bytes 2-5.
	stormHex = "41bc102700004531ed4883ec40b8390000000f054885c074204889c7b83d00000031f631d24531d20f054883f8fc74ecb8220000000f05ebf7b838000000bf1141000031f631d24531d24531c00f054885c0743c780349ffc541ffcc75db4c892c24b8e4000000bf01000000488d7424080f05b801000000bf010000004889e6ba180000000f05b8e700000031ff0f05b8e700000031ff0f05"
)

// writeTiny writes code as a static ELF64 executable at path: one PT_LOAD
// segment mapping the whole file at 0x400000, entry right after the headers.
func writeTiny(path, codeHex string, patch func([]byte)) error {
	if runtime.GOARCH != "amd64" {
		return fmt.Errorf("the benchmark's helper children are x86-64 machine code; this is %s", runtime.GOARCH)
	}
	code, err := hex.DecodeString(codeHex)
	if err != nil {
		return err
	}
	if patch != nil {
		patch(code)
	}
	const base, ehsize, phsize = 0x400000, 64, 56
	le := binary.LittleEndian
	b := make([]byte, ehsize+phsize+len(code))
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // ELFCLASS64, little-endian, EV_CURRENT
	le.PutUint16(b[16:], 2)    // ET_EXEC
	le.PutUint16(b[18:], 62)   // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], base+ehsize+phsize) // e_entry
	le.PutUint64(b[32:], ehsize)             // e_phoff
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phsize)
	le.PutUint16(b[56:], 1) // e_phnum
	le.PutUint16(b[58:], 64)
	p := b[ehsize:]
	le.PutUint32(p[0:], 1) // PT_LOAD
	le.PutUint32(p[4:], 5) // PF_R|PF_X
	le.PutUint64(p[16:], base)
	le.PutUint64(p[24:], base)
	le.PutUint64(p[32:], uint64(len(b)))
	le.PutUint64(p[40:], uint64(len(b)))
	le.PutUint64(p[48:], 0x1000)
	copy(b[ehsize+phsize:], code)
	return os.WriteFile(path, b, 0o755)
}

// patchN sets the storm's orphan count.
func patchN(n int) func([]byte) {
	return func(code []byte) { binary.LittleEndian.PutUint32(code[2:], uint32(n)) }
}
