package healthz

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxAnswer bounds what get reads of a status line, the headers and the
// first body line: the checks and the probe need only the status (and
// tinit's own one-line reason), and a stranger's answer may be anything.
const maxAnswer = 16 << 10

// get sends one GET for the http:// URL raw and returns the status code
// and the first line of the body. It follows no redirect, uses no proxy
// (HTTP_PROXY is for the application's own traffic, not for loopback) and
// closes the connection after one answer, so no fd is held between checks.
// When ctx ends first, the error is ctx's.
func get(ctx context.Context, raw string) (code int, line string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, "", err
	}
	if u.Scheme != "http" || u.Host == "" {
		return 0, "", fmt.Errorf("want an http:// URL")
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, "", orCtx(ctx, err)
	}
	defer c.Close()
	// The deadline bounds the exchange; closing on ctx's end covers a
	// context that is cancelled rather than timed out.
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := c.Write(requestFor(u)); err != nil {
		return 0, "", orCtx(ctx, err)
	}
	code, line, err = readAnswer(bufio.NewReader(io.LimitReader(c, maxAnswer)))
	return code, line, orCtx(ctx, err)
}

// requestFor is the GET request for u, with credentials from its userinfo
// as a browser (and net/http) would send them.
func requestFor(u *url.URL) []byte {
	var b bytes.Buffer
	b.WriteString("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n")
	if u.User != nil {
		pass, _ := u.User.Password()
		b.WriteString("Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)) + "\r\n")
	}
	b.WriteString("User-Agent: tinit\r\nAccept: */*\r\nConnection: close\r\n\r\n")
	return b.Bytes()
}

// readAnswer reads a status line, skips the headers and returns the
// status code and the first body line. Interim 1xx answers are skipped.
func readAnswer(br *bufio.Reader) (code int, line string, err error) {
	for {
		status, err := br.ReadString('\n')
		if err != nil {
			return 0, "", malformed(err)
		}
		// "HTTP/1.1 503 Service Unavailable"
		proto, rest, _ := strings.Cut(strings.TrimRight(status, "\r\n"), " ")
		num, _, _ := strings.Cut(rest, " ")
		code, err = strconv.Atoi(num)
		if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || len(num) != 3 || code < 100 {
			return 0, "", fmt.Errorf("malformed answer %q", truncate(status, 40))
		}
		chunked := false
		for {
			h, err := br.ReadString('\n')
			if err != nil {
				return 0, "", malformed(err)
			}
			h = strings.TrimRight(h, "\r\n")
			if h == "" {
				break
			}
			name, value, _ := strings.Cut(h, ":")
			if strings.EqualFold(name, "Transfer-Encoding") && strings.Contains(strings.ToLower(value), "chunked") {
				chunked = true
			}
		}
		if code >= 200 {
			return code, firstLine(br, chunked), nil
		}
	}
}

// firstLine is the first line of the body, best effort: it only decorates
// an error message.
func firstLine(br *bufio.Reader, chunked bool) string {
	if chunked {
		br.ReadString('\n') // the first chunk's size
	}
	s, _ := br.ReadString('\n')
	return truncate(strings.TrimSpace(s), 200)
}

func malformed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("connection closed without a complete answer")
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// isDial reports whether err is a failure to connect.
func isDial(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// orCtx returns ctx's error when ctx has ended: the failure is then the
// deadline or the cancellation, whatever the socket said. The socket's
// deadline is ctx's, and may pass a moment before ctx notices its own.
func orCtx(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return context.DeadlineExceeded
	}
	return err
}

// Probe asks the endpoint at addr (as given to Listen) whether tinit is
// alive: nil only when GET /healthz answers 200. An empty host, 0.0.0.0 or
// :: means loopback, since that is where a listener on every address can
// be reached from inside the container.
func Probe(addr string, timeout time.Duration) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("probe %q: bad address: want HOST:PORT", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("probe %q: bad address: port %q is not a number in 1-65535", addr, port)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	u := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code, line, err := get(ctx, u)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("probe %s: no answer within %v", u, timeout)
	case isDial(err):
		return fmt.Errorf("probe %s: unreachable: %w", u, innermost(err))
	case err != nil:
		return fmt.Errorf("probe %s: %w", u, innermost(err))
	case code == 200:
		return nil
	case line == "":
		return fmt.Errorf("probe %s: status %d", u, code)
	}
	return fmt.Errorf("probe %s: status %d: %s", u, code, line)
}
