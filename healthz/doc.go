// Package healthz is tinit's HTTP endpoint: /healthz (liveness), /readyz
// (readiness) and /metrics (Prometheus), plus the optional application
// checks that feed them, the --wait-for targets tried before the child
// starts (Wait), and the client behind `tinit --healthcheck`.
//
// Invariants:
//
//   - The supervisor loop is the only writer of Status, through
//     State.Update; the handlers read copies (State.Snapshot) and never
//     change anything. Likewise only Checks.Run writes CheckResult, and
//     only a Wait (its rounds, Start and Stop) writes its WaitResult. A
//     slow HTTP client therefore never holds a lock, and the handler never
//     blocks on anything but those three mutexes.
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
//   - --wait-for (Wait): the loop starts and stops rounds; a round runs
//     one goroutine per target, which tries it every WaitEvery (500 ms),
//     each attempt bounded by WaitAttempt (1 s), until it holds once; a
//     target that held is not tried again in that round. Sockets and
//     timers are on the network poller and hold no thread, and a target
//     holds at most one fd at a time. Stop returns once the goroutines
//     have ended (but for a stat(2) hung on a dead mount, which ends with
//     the stat). An http target holds on 2xx only, where a check takes
//     3xx too: a check asks whether the app answers, a wait whether the
//     dependency says it is ready, and a redirect does not say that. A
//     unix target holds on a stream connect, not on the socket file: a
//     file left by a server that died refuses. While the phase is
//     "waiting", /readyz is 503 naming the targets not held yet; /healthz
//     is not affected (waiting is tinit doing its job).
//   - At most one stat(2) runs at a time across the file checks and,
//     given Checks.ShareStat, the file: wait targets: a stat cannot be
//     cancelled, and each one hung on a dead mount holds a thread that
//     cmd/tinit's thread budget counts once. An attempt or round that
//     cannot get its turn times out like any other.
//   - The listener is close-on-exec (every Go socket is), so the child
//     never inherits it.
//   - No client can starve a probe, and none can take tinit's fds: at most
//     maxConns (64) accepted sockets are open at any moment, the one just
//     accepted included, so the endpoint holds at most 65 fds with its
//     listener, and one goroutine and one pooled 8 KiB reader per
//     connection. The accept loop never waits for a slot: when the
//     connections held and a newcomer fill the budget, the connection
//     worth least is closed first (one closing, then the longest idle,
//     then the slowest unfinished request, one arriving in pieces before
//     one that came whole, then one not read yet, then one being
//     answered), and its fd is gone before the next accept. For
//     a second after such an eviction every connection is closed after
//     one answer, so kept-alive clients queue in accept order like
//     everyone else. TCP_DEFER_ACCEPT keeps a connection that has sent
//     nothing in the kernel (no fd) for 2 s, and a connection that
//     arrives carries its request. Tested: with 1,000 reconnecting
//     silent, slowloris, idle kept-alive or flooding clients, a probe
//     every 250 ms with a 1 s timeout never fails.
//   - Requests are read as net/http's server reads them: what it refuses
//     (a missing Host, a bad Content-Length or Transfer-Encoding, a
//     control byte in a header value or the target, a malformed version)
//     gets the same status here, and what it accepts is read as the same
//     method and path. Tested side by side, and fuzzed.
//   - The package holds no mutable state of its own: State, Checks and the
//     server are values the caller creates and owns.
//
// Metrics are written by hand, not with prometheus/client_golang: tinit's
// binary budget is 6 MiB stripped, and client_golang would take much of it
// (measured in docs/performance.md). The text format is simple, and the
// tests check it with prometheus/common/expfmt, the parser Prometheus
// itself uses. A series with no value yet (the main child's start time
// before the first start, the last heartbeat's time with the heartbeat
// off, how long the wait took before its first round) is left out, not
// written as 0; its family's HELP and TYPE are there all the same.
// tinit_build_info has a series only when the caller gives the build
// (Handler.WithBuild); tinit_wait_target_up and tinit_wait_seconds only
// with --wait-for targets (Handler.WithWait); tinit_reloads_total only
// with reloads configured (Status.ReloadOn), and then all four series,
// zeros included, so that a rate over them sees the first reload.
//
// The server and the client speak HTTP/1.1 on bare net, not net/http. The
// health issue asked for a net/http server; the benchmark issue measured
// what it costs, and it is most of tinit: net/http links crypto/tls and
// its own HTTP/2 whether or not the endpoint is on (the figures are in
// docs/performance.md). What probes and scrapers need is small: a
// request line, a few headers, a Content-Length answer, keep-alive, HEAD. The server keeps
// what net/http's gave: a 2 s header timeout (from the request's first
// byte; 30 s idle between kept-alive requests while nobody needs the
// slot), an 8 KiB header limit (431), 5 s to write an answer, and a
// linger before closing on an error, so the client reads the 400 or 431
// rather than a reset; and it adds what net/http lacks, a bound on
// connections that no client can use to lock the others out. Request
// bodies are never read: a request with one is answered and its
// connection closed. The tests drive it with net/http's client and
// parser, compare its answers with net/http's server, attack it, and
// fuzz the request reader.
//
// Why eviction and not shorter timeouts alone: a timeout frees a slot
// after it runs out, whoever is waiting, while 1,000 attackers who
// reconnect at once refill every slot it frees and the probe waits in the
// accept queue behind them. Eviction frees a slot exactly when a
// newcomer needs one, and the ranking decides who pays. It gives each
// newcomer as long as 63 newer connections take to arrive; deferring
// accept until the request has come and starting each connection's
// goroutine before the next accept make that enough.
//
// The price is https: an --check-http URL must be http://, and --wait-for
// refuses https:// at start. An app or a dependency that serves only TLS
// can be checked with --check-tcp, or awaited with tcp://HOST:PORT.
package healthz
