package healthz

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadAnswer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		raw      string
		wantCode int
		wantLine string
		wantErr  string
	}{
		{"a plain answer", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\ndraining\n", 503, "draining", ""},
		{"an HTTP/1.0 answer without a reason", "HTTP/1.0 200\r\n\r\nok\n", 200, "ok", ""},
		{"bare LF line ends", "HTTP/1.1 200 OK\nX: y\n\nok\n", 200, "ok", ""},
		{"interim 1xx answers are skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204, "", ""},
		{"a chunked body's first line", "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nboom\n\r\n0\r\n\r\n", 500, "boom", ""},
		{"a body line without a newline", "HTTP/1.1 503 x\r\n\r\nno newline", 503, "no newline", ""},
		{"a long body line is cut", "HTTP/1.1 503 x\r\n\r\n" + strings.Repeat("b", 300), 503, strings.Repeat("b", 200) + "...", ""},
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", 0, "", `malformed answer "SSH-2.0-OpenSSH_9.2\r\n"`},
		{"a status that is not a number", "HTTP/1.1 2xx OK\r\n\r\n", 0, "", "malformed answer"},
		{"closed before the status line ends", "HTTP/1.1 200", 0, "", "connection closed without a complete answer"},
		{"closed inside the headers", "HTTP/1.1 200 OK\r\nX: y\r\n", 0, "", "connection closed without a complete answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, line, err := readAnswer(bufio.NewReader(strings.NewReader(tc.raw)))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || code != tc.wantCode || line != tc.wantLine {
				t.Errorf("got %d %q %v, want %d %q", code, line, err, tc.wantCode, tc.wantLine)
			}
		})
	}
}

func TestGetSendsOneCloseRequestWithCredentialsAndNoProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.WriteHeader(204)
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://app:s3cret@", 1) + "/health?deep=1"
	code, _, err := get(context.Background(), u)
	if err != nil || code != 204 {
		t.Fatalf("get %s: %d, %v", u, code, err)
	}
	r := <-got
	if user, pass, ok := r.BasicAuth(); !ok || user != "app" || pass != "s3cret" {
		t.Errorf("credentials %q %q %v, want app s3cret", user, pass, ok)
	}
	if r.URL.RequestURI() != "/health?deep=1" || r.Method != "GET" || !r.Close {
		t.Errorf("request %s %s close=%v, want GET /health?deep=1 with Connection: close", r.Method, r.URL.RequestURI(), r.Close)
	}
}

func TestGetEndsWithItsContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"a deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
		{"a cancellation", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			_, _, err := get(ctx, srv.URL)
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("get took %v, want about 100ms", d)
			}
		})
	}
}

func TestGetRefusesWhatItCannotSpeak(t *testing.T) {
	for _, u := range []string{"https://127.0.0.1:1/", "ftp://x/", "http://", "::"} {
		if _, _, err := get(context.Background(), u); err == nil {
			t.Errorf("get %q succeeded", u)
		}
	}
}
