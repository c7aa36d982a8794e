package healthz

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// attackFor is how long the prober runs in each attack; the default keeps
// the package's tests short, a longer run gives steadier percentiles:
// go test ./healthz -run Attack -args -attack-for=60s
var attackFor = flag.Duration("attack-for", 3*time.Second, "how long each attack in TestProbesAnswerUnderAttack probes")

// The kubelet's defaults for an HTTP probe, as the issue measured them.
const (
	probeEvery   = 250 * time.Millisecond
	probeTimeout = time.Second
)

// attacker is one hostile client: it connects to addr, does its worst on
// the connection until the server closes it, then connects again, until
// ctx ends.
type attacker func(ctx context.Context, c net.Conn)

// silent connects and sends nothing.
func silent(ctx context.Context, c net.Conn) {
	c.Read(make([]byte, 1)) // until the server (or ctx) closes it
}

// slowloris trickles a header that never ends, a byte a second.
func slowloris(ctx context.Context, c net.Conn) {
	const header = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
	buf := make([]byte, 1)
	for i := 0; ctx.Err() == nil; i++ {
		b := byte('a' + i%26)
		if i < len(header) {
			b = header[i]
		}
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
		// A read that times out is the second between two bytes; one that
		// ends is the server closing.
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(buf); !isTimeout(err) {
			return
		}
	}
}

// keptIdle sends one GET, then keeps the connection open, sending the
// next every 25 s: longer than any test here runs.
func keptIdle(ctx context.Context, c net.Conn) {
	br := bufio.NewReader(c)
	for ctx.Err() == nil {
		if !roundTrip(c, br, "/healthz") {
			return
		}
		c.SetReadDeadline(time.Now().Add(25 * time.Second))
		if _, err := br.Peek(1); !isTimeout(err) {
			return // closed by the server, or it sent what nobody asked for
		}
	}
}

// flood asks for /metrics as fast as the server answers, on a kept-alive
// connection, as wrk does.
func flood(ctx context.Context, c net.Conn) {
	br := bufio.NewReader(c)
	for ctx.Err() == nil && roundTrip(c, br, "/metrics") {
	}
}

// roundTrip sends a GET for path on c and reads the answer; false when
// the connection failed, the answer was not a 200 or the server will
// close. The answer is read by hand, not with net/http: the attackers
// share the CPU with the server here, and a real attacker's parsing
// would cost the server nothing.
func roundTrip(c net.Conn, br *bufio.Reader, path string) bool {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	status, err := br.ReadSlice('\n')
	if err != nil || !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return false
	}
	n, closing := -1, false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return false
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(v))
		}
		closing = closing || bytes.Equal(line, []byte("Connection: close"))
	}
	if n < 0 {
		return false
	}
	_, err = br.Discard(n)
	return err == nil && !closing
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// swarm runs n copies of a, each reconnecting whenever the server closes
// its connection, until stop is called; stop returns once every client
// has closed its socket, and how many connections they opened in all.
func swarm(addr string, n int, a attacker) (stop func() (dials int64)) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg    sync.WaitGroup
		dials atomic.Int64
	)
	for range n {
		wg.Go(func() {
			d := net.Dialer{Timeout: time.Second}
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					// A full accept queue: try again rather than spin.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				dials.Add(1)
				unblock := context.AfterFunc(ctx, func() { c.Close() })
				a(ctx, c)
				unblock()
				c.Close()
			}
		})
	}
	return func() int64 {
		cancel()
		wg.Wait()
		return dials.Load()
	}
}

// probeResult is what a kubelet would have seen over one attack.
type probeResult struct {
	latencies []time.Duration // of the probes that passed, sorted
	failures  []string
}

func (r probeResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

func (r probeResult) String() string {
	return fmt.Sprintf("%d probes, %d failed; p50 %v, p99 %v, max %v", len(r.latencies)+len(r.failures), len(r.failures),
		r.quantile(0.50).Round(10*time.Microsecond), r.quantile(0.99).Round(10*time.Microsecond), r.quantile(1).Round(10*time.Microsecond))
}

type probeStart struct{}

// probe sends GET /healthz to addr every probeEvery for d, each on a new
// connection with probeTimeout, as the kubelet does: a slow answer does
// not delay the next probe.
func probe(addr string, d time.Duration) probeResult {
	var local sync.Map // of each probe's connection, by the probe's start, to name a failed one
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			local.Store(ctx.Value(probeStart{}), c.LocalAddr().String())
		}
		return c, err
	}
	client := &http.Client{Timeout: probeTimeout, Transport: &http.Transport{DisableKeepAlives: true, DialContext: dial}}
	var (
		mu  sync.Mutex
		res probeResult
		wg  sync.WaitGroup
	)
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		wg.Go(func() {
			start := time.Now()
			req, _ := http.NewRequestWithContext(context.WithValue(context.Background(), probeStart{}, start), "GET", "http://"+addr+"/healthz", nil)
			resp, err := client.Do(req)
			took := time.Since(start)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				from, _ := local.Load(start)
				res.failures = append(res.failures, fmt.Sprintf("after %v (from %v): %v", took.Round(time.Millisecond), from, err))
				return
			}
			res.latencies = append(res.latencies, took)
		})
	}
	wg.Wait()
	slices.Sort(res.latencies)
	return res
}

// raiseOpenFiles makes room for n more sockets in this process: the soft
// limit of open files may be 1,024, fewer than one attack's clients and
// the server's connections together. Go already raises the soft limit to
// the hard one at start; as root, the hard limit can go up too.
func raiseOpenFiles(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	want := syscall.Rlimit{Cur: n, Max: max(n, lim.Max)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		t.Fatalf("the attacks need %d open files, the limit is %d (hard %d) and raising it failed: %v; run as root or raise ulimit -n", n, lim.Cur, lim.Max, err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) })
}

func TestProbesAnswerUnderAttack(t *testing.T) {
	if raceDetector {
		// The attackers share the machine with the server; under the race
		// detector both run several times slower and the 1 s timeout
		// measures the instrumentation. make test runs this test without
		// -race as well, where it counts.
		t.Skip("timing test: run without -race (make test does)")
	}
	const clients = 1000
	raiseOpenFiles(t, 2*clients+1024)
	for _, tc := range []struct {
		name string
		a    attacker
	}{
		{"1,000 silent connections", silent},
		{"1,000 slowloris connections, a header byte a second", slowloris},
		{"1,000 kept-alive connections idle after one GET", keptIdle},
		{"1,000 clients flooding /metrics", flood},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, cl := countedServe(t)

			stop := swarm(addr, clients, tc.a)
			// Let the attack take every slot before the first probe.
			for deadline := time.Now().Add(2 * time.Second); cl.open.Load() < maxConns-1 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			res := probe(addr, *attackFor)
			dials := stop()

			t.Logf("%v; the server held at most %d connections; the attackers opened %d", res, cl.peak.Load(), dials)
			for _, f := range res.failures {
				t.Errorf("probe failed %s", f)
			}
			if p := cl.peak.Load(); p > maxConns {
				t.Errorf("the server held %d connections at once, want at most %d", p, maxConns)
			}
			if p := cl.peak.Load(); p < maxConns-1 {
				t.Errorf("the attack never filled the server (at most %d connections): it proved nothing", p)
			}
		})
	}
}
