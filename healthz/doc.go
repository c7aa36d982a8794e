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
//     readiness fail instead, as does draining or a failing check.
//   - Time comes from an injected Clock, so staleness is tested without
//     sleeping. LastTick is set from time.Now, whose monotonic reading
//     keeps ages right when the wall clock is set. The loop sets LastTick
//     whenever it turns the heartbeat on; a zero LastTick with the
//     heartbeat on reads as a stalled loop.
//   - Checks are false until their first round passes: readiness must not
//     claim an application is up before anyone has looked. A round cut
//     short by shutdown publishes nothing. HTTP checks do not follow
//     redirects, ignore HTTP_PROXY and verify TLS certificates as usual.
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
// net/http is the price of this package even so. It always links
// crypto/tls and HTTP/2: cmd/tinit was 2.87 MB before it imported healthz
// and 7.14 MB after. The Makefile builds with -tags nethttpomithttp2
// (probes speak HTTP/1.1), which gives 6.6 MB: still over the 6 MiB
// budget. Dropping the http.Client used by Probe and the HTTP checks would
// take about 0.5 MB more; a server without net/http, much more. That
// choice belongs to the benchmark issue, with its measurements.
package healthz
