// Command sdping is the node tests' app that speaks systemd's notify
// protocol and then hangs: it sends READY=1 to $NOTIFY_SOCKET, then
// WATCHDOG=1 every quarter of $WATCHDOG_USEC, -pings times, and then stops
// pinging while it goes on running, as a hung server would. With -once
// FILE it hangs only when FILE does not exist (creating it): a restarted
// sdping then pings for ever. Every step is a line on stdout.
//
// It is built static (CGO_ENABLED=0) into the image
// nodetest.SDPingImage.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	pings := flag.Int("pings", 3, "WATCHDOG=1 pings before it hangs")
	once := flag.String("once", "", "hang only if this file does not exist, and create it")
	flag.Parse()
	log := func(format string, args ...any) {
		fmt.Printf("sdping: pid=%d "+format+"\n", append([]any{os.Getpid()}, args...)...)
	}

	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		log("no NOTIFY_SOCKET")
		os.Exit(2)
	}
	// A leading @ is the abstract namespace, which Go's net package
	// reads as such.
	conn, err := net.Dial("unixgram", addr)
	if err != nil {
		log("dial %s: %v", addr, err)
		os.Exit(2)
	}
	send := func(msg string) {
		if _, err := conn.Write([]byte(msg)); err != nil {
			log("send %q: %v", msg, err)
			os.Exit(2)
		}
	}
	every := 500 * time.Millisecond
	if usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
		every = time.Duration(usec) * time.Microsecond / 4
	}

	hang := true
	if *once != "" {
		if _, err := os.Stat(*once); err == nil {
			hang = false
		} else if err := os.WriteFile(*once, nil, 0o644); err != nil {
			log("creating %s: %v", *once, err)
			os.Exit(2)
		}
	}
	send("READY=1\nSTATUS=pinging")
	log("READY=1 sent, WATCHDOG=1 every %v, hang=%v", every, hang)
	for i := 1; !hang || i <= *pings; i++ {
		time.Sleep(every)
		send("WATCHDOG=1")
		if hang {
			log("WATCHDOG=1 %d/%d", i, *pings)
		}
	}
	log("stopped pinging")
	for {
		time.Sleep(time.Hour)
	}
}
