package main_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// helperNotify runs a script of steps, as a child that speaks the notify
// protocol would:
//
//	send:PAYLOAD   send PAYLOAD ("\n" in it is a newline) to $NOTIFY_SOCKET
//	dial:PAYLOAD   the same, with the README's one line of Go
//	sleep:DUR      sleep
//	await:PATH     wait until PATH exists (the test's go-ahead)
//	print:TEXT     print TEXT on stdout
//	env            print NOTIFY_SOCKET and WATCHDOG_USEC on stdout
//	big            send a datagram of 5,000 bytes
//	fds:N          send READY=1 with N file descriptors (pipes' read ends)
//	orphan:STEPS   run STEPS ("," between them) in a process re-parented to
//	               tinit, out of this one's tree
//	spawn:STEPS    run STEPS ("," between them) in a child of this one, a
//	               grandchild of tinit, and go on without waiting for it
//	ping:DUR       send WATCHDOG=1 every DUR, for ever
//	exec:CMD       exec sh -c CMD in place (same pid; a shell takes SIGABRT
//	               at its default, where the Go runtime would dump and exit 2)
//	wait           block until killed
//	exit:N         exit N
func helperNotify(steps []string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	send := func(payload []byte, oob []byte) {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "notify helper: socket:", err)
			os.Exit(3)
		}
		defer unix.Close(fd)
		if err := unix.Sendmsg(fd, payload, oob, &unix.SockaddrUnix{Name: addr}, 0); err != nil {
			fmt.Fprintln(os.Stderr, "notify helper: send:", err)
			os.Exit(3)
		}
	}
	for _, step := range steps {
		verb, arg, _ := strings.Cut(step, ":")
		switch verb {
		case "send":
			send([]byte(strings.ReplaceAll(arg, `\n`, "\n")), nil)
		case "dial":
			if c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET")); err == nil {
				c.Write([]byte(strings.ReplaceAll(arg, `\n`, "\n")))
				c.Close()
			} else {
				fmt.Fprintln(os.Stderr, "notify helper: dial:", err)
				os.Exit(3)
			}
		case "sleep":
			d, _ := time.ParseDuration(arg)
			time.Sleep(d)
		case "await":
			for {
				if _, err := os.Stat(arg); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		case "print":
			fmt.Println(arg)
		case "env":
			fmt.Printf("NOTIFY_SOCKET=%s WATCHDOG_USEC=%s\n", addr, os.Getenv("WATCHDOG_USEC"))
		case "big":
			send([]byte("READY=1\nSTATUS="+strings.Repeat("x", 5000)), nil)
		case "fds":
			n, _ := strconv.Atoi(arg)
			var fds []int
			for i := 0; i < n; i++ {
				var p [2]int
				unix.Pipe2(p[:], unix.O_CLOEXEC)
				fds = append(fds, p[0])
			}
			send([]byte("STATUS=with fds"), unix.UnixRights(fds...))
		case "orphan":
			c := exec.Command("/proc/self/exe", strings.Split(arg, ",")...)
			c.Env = append(os.Environ(), helperEnv+"=notify-orphan")
			c.Run()
		case "spawn":
			// os.Args[0], not /proc/self/exe: a test may run this
			// without /proc.
			c := exec.Command(os.Args[0], strings.Split(arg, ",")...)
			c.Env = append(os.Environ(), helperEnv+"=notify")
			c.Stdout, c.Stderr = os.Stdout, os.Stderr
			if err := c.Start(); err != nil {
				fmt.Fprintln(os.Stderr, "notify helper: spawn:", err)
				os.Exit(3)
			}
		case "ping":
			d, _ := time.ParseDuration(arg)
			for {
				send([]byte("WATCHDOG=1"), nil)
				time.Sleep(d)
			}
		case "exec":
			err := unix.Exec("/bin/sh", []string{"sh", "-c", arg}, os.Environ())
			fmt.Fprintln(os.Stderr, "notify helper: exec:", err)
			os.Exit(3)
		case "wait":
			blockForever()
		case "exit":
			n, _ := strconv.Atoi(arg)
			os.Exit(n)
		default:
			fmt.Fprintln(os.Stderr, "notify helper: unknown step", step)
			os.Exit(3)
		}
	}
	os.Exit(0)
}
