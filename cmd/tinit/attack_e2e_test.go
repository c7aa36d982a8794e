package main_test

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestProbesAnswerTinitUnderAttack attacks the health endpoint of tinit
// running as PID 1 (GOMAXPROCS 2, its threads reserved), as healthz's own
// attack tests do the server alone: 500 silent connections and 500 that
// send a header byte a second, reconnecting as they are closed, while a
// kubelet-style probe asks /healthz every 250 ms with a 1 s timeout.
func TestProbesAnswerTinitUnderAttack(t *testing.T) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	r := startTinit(t, nil, "--health-addr", addr, "--", "/bin/sleep", "1000")
	waitCode(t, port, "/healthz", 200, 10*time.Second)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	attacker := func(slow bool) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if slow {
				c.Write([]byte("GET /healthz HTTP/1.1\r\n"))
			}
			// Hold it until the server closes it or the attack ends, one
			// header byte a second for the slow ones.
			for alive := true; alive; {
				select {
				case <-stop:
					c.Close()
					return
				case <-time.After(time.Second):
				}
				if slow {
					_, err = c.Write([]byte("X"))
				} else {
					c.SetReadDeadline(time.Now().Add(time.Millisecond))
					_, err = c.Read(make([]byte, 1))
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						err = nil
					}
				}
				alive = err == nil
			}
			c.Close()
		}
	}
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go attacker(i%2 == 1)
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(time.Second) // the attack under way

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var failed, worst = 0, time.Duration(0)
	const probes = 12
	for i := 0; i < probes; i++ {
		start := time.Now()
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			failed++
		}
		if err == nil {
			resp.Body.Close()
		}
		worst = max(worst, time.Since(start))
		time.Sleep(250 * time.Millisecond)
	}
	if failed > 0 {
		t.Fatalf("%d of %d probes failed under attack (slowest %v); stderr: %s", failed, probes, worst, r.stderr)
	}
	t.Logf("%d probes under attack, slowest %v", probes, worst.Round(time.Millisecond))
	r.signal(syscall.SIGTERM)
	if code := r.exitCode(10 * time.Second); code != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143", code)
	}
}
