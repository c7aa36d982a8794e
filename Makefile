# tinit: build, test, image. `make test` is the command CI runs.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Extra build tags, none by default.
TAGS    ?=
FUZZTIME ?= 20s

# Release architectures as GOARCH; arm is ARMv7 hard-float, Debian's armhf.
ARCHES  := amd64 arm64 arm 386 ppc64le s390x riscv64
DIST    ?= dist
# Each architecture's variant pinned to Go's default (and Debian's
# baseline), so that a GOAMD64=v3 or GOARM=6 in someone's environment
# cannot change what a release contains.
GOVARIANTS := GOAMD64=v1 GO386=sse2 GOARM=7 GOPPC64=power8 GORISCV64=rva20u64
# The .deb's file times and changelog date: the commit's, so that a rebuild
# gives the same bytes. Outside a checkout nothing stable is known: set it.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)

.PHONY: build test check race cover vet fmt fuzz charts-release chart-test node-test kube-bench kube-build kube-up kube-down bench image images image-layout clean release deb cross

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(TAGS)' -ldflags "$(LDFLAGS)" -o bin/tinit ./cmd/tinit

# Everything CI checks: make check, then the charts run by a real kubelet
# on a single-node Kubernetes (make node-test: root; the node's binaries
# build in about 5 minutes the first time, cached after that).
test: check node-test

# Everything but the node, for the inner loop: formatting, vet, the unit
# tests under the race detector, unit and end-to-end tests (as PID 1 in a
# fresh PID namespace: needs root), a short fuzz run of the parsers, and
# tinit-inject's own tests (a module of its own, cmd/tinit-inject), and the
# chart tests (lint and render, no kubelet).
# cmd/tinit's tests include one make release (a cold cross-build of seven
# architectures takes minutes), so go test's 10-minute default is too short.
# The fuzzers run one after the other: side by side on two cores, the
# notify fuzzer's baseline run over its corpus outlasted its FUZZTIME once
# ("context deadline exceeded", a failure) with a cold cache; and beside
# the chart tests, their cold compile of Kubernetes' API took 116 s
# instead of 27 s (measured).
check: fmt vet race cover
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) fuzz
	$(MAKE) inject-test
	$(MAKE) chart-test

# The unit packages again, under the race detector: about 6 s with a warm
# build cache, about 80 s from an empty one (the race-instrumented standard
# library is built once). -race needs cgo, so a C compiler (gcc).
# cmd/tinit is left out: its tests are end-to-end, run the binary and
# would only race-check the test driver.
RACE_PKGS := ./signals/... ./reaper/... ./healthz/... ./init/... ./notify/...
race:
	CGO_ENABLED=1 $(GO) test -race -count=1 $(RACE_PKGS)

# The supervisor's own unit tests (fake clock, fake process operations)
# must cover at least SUPERVISE_COVER percent of its statements: every
# (phase, event) pair is meant to be a unit test, not left to the
# end-to-end suite.
SUPERVISE_COVER := 85
cover:
	@$(GO) test -count=1 -coverprofile=.cover.out ./init/supervise >/dev/null
	@total=$$($(GO) tool cover -func=.cover.out | awk '/^total:/ {sub("%","",$$3); print $$3}'); rm -f .cover.out; \
	echo "init/supervise: $$total% of statements covered by its unit tests (minimum $(SUPERVISE_COVER)%)"; \
	awk -v t="$$total" -v m=$(SUPERVISE_COVER) 'BEGIN { exit !(t >= m) }'

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet .ci/ociimage/main.go

FUZZ_TARGETS := fuzz-cmd fuzz-healthz fuzz-notify
.PHONY: $(FUZZ_TARGETS)
fuzz: $(FUZZ_TARGETS)
fuzz-cmd:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./cmd/tinit
fuzz-healthz:
	$(GO) test -run='^$$' -fuzz=FuzzReadRequest -fuzztime=$(FUZZTIME) ./healthz
fuzz-notify:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./notify

# The Helm charts' tests (charts/tinit, tinit-lib and tinit-inject) live
# in a module of their own, charts/tinit/test, so that tinit's module
# never pulls Kubernetes or Helm. helm itself is built from the Go module
# proxy at a pinned version (about 4 minutes the first time, cached after
# that).
chart-test:
	cd charts/tinit/test && $(GO) vet ./... && $(GO) test -count=1 -timeout 20m ./...

# The node tests (charts/tinit/test/node, a module of their own): the
# charts run by a real kubelet on the single-node Kubernetes of
# .ci/kube/node (root). vet first, outside the node; then up, the tests
# inside the node's namespaces, and down whatever happened, keeping the
# tests' exit code. A machine that cannot start a node (up exits 3: not
# root, no cgroups) fails with up's line when CI is set, skips otherwise.
# The node's network namespace does not reach the module proxy: what the
# tests build inside it (helm, tinit, tinit-inject, the tests themselves)
# is fetched and built here first, so that inside it comes from the caches.
NODE_TEST_DIR := charts/tinit/test/node
NODE_TEST_HELM := $(shell sed -n 's/^const HelmModule = "\(.*\)"$$/\1/p' $(NODE_TEST_DIR)/internal/nodetest/env.go)
node-test:
	cd $(NODE_TEST_DIR) && $(GO) vet ./...
	$(GO) build -o /dev/null ./cmd/tinit
	cd $(INJECT_DIR) && CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o /dev/null .
	cd $(NODE_TEST_DIR) && $(GO) run -exec true $(NODE_TEST_HELM)
	@tmp=$$(mktemp -d); \
	{ .ci/kube/node up; echo $$? >$$tmp/rc; } 2>&1 | tee $$tmp/log; \
	rc=$$(cat $$tmp/rc); line=$$(tail -n 1 $$tmp/log); rm -rf $$tmp; \
	if [ "$$rc" = 3 ]; then \
		if [ -n "$${CI:-}" ]; then echo "node-test: FAIL: $$line"; exit 1; fi; \
		echo "node-test: skipped: $$line"; exit 0; \
	fi; \
	if [ "$$rc" != 0 ]; then .ci/kube/node down; exit $$rc; fi; \
	rc=0; go=$$(command -v $(GO)); \
	(cd $(NODE_TEST_DIR) && $(CURDIR)/.ci/kube/node exec $$go test -count=1 -timeout 30m ./...) || rc=$$?; \
	.ci/kube/node down || { echo "node-test: down failed"; [ "$$rc" != 0 ] || rc=1; }; \
	exit $$rc

# Start-up cost on the node (issue 20's benchmark 5): create to Ready of
# busybox httpd plain, in inject mode, and in inject mode probed on
# tinit's /readyz, interleaved (cmd/readybench; its figures are in
# docs/performance.md, "On a Kubernetes node"). Uses the node that is up,
# or brings one up and down again. READYBENCH_FLAGS go to readybench
# (-runs, -period, -interval...). As for node-test, what is built inside
# the node is fetched and built here first. About 5 minutes with a node up.
KUBE_NODE ?= $(CURDIR)/.ci/kube/node
READYBENCH_FLAGS ?=
kube-bench:
	cd $(NODE_TEST_DIR) && $(GO) vet ./cmd/readybench
	$(GO) build -o /dev/null ./cmd/tinit
	cd $(NODE_TEST_DIR) && $(GO) run -exec true $(NODE_TEST_HELM)
	@started=0; \
	if ! $(KUBE_NODE) status >/dev/null 2>&1; then $(KUBE_NODE) up || exit $$?; started=1; fi; \
	rc=0; go=$$(command -v $(GO)); \
	(cd $(NODE_TEST_DIR) && $(KUBE_NODE) exec $$go run ./cmd/readybench $(READYBENCH_FLAGS)) || rc=$$?; \
	if [ $$started = 1 ]; then $(KUBE_NODE) down || { [ "$$rc" != 0 ] || rc=1; }; fi; \
	exit $$rc

# tinit against tini-static, dumb-init, catatonit and a minimal Go init,
# each as PID 1 of a fresh PID namespace, interleaved: writes
# bench/results.md and bench/latency.png (about 3 minutes; root; needs
# apt-get install tini dumb-init catatonit hyperfine gnuplot-nox).
bench:
	$(GO) run ./bench/cmd/bench

# The image's OCI labels: the version, the commit, and SOURCE_DATE_EPOCH as
# RFC 3339 (the commit's time: a rebuild gives the same labels).
CREATED := $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
IMAGE_ARGS = --build-arg VERSION=$(VERSION) --build-arg REVISION=$(COMMIT) --build-arg CREATED=$(CREATED)

# The image copies the binary built on the host: no base image is pulled.
image: build
	docker build $(IMAGE_ARGS) -t tinit:dev .

# One image per release architecture, each holding that architecture's
# release binary, and an OCI image index over them, as an OCI image layout
# in $(OCI_LAYOUT) (tagged $(VERSION)): push it with e.g.
#   skopeo copy --all oci:dist/oci:$(VERSION) docker://REGISTRY/tinit:$(VERSION)
# No engine is needed and no base image is pulled: .ci/ociimage packs the
# Dockerfile (stdlib Go only) and, from the same binaries and
# SOURCE_DATE_EPOCH, writes the same bytes.
OCI_LAYOUT ?= $(DIST)/oci
comma := ,
empty :=
space := $(empty) $(empty)
PLATFORMS = $(subst $(space),$(comma),$(strip $(foreach a,$(ARCHES),linux/$(a))))

images: release
	$(MAKE) image-layout VERSION=$(VERSION) COMMIT=$(COMMIT) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH)

# image-layout packs the binaries already in $(DIST) (make images runs it
# after make release).
image-layout:
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run .ci/ociimage/main.go -o $(OCI_LAYOUT) \
		-context $(DIST) -build-arg DIST=. -platform $(PLATFORMS) -tag $(VERSION) \
		-build-arg VERSION=$(VERSION) -build-arg REVISION=$(COMMIT) -build-arg CREATED=$(CREATED)

# Static binaries for every release architecture, a .deb for each and
# SHA256SUMS over all of them, in $(DIST). Reproducible: no path (-trimpath),
# no VCS stamp (-buildvcs=false: the commit goes in through -X, so a copy
# outside a checkout builds the same bytes) and no clock goes in.
release: deb charts-release
	cd $(DIST) && sha256sum tinit-linux-* tinit_*.deb tinit-*.tgz > SHA256SUMS

# The three charts as packages (name-CHARTVERSION.tgz, as helm package
# names them), with the release's version written in: appVersion, and
# tinit-lib's default image tag (inside an include .Chart is the user's
# chart, so tinit-lib carries its own); tinit-inject's two images default
# to its appVersion. charts/tinit's tinit-lib symlink becomes a copy; its
# Go test module (which tests tinit-inject too) stays out, as .helmignore
# says. The same bytes for the same SOURCE_DATE_EPOCH.
CHARTS := tinit-lib tinit tinit-inject
charts-release:
	rm -rf $(DIST)/charts-src && mkdir -p $(DIST)/charts-src
	cp -RL $(addprefix charts/,$(CHARTS)) $(DIST)/charts-src/
	rm -rf $(DIST)/charts-src/tinit/test
	charts/set-app-version.sh $(VERSION) $(DIST)/charts-src
	rm -rf $(DIST)/charts-src/tinit/charts/tinit-lib && cp -R $(DIST)/charts-src/tinit-lib $(DIST)/charts-src/tinit/charts/
	set -e; cd $(DIST)/charts-src && for c in $(CHARTS); do \
		v=$$(sed -n 's/^version: *//p' $$c/Chart.yaml); \
		tar --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 --numeric-owner \
			--mode=u+rw,go+r,go-w -cf - $$c | gzip -n > ../$$c-$$v.tgz; \
	done
	rm -rf $(DIST)/charts-src

deb: cross
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) .ci/deb/build.sh $(DIST) $(VERSION)

cross:
	rm -rf $(DIST) && mkdir -p $(DIST)
	set -e; for arch in $(ARCHES); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GOVARIANTS) $(GO) build -trimpath -buildvcs=false \
			-tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(DIST)/tinit-linux-$$arch ./cmd/tinit; \
	done

clean:
	rm -rf bin $(DIST)

# A single-node Kubernetes in namespaces of its own, for the tests
# (docs/testing.md, "The Kubernetes node"; root). kube-up builds first if
# needed (about 5 minutes cold), and the node stops by itself after
# KUBE_TIME_LIMIT seconds (default 5400).
kube-build:
	.ci/kube/node build
kube-up:
	.ci/kube/node up $(if $(KUBE_TIME_LIMIT),--time-limit $(KUBE_TIME_LIMIT))
kube-down:
	.ci/kube/node down

# tinit-inject (cmd/tinit-inject, a Go module of its own, so that tinit's
# module keeps its three dependencies): the mutating admission webhook
# that puts tinit into any pod, and its render command. Its flags and
# interface: cmd/tinit-inject/README.md.
.PHONY: inject-build inject-test inject-bench inject-image-tar inject-cross inject-images image-tar
INJECT_DIR   := cmd/tinit-inject
INJECT_ARCH  ?= $(shell $(GO) env GOARCH)
INJECT_TAR   ?= $(DIST)/tinit-inject-image.tar
INJECT_IMAGE ?= tinit-inject:dev
INJECT_OCI_LAYOUT ?= $(DIST)/oci-tinit-inject
INJECT_FUZZTIME ?= $(FUZZTIME)

# bin/tinit-inject, static as the scratch image needs.
inject-build:
	cd $(INJECT_DIR) && CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags "$(LDFLAGS)" -o $(CURDIR)/bin/tinit-inject .

# vet, the unit tests (the in-process registry included; one test builds
# tinit from this checkout to compare settings), and a short fuzz of the
# AdmissionReview decoding.
inject-test:
	cd $(INJECT_DIR) && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd $(INJECT_DIR) && $(GO) test -run='^$$' -fuzz=FuzzDecodeReview -fuzztime=$(INJECT_FUZZTIME) ./webhook

# Admission latency in process, cache hit and miss (docs/performance.md,
# "tinit-inject").
inject-bench:
	cd $(INJECT_DIR) && $(GO) test -run='^$$' -bench=BenchmarkAdmission -benchtime=2s -count=5 ./webhook

# tinit-inject:dev for this machine's architecture as a docker-archive
# tar, without an engine: .ci/ociimage packs cmd/tinit-inject/Dockerfile
# over bin/tinit-inject. docker load or .ci/kube/node import takes it.
inject-image-tar: inject-build
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run .ci/ociimage/main.go -docker-archive $(INJECT_TAR) \
		-f $(INJECT_DIR)/Dockerfile -context . -platform linux/$(INJECT_ARCH) -tag $(INJECT_IMAGE) \
		-build-arg VERSION=$(VERSION) -build-arg REVISION=$(COMMIT) -build-arg CREATED=$(CREATED)

# tinit:dev for this machine's architecture as a docker-archive tar,
# without an engine (make image needs dockerd): the Dockerfile packed over
# bin/tinit by .ci/ociimage, for .ci/kube/node import or push.
IMAGE_TAR ?= $(DIST)/tinit-image.tar
image-tar: build
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run .ci/ociimage/main.go -docker-archive $(IMAGE_TAR) \
		-f Dockerfile -context . -platform linux/$(INJECT_ARCH) -tag tinit:dev \
		-build-arg VERSION=$(VERSION) -build-arg REVISION=$(COMMIT) -build-arg CREATED=$(CREATED)

# Static binaries for every release architecture, as make cross builds
# tinit's, in $(DIST) (make images runs it after make release, whose
# cross empties $(DIST) first).
inject-cross:
	mkdir -p $(DIST)
	set -e; cd $(INJECT_DIR) && for arch in $(ARCHES); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GOVARIANTS) $(GO) build -trimpath -buildvcs=false \
			-ldflags "$(LDFLAGS)" -o $(abspath $(DIST))/tinit-inject-linux-$$arch .; \
	done

# The multi-architecture tinit-inject image, an OCI image layout in
# $(INJECT_OCI_LAYOUT) tagged $(VERSION), as make images builds tinit's.
inject-images: inject-cross
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run .ci/ociimage/main.go -o $(INJECT_OCI_LAYOUT) \
		-f $(INJECT_DIR)/Dockerfile -context $(DIST) -build-arg DIST=. -platform $(PLATFORMS) -tag $(VERSION) \
		-build-arg VERSION=$(VERSION) -build-arg REVISION=$(COMMIT) -build-arg CREATED=$(CREATED)

# make images builds tinit-inject's too, after release (prerequisites run
# in order: release's cross empties $(DIST) before inject-cross fills it).
images: inject-images
