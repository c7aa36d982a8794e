package healthz

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// netHTTPHandler serves h's routes through net/http, the reference for
// how the wire should be read.
func netHTTPHandler(h *Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp := h.respond(r.Method, r.URL.Path)
		w.Header().Set("Content-Type", resp.ctype)
		if resp.allow != "" {
			w.Header().Set("Allow", resp.allow)
		}
		w.WriteHeader(resp.code)
		if r.Method != "HEAD" {
			w.Write(resp.body)
		}
	})
}

// netHTTPServer serves h with net/http and tinit's limits: net/http reads
// MaxHeaderBytes plus 4 KiB of slack, so 4 KiB makes its limit 8 KiB.
func netHTTPServer(t *testing.T, h *Handler) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(netHTTPHandler(h))
	ts.Config.MaxHeaderBytes = defaultLimits.headerBytes - 4096
	ts.Config.ReadHeaderTimeout = defaultLimits.header
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// wireAnswer is what a client sees of one request: the first answer's
// status (0 for none) and whether the server then closes the connection.
type wireAnswer struct {
	code   int
	closes bool
}

// ask sends raw to addr on a new connection and reads one answer, then
// waits a moment to see whether the server closes the connection.
func ask(t *testing.T, addr, raw string) wireAnswer {
	t.Helper()
	c := send(t, addr, raw)
	defer c.Close()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: strings.SplitN(raw, " ", 2)[0]})
	if err != nil {
		return wireAnswer{code: 0, closes: true}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Whatever the request carried after its headers was sent with it: an
	// open connection has nothing more to say within the wait.
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = br.ReadByte()
	return wireAnswer{code: resp.StatusCode, closes: !isTimeout(err)}
}

// conforms reports whether tinit's answer is of net/http's class: the
// same status where net/http refuses the request (400, 431, 501, 505),
// the same class otherwise, and the same closing.
func conforms(ref, got wireAnswer) bool {
	switch ref.code {
	case 400, 431, 501, 505:
		if got.code != ref.code {
			return false
		}
	default:
		if got.code/100 != ref.code/100 {
			return false
		}
	}
	return got.closes == ref.closes
}

func TestServerAnswersMalformedRequestsAsNetHTTPDoes(t *testing.T) {
	h := NewHandler(NewState(), nil, nil)
	tinit, ref := serveOn(t, h), netHTTPServer(t, h)
	const get = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	for _, tc := range []struct {
		name string
		raw  string
		// bodyCloses marks a request with a body, which net/http reads
		// and tinit, by design, does not: tinit answers as net/http
		// does, then closes the connection.
		bodyCloses bool
	}{
		{"a plain GET", get + "\r\n", false},
		{"HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n", false},
		{"HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n", false},
		{"two Host headers", get + "Host: y\r\n\r\n", false},
		{"an empty Host", "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n", false},
		{"a Host with a space", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", false},
		{"an absolute-form target without Host", "GET http://x/healthz HTTP/1.1\r\n\r\n", false},
		{"an absolute-form target with Host", "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"Content-Length: 0", get + "Content-Length: 0\r\n\r\n", false},
		{"Content-Length with a body", get + "Content-Length: 3\r\n\r\nabc", true},
		{"Content-Length that is not a number", get + "Content-Length: abc\r\n\r\n", false},
		{"a negative Content-Length", get + "Content-Length: -1\r\n\r\n", false},
		{"a Content-Length with a sign", get + "Content-Length: +3\r\n\r\nabc", false},
		{"an empty Content-Length", get + "Content-Length: \r\n\r\n", false},
		{"a Content-Length list", get + "Content-Length: 3, 3\r\n\r\nabc", false},
		{"two different Content-Lengths", get + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", false},
		{"two equal Content-Lengths", get + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", true},
		{"a huge Content-Length", get + "Content-Length: 99999999999999999999\r\n\r\n", false},
		{"chunked", get + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
		{"chunked in capitals", get + "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n", true},
		{"an unknown Transfer-Encoding", get + "Transfer-Encoding: gzip\r\n\r\n", false},
		{"gzip, chunked", get + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", false},
		{"two Transfer-Encoding headers", get + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
		{"an empty Transfer-Encoding", get + "Transfer-Encoding:\r\n\r\n", false},
		{"chunked and Content-Length", get + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", true},
		{"chunked and a bad Content-Length", get + "Transfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n", false},
		{"Transfer-Encoding in HTTP/1.0", "GET /healthz HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", false},
		{"a NUL in a header value", get + "X: a\x00b\r\n\r\n", false},
		{"a CR in a header value", get + "X: a\rb\r\n\r\n", false},
		{"a DEL in a header value", get + "X: a\x7fb\r\n\r\n", false},
		{"a tab in a header value", get + "X: a\tb\r\n\r\n", false},
		{"obs-text in a header value", get + "X: caf\xc3\xa9\r\n\r\n", false},
		{"a NUL in the Host", "GET /healthz HTTP/1.1\r\nHost: x\x00\r\n\r\n", false},
		{"a header without a colon", get + "no colon\r\n\r\n", false},
		{"a space before the colon", get + "X : y\r\n\r\n", false},
		{"an empty header name", get + ": y\r\n\r\n", false},
		{"a folded header line", get + "X: a\r\n b\r\n\r\n", false},
		{"a control byte in the target", "GET /heal\x01thz HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"a DEL in the target", "GET /healthz\x7f HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"a target without a slash", "GET healthz HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"a percent-encoded path", "GET /health%7A HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"a bad percent escape", "GET /health%zz HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"a fragment in the target", "GET /healthz#top HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"a query", "GET /healthz?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"an asterisk target", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"CONNECT", "CONNECT x:80 HTTP/1.1\r\nHost: x:80\r\n\r\n", false},
		{"HTTP/1.2", "GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n", false},
		{"HTTP/1.10", "GET /healthz HTTP/1.10\r\nHost: x\r\n\r\n", false},
		{"HTTP/2.0", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", false},
		{"HTTP/3.0", "GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n", false},
		{"HTTP/0.9", "GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", false},
		{"a lowercase version", "GET /healthz http/1.1\r\nHost: x\r\n\r\n", false},
		{"a version without a minor", "GET /healthz HTTP/1\r\nHost: x\r\n\r\n", false},
		{"a version with letters", "GET /healthz HTTP/x.y\r\nHost: x\r\n\r\n", false},
		{"a space too many in the request line", "GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"a method that is not a token", "GE(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"a lowercase method", "get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"an empty line before the request", "\r\n" + get + "\r\n", false},
		{"bare LF line ends", "GET /healthz HTTP/1.1\nHost: x\n\n", false},
		{"Connection: close", get + "Connection: close\r\n\r\n", false},
		{"HTTP/1.0 keep-alive", "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false},
		{"Expect: 100-continue without a body", get + "Expect: 100-continue\r\n\r\n", false},
		{"an unknown Expect", get + "Expect: teapot\r\n\r\n", false},
		{"a header over 8 KiB", get + "X: " + strings.Repeat("a", 9000) + "\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, got := ask(t, ref, tc.raw), ask(t, tinit, tc.raw)
			if tc.bodyCloses {
				want.closes = true
			}
			t.Logf("%s: net/http %d (closes %v), tinit %d (closes %v)", tc.name, want.code, want.closes, got.code, got.closes)
			if !conforms(want, got) {
				t.Errorf("%q: tinit answers %d and closes=%v, net/http %d and closes=%v", tc.raw, got.code, got.closes, want.code, want.closes)
			}
		})
	}
}
