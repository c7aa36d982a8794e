# tinit: build, test, image. `make test` is the command CI runs.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Probes and scrapers speak HTTP/1.1: leaving HTTP/2 out of net/http saves
# about 0.55 MB of binary.
TAGS    := nethttpomithttp2
FUZZTIME ?= 20s

.PHONY: build test vet fmt fuzz chart-test bench image clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags "$(LDFLAGS)" -o bin/tinit ./cmd/tinit

# Everything CI checks: formatting, vet, unit and end-to-end tests (as PID 1
# in a fresh PID namespace: needs root), then a short fuzz run of the parser.
test: fmt vet
	$(GO) test -count=1 ./...
	$(MAKE) fuzz
	$(MAKE) chart-test

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./cmd/tinit

# The Helm chart's tests live in a module of their own, so that tinit's
# module never pulls Kubernetes or Helm. helm itself is built from the Go
# module proxy at a pinned version (about 4 minutes the first time, cached
# after that).
chart-test:
	cd charts/tinit/test && $(GO) vet ./... && $(GO) test -count=1 -timeout 20m ./...

# tinit against tini-static, dumb-init, catatonit and a minimal Go init,
# each as PID 1 of a fresh PID namespace, interleaved: writes
# bench/results.md and bench/latency.png (about 3 minutes; root; needs
# apt-get install tini dumb-init catatonit hyperfine gnuplot-nox).
bench:
	$(GO) run ./bench/cmd/bench

# The image copies the binary built on the host: no base image is pulled.
image: build
	docker build -t tinit:dev .

clean:
	rm -rf bin
