package notify

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// wait bounds every wait in these tests.
const wait = 5 * time.Second

// listenT opens a notify socket that the test closes when it ends.
func listenT(t *testing.T, path string) *Socket {
	t.Helper()
	s, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen(%q): %v", path, err)
	}
	t.Cleanup(func() { closeT(t, s) })
	return s
}

// closeT closes s, failing rather than hanging if Close does not return:
// Close waits for Run, so a Run stuck on its channel would hang it.
func closeT(t *testing.T, s *Socket) error {
	t.Helper()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		return err
	case <-time.After(wait):
		t.Error("Close did not return: Run is stuck")
		return nil
	}
}

// waitReturned fails the test with msg unless returned is closed within
// the bounded wait.
func waitReturned(t *testing.T, returned <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-returned:
	case <-time.After(wait):
		t.Fatal(msg)
	}
}

// runT starts Run on s; the test fails if Run has not returned within a
// bounded wait after the socket is closed.
func runT(t *testing.T, s *Socket, out chan Message) (returned <-chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		s.Run(out)
		close(done)
	}()
	t.Cleanup(func() {
		closeT(t, s)
		select {
		case <-done:
		case <-time.After(wait):
			t.Errorf("Run did not return after Close")
		}
	})
	return done
}

// send writes one datagram to addr from this process, with fds as
// SCM_RIGHTS. unix.SockaddrUnix maps a leading "@" to the abstract
// namespace, as net does.
func send(t *testing.T, addr string, payload []byte, fds ...int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	defer unix.Close(fd)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(fd, payload, oob, &unix.SockaddrUnix{Name: addr}, 0); err != nil {
		t.Fatalf("sendmsg to %s (%d bytes, %d fds): %v", addr, len(payload), len(fds), err)
	}
}

// next returns the next Message from out, failing after a bounded wait.
func next(t *testing.T, out <-chan Message) Message {
	t.Helper()
	select {
	case m := <-out:
		return m
	case <-time.After(wait):
		t.Fatal("no message within", wait)
		return Message{}
	}
}

// pipes returns n pipes as read ends and write ends.
func pipes(t *testing.T, n int) (r, w []int) {
	t.Helper()
	for i := 0; i < n; i++ {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatalf("pipe2: %v", err)
		}
		r, w = append(r, p[0]), append(w, p[1])
	}
	return r, w
}

// countFDs counts this process's open descriptors.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list /proc/self/fd: %v", err)
	}
	return len(ents)
}

// sockets runs f once on an abstract socket and once on a path socket: the
// child sees the same behaviour whichever NOTIFY_SOCKET it gets.
func sockets(t *testing.T, f func(t *testing.T, s *Socket)) {
	t.Run("abstract", func(t *testing.T) { f(t, listenT(t, "")) })
	t.Run("path", func(t *testing.T) { f(t, listenT(t, filepath.Join(t.TempDir(), "notify.sock"))) })
}

func TestAbstractNamesAreRandomPerListen(t *testing.T) {
	re := regexp.MustCompile(`^@tinit-notify-[0-9a-f]{16}$`)
	a, b := listenT(t, ""), listenT(t, "")
	for _, s := range []*Socket{a, b} {
		if !re.MatchString(s.Addr()) {
			t.Errorf("Addr() = %q, want it to match %s", s.Addr(), re)
		}
	}
	if a.Addr() == b.Addr() {
		t.Errorf("two Listens share the name %q: two tinits in a pod would collide", a.Addr())
	}
}

func TestAbstractSocketIsInTheAbstractNamespace(t *testing.T) {
	s := listenT(t, "")
	// The kernel lists abstract names with a leading "@" in
	// /proc/net/unix; a file socket would show its path instead.
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Skipf("read /proc/net/unix: %v", err)
	}
	if !strings.Contains(string(b), " "+s.Addr()+"\n") {
		t.Errorf("%s not listed as an abstract socket in /proc/net/unix", s.Addr())
	}
	if _, err := os.Lstat(s.Addr()); err == nil {
		t.Errorf("a file %q exists: the name went to the filesystem", s.Addr())
	}
}

func TestPathSocketIsWritableByAnyoneWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "notify.sock")
	s := listenT(t, path)
	if s.Addr() != path {
		t.Errorf("Addr() = %q, want %q", s.Addr(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o666 {
		t.Errorf("mode %v, want a socket with 0666", fi.Mode())
	}
}

func TestCloseRemovesThePathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	s := listenT(t, path)
	if err := closeT(t, s); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, Lstat(%s): %v, want it gone", path, err)
	}
	if err := closeT(t, s); err != nil {
		t.Errorf("second Close: %v, want the first result (nil)", err)
	}
}

func TestStaleSocketFileIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	// A killed tinit leaves its socket file behind: closing a Go unixgram
	// conn does not unlink it.
	old, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale file should still be there: %v", err)
	}
	s := listenT(t, path)
	out := make(chan Message, 1)
	runT(t, s, out)
	send(t, path, []byte("READY=1"))
	if m := next(t, out); !m.Ready {
		t.Errorf("through the replaced socket: %+v, want Ready", m)
	}
}

func TestListenRefusesWhatIsNotAStaleSocket(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string) // puts something at path
		want  string
	}{
		{"a regular file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "a regular file is there"},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "a directory is there"},
		{"a symbolic link to a socket", func(t *testing.T, path string) {
			if err := os.Symlink(path+".real", path); err != nil {
				t.Fatal(err)
			}
		}, "a symbolic link is there"},
		{"a socket another process still reads", func(t *testing.T, path string) {
			live, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { live.Close() })
		}, "another process is reading"},
		{"a stream socket another process listens on", func(t *testing.T, path string) {
			live, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { live.Close() })
		}, "another process is reading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "notify.sock")
			tt.setup(t, path)
			before, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Listen(path)
			if err == nil {
				s.Close()
				t.Fatalf("Listen(%s) succeeded over %s", path, tt.name)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name %s and say %q", err, path, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
			after, err := os.Lstat(path)
			if err != nil || !os.SameFile(before, after) {
				t.Errorf("what was at %s was touched: %v", path, err)
			}
		})
	}
}

func TestListenRefusesARelativePath(t *testing.T) {
	_, err := Listen("notify.sock")
	if err == nil || !strings.Contains(err.Error(), `"notify.sock"`) {
		t.Errorf("Listen(relative) error %v, want one naming the path", err)
	}
}

func TestListenErrorNamesTheSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "notify.sock")
	_, err := Listen(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Listen in a missing directory: %v, want an error naming %s", err, path)
	}
}

func TestSocketIsCloseOnExecWithPassCred(t *testing.T) {
	sockets(t, func(t *testing.T, s *Socket) {
		rc, err := s.conn.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var flags, passcred int
		var ferr, perr error
		rc.Control(func(fd uintptr) {
			flags, ferr = unix.FcntlInt(fd, unix.F_GETFD, 0)
			passcred, perr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED)
		})
		if ferr != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("F_GETFD = %#x, %v: the child would inherit the socket", flags, ferr)
		}
		if perr != nil || passcred != 1 {
			t.Errorf("SO_PASSCRED = %d, %v, want 1", passcred, perr)
		}
	})
}

func TestDatagramsBecomeMessages(t *testing.T) {
	pid := os.Getpid()
	tests := []struct {
		name    string
		payload string
		fds     int
		want    Message
	}{
		{"READY=1 arrives with the sender's pid", "READY=1\n",
			0, Message{Pid: pid, Ready: true}},
		{"redis's datagram", "READY=1\nSTATUS=Ready to accept connections\n",
			0, Message{Pid: pid, Ready: true, Status: "Ready to accept connections", HasStatus: true}},
		{"garbage is dropped whole but still names its sender", "hello\nREADY=1",
			0, Message{Pid: pid, Bad: BadMalformed}},
		{"an empty datagram is malformed", "",
			0, Message{Pid: pid, Bad: BadMalformed}},
		{"a datagram of exactly MaxSize bytes is taken",
			"STATUS=" + strings.Repeat("x", MaxSize-len("STATUS=")),
			0, Message{Pid: pid, Status: strings.Repeat("x", MaxSize-len("STATUS=")), HasStatus: true}},
		{"one byte over MaxSize is oversized",
			"STATUS=" + strings.Repeat("x", MaxSize+1-len("STATUS=")),
			0, Message{Pid: pid, Bad: BadOversized}},
		{"5000 bytes of READY=1 lines are oversized, not half-read",
			strings.Repeat("READY=1\n", 625),
			0, Message{Pid: pid, Bad: BadOversized}},
		{"an fdstore message's fds are counted", "FDSTORE=1\nFDNAME=x",
			3, Message{Pid: pid, Unknown: 2, FDs: 3}},
		{"a malformed datagram's fds are counted", "nonsense",
			2, Message{Pid: pid, Bad: BadMalformed, FDs: 2}},
		{"an oversized datagram's fds are counted", strings.Repeat("x", 5000),
			1, Message{Pid: pid, Bad: BadOversized, FDs: 1}},
		{"MaxFDs fds are taken", "READY=1\nBARRIER=1",
			MaxFDs, Message{Pid: pid, Ready: true, Unknown: 1, FDs: MaxFDs}},
		{"one fd more drops the datagram whole", "READY=1",
			MaxFDs + 1, Message{Pid: pid, Bad: BadFDs, FDs: MaxFDs}},
		{"as many fds as one datagram can carry: the kernel installs MaxFDs", "READY=1",
			253, Message{Pid: pid, Bad: BadFDs, FDs: MaxFDs}},
	}
	sockets(t, func(t *testing.T, s *Socket) {
		out := make(chan Message, 1)
		runT(t, s, out)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, w := pipes(t, tt.fds)
				send(t, s.Addr(), []byte(tt.payload), r...)
				closeAll(r) // the datagram holds its own copies
				defer closeAll(w)
				if got := next(t, out); got != tt.want {
					t.Errorf("got  %+v\nwant %+v", got, tt.want)
				}
				for _, fd := range w {
					if _, err := unix.Write(fd, []byte("x")); !errors.Is(err, unix.EPIPE) {
						t.Fatalf("write to a pipe whose read end was passed: %v, want EPIPE (the passed fd is still open)", err)
					}
				}
			})
		}
		// After the bad ones, a normal datagram still parses.
		send(t, s.Addr(), []byte("WATCHDOG=1"))
		if got, want := next(t, out), (Message{Pid: pid, Watchdog: true}); got != want {
			t.Errorf("after the table: got %+v, want %+v", got, want)
		}
	})
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func TestPassedFDsLeaveNothingOpen(t *testing.T) {
	s := listenT(t, "")
	out := make(chan Message, 1)
	runT(t, s, out)
	before := countFDs(t)
	for i := 0; i < 20; i++ {
		r, w := pipes(t, 3)
		send(t, s.Addr(), []byte("FDSTORE=1"), r...)
		closeAll(r)
		closeAll(w)
		if m := next(t, out); m.FDs != 3 {
			t.Fatalf("datagram %d: FDs %d, want 3", i, m.FDs)
		}
	}
	if after := countFDs(t); after != before {
		t.Errorf("%d descriptors open before, %d after 60 passed: leaked", before, after)
	}
}

// TestPassedFDsArriveCloseOnExec checks the premise in doc.go: net's
// ReadMsgUnix asks the kernel for MSG_CMSG_CLOEXEC, so a child forked
// between the read and the close cannot inherit what was passed.
func TestPassedFDsArriveCloseOnExec(t *testing.T) {
	s := listenT(t, "")
	r, w := pipes(t, 1)
	defer closeAll(w)
	// Clear close-on-exec on the sent fd: the flag must come from the
	// receiving side, not travel with the descriptor.
	if _, err := unix.FcntlInt(uintptr(r[0]), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	send(t, s.Addr(), []byte("FDSTORE=1"), r...)
	closeAll(r)
	s.conn.SetReadDeadline(time.Now().Add(wait))
	oob := make([]byte, oobSize)
	_, oobn, _, _, err := s.conn.ReadMsgUnix(make([]byte, MaxSize), oob)
	if err != nil {
		t.Fatal(err)
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for i := range cmsgs {
		if fds, err := unix.ParseUnixRights(&cmsgs[i]); err == nil {
			got = append(got, fds...)
		}
	}
	defer closeAll(got)
	if len(got) != 1 {
		t.Fatalf("received %d fds, want 1", len(got))
	}
	if flags, err := unix.FcntlInt(uintptr(got[0]), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("received fd flags %#x, %v: not close-on-exec", flags, err)
	}
}

func TestRunReturnsAfterClose(t *testing.T) {
	t.Run("while waiting for a datagram", func(t *testing.T) {
		s := listenT(t, "")
		returned := runT(t, s, make(chan Message))
		closeT(t, s)
		waitReturned(t, returned, "Run still running after Close")
	})
	t.Run("while blocked on a full channel", func(t *testing.T) {
		s := listenT(t, "")
		out := make(chan Message) // nobody reads it
		returned := runT(t, s, out)
		send(t, s.Addr(), []byte("READY=1"))
		time.Sleep(50 * time.Millisecond) // let Run read it and block on out
		closeT(t, s)
		// Close waited for Run: the datagram Run was holding is never
		// delivered now, even to a reader that finally shows up.
		select {
		case m := <-out:
			t.Errorf("after Close returned, Run sent %+v", m)
		case <-time.After(100 * time.Millisecond):
		}
		waitReturned(t, returned, "Run still running after Close")
	})
	t.Run("when started after Close", func(t *testing.T) {
		s := listenT(t, "")
		closeT(t, s)
		returned := runT(t, s, make(chan Message))
		waitReturned(t, returned, "Run on a closed socket did not return")
	})
}

// senderEnv makes the test binary a sender: TestHelperSender sends the
// variable's value to $NOTIFY_SOCKET, as a child of tinit would, and exits.
const senderEnv = "NOTIFY_TEST_SEND"

func TestHelperSender(t *testing.T) {
	payload, ok := os.LookupEnv(senderEnv)
	if !ok {
		t.Skip("only a helper process for TestPidNamesTheSendingProcess")
	}
	send(t, os.Getenv("NOTIFY_SOCKET"), []byte(payload))
}

func TestPidNamesTheSendingProcess(t *testing.T) {
	sockets(t, func(t *testing.T, s *Socket) {
		out := make(chan Message, 1)
		runT(t, s, out)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSender$")
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+s.Addr(), senderEnv+"=READY=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sender: %v\n%s", err, b)
		}
		m := next(t, out)
		if m.Pid != cmd.Process.Pid || !m.Ready {
			t.Errorf("got %+v, want Ready from the sender, pid %d (this test is %d)", m, cmd.Process.Pid, os.Getpid())
		}
	})
}
