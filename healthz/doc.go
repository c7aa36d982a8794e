// Package healthz is tinit's HTTP endpoint: /healthz (liveness), /readyz
// (readiness) and /metrics (Prometheus), plus the optional application
// checks that feed them and the client behind `tinit --healthcheck`.
//
// Invariants:
//
//   - The supervisor loop is the only writer of Status, through
//     State.Update; the handlers read copies (State.Snapshot) and never
//     change anything. Likewise only Checks.Run writes CheckResult. A slow
//     HTTP client therefore never holds a lock, and the handler never
//     blocks on anything but those two mutexes.
//   - Liveness fails only when restarting tinit would help: the event loop
//     has missed three heartbeats (staleTicks), or the application checks
//     have failed without a break for FailAfter. A dead or restarting main
//     child is not a liveness failure (tinit is doing its job); it makes
//     readiness fail instead, as does stopping (a stop signal came, the
//     --drain window included) or a failing check.
//   - Time comes from an injected Clock, so staleness is tested without
//     sleeping. LastTick is set from time.Now, whose monotonic reading
//     keeps ages right when the wall clock is set. The loop sets LastTick
//     whenever it turns the heartbeat on; a zero LastTick with the
//     heartbeat on reads as a stalled loop.
//   - Checks are false until their first round passes: readiness must not
//     claim an application is up before anyone has looked. A round cut
//     short by shutdown publishes nothing. HTTP checks do not follow
//     redirects and ignore HTTP_PROXY.
//   - The listener is close-on-exec (every Go socket is), so the child
//     never inherits it. At most 64 connections are open at once and every
//     server timeout is bounded, so clients cannot exhaust tinit's fds.
//   - The package holds no mutable state of its own: State, Checks and the
//     server are values the caller creates and owns.
//
// Metrics are written by hand, not with prometheus/client_golang: tinit's
// binary budget is 6 MiB stripped. Measured with Go 1.26.8 on linux/amd64
// (go build -ldflags='-s -w'), a tiny main serving promhttp.Handler() is
// 8,741,129 bytes against 5,828,873 for the same main serving a plain
// handler: client_golang v1.25.0, with its protobuf and procfs
// dependencies, adds 2,912,256 bytes (2.8 MiB) for six series. The text
// format is simple, and the tests check it with prometheus/common/expfmt,
// the parser Prometheus itself uses.
//
// The server and the client speak HTTP/1.1 on bare net, not net/http. The
// health issue asked for a net/http server; the benchmark issue measured
// what it costs, and it is most of tinit: net/http links crypto/tls and
// its own HTTP/2 whether or not the endpoint is on. With it, cmd/tinit was
// 6.6 MB stripped (7.14 MB with HTTP/2), started in 26.7 ms against
// 20.9 ms without, and held 8.1 MB resident against 4.1 MB. Without it,
// 3.5 MB. What probes and scrapers need is small: a request line, a few
// headers, a Content-Length answer, keep-alive, HEAD. The server keeps
// what net/http's gave: a 2 s header timeout (from the request's first
// byte; 30 s idle between kept-alive requests), an 8 KiB header limit
// (431), 5 s to write an answer, at most maxConns connections, and a
// linger before closing on an error, so the client reads the 400 or 431
// rather than a reset. Request bodies are never read: a request with one
// is answered and its connection closed. The tests drive it with
// net/http's client and parser, and fuzz the request reader.
//
// The price is https: an --check-http URL must be http://. crypto/tls
// alone is about 2.6 MB; an app that serves only TLS can be checked with
// --check-tcp.
package healthz
