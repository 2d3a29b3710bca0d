# bootstrap: build, test, bench, dist, e2e.
# Go is expected at /usr/local/go (or on PATH); Debian packages the tests
# need are installed by scripts/deps.sh.

export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
PKGS    := ./...
# Fuzz targets run briefly in `make test`: package, function and how many
# inputs (about 10 s each here). Counts, not durations: Go before 1.27
# can fail a fuzz run with "context deadline exceeded" when its -fuzztime
# runs out while a worker is busy (golang/go#75804), which a slow moment of
# the machine makes likely. FUZZTIME=30s (say) overrides every count.
FUZZ    := ./bootstrap/recipe:FuzzLoad:50000x ./runner/unpack:FuzzUnpack:10000x ./runner/patch:FuzzParse:2000x
FUZZTIME ?=
DIST_TARGETS := linux/amd64 linux/386 linux/arm64 linux/arm/6 linux/arm/7 linux/ppc64le linux/s390x linux/riscv64

.PHONY: all build test deps lint fuzz bench dist e2e e2e-emulated e2e-go e2e-board e2e-cache check-debian check-historical clean man

all: build

build:
	$(GO) build -buildvcs=auto -o bin/bootstrap ./cmd/bootstrap

deps:
	./scripts/deps.sh test
	./scripts/debsrc.sh || echo "Debian sources unavailable: the tests that use them will skip"
	./scripts/sslib.sh || echo "Debian 13's securesystemslib unavailable: the DSSE test checks the signature alone"
	$(GO) mod download
	GO=$(GO) ./scripts/emulation.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# -timeout 30m: on a machine shared with an emulated build the integration
# tests of cmd/bootstrap were seen to need more than go test's default 10 min
# (CI itself has 90).
test: deps lint
	$(GO) test -race -count=1 -timeout 30m $(PKGS)
	$(MAKE) --no-print-directory fuzz

fuzz:
	@for f in $(FUZZ); do \
	  pkg=$${f%%:*}; rest=$${f#*:}; fn=$${rest%%:*}; budget=$${FUZZTIME:-$${rest#*:}}; \
	  echo "fuzz $$pkg $$fn for $$budget"; \
	  $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$$budget $$pkg || exit 1; \
	done

bench: build
	./scripts/bench.sh

dist:
	@mkdir -p dist
	@for t in $(DIST_TARGETS); do \
	  os=$$(echo $$t | cut -d/ -f1); arch=$$(echo $$t | cut -d/ -f2); arm=$$(echo $$t | cut -d/ -f3); \
	  out=dist/bootstrap-$$os-$$arch$${arm:+v$$arm}; \
	  echo "$$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags='-s -w' -o $$out ./cmd/bootstrap || exit 1; \
	done

# The real chain (recipes/bookworm-docker.yaml): TestE2EBookwormDocker runs
# scripts/e2e-chain.sh (seed the cache with apt-get source, doctor --install,
# run --offline), then the no-op rerun and the SIGKILL-and-resume checks.
# -p 1 streams the build's output as it happens.
e2e: build
	./scripts/deps.sh e2e
	BOOTSTRAP_E2E=1 $(GO) test -p 1 -count=1 -timeout 120m -run 'E2E' -v $(PKGS)

# The chain for a foreign target, natively on its userland under qemu-user
# (hours: see docs/emulation.md). TARGET=ppc64le builds recipes/power8.yaml;
# arm64, 386 and armhf build recipes/bookworm-docker.yaml; riscv64 builds
# recipes/riscv64.yaml. Work dirs and the cache live in /var/tmp/bootstrap-e2e,
# so a run cut short resumes where it stopped. Extra run arguments:
# E2E_ARGS="--to cgo-check".
TARGET ?= ppc64le
E2E_ARGS ?=
e2e-emulated: build
	./scripts/e2e-emulated.sh $(TARGET) $(E2E_ARGS)

# Every patch of the historical recipes (recipes/*-YYYY.yaml) must apply
# with fuzz 0 to its pinned source; sources come from the cache only, and a
# recipe whose sources are not there is skipped. BOOTSTRAP_CACHE=DIR picks
# the cache. See docs/historical.md.
check-historical: build
	./scripts/check-historical.sh

# Not CI: downloads about 60 Debian 12 source packages (once; kept in
# /var/cache/bootstrap-debsrc/check-debian), applies each quilt series with
# bootstrap and compares the tree with dpkg-source -x. See docs/how-it-works.md.
check-debian: build
	./scripts/check-debian.sh

# The Go climb (recipes/go-from-gccgo.yaml): gccgo-12 → … → go1.27.x, every
# hop from 1.21 on verified bit for bit against the published toolchain
# module; then a rerun that must do nothing. Needs root for apt (gccgo-12,
# golang-1.19's source) and the module proxy.
e2e-go: build
	./scripts/e2e-go.sh

# A foreign board on this machine, reached over SSH: a Debian 12 ppc64el
# root file system (made once with mmdebstrap, kept in
# /var/cache/bootstrap-board) whose own sshd runs under qemu-user in a
# network namespace; `ssh uname -m` there must say ppc64le, then the
# recipe cmd/bootstrap/testdata/board/board.yaml runs on it with --on.
# Minutes (the first time longer: the tree); root. See scripts/e2e-board.sh.
e2e-board: build
	./scripts/deps.sh e2e
	./scripts/e2e-board.sh

# The shared build cache on the Go climb (docs/cache.md): machine 1 builds
# (or reuses BOOTSTRAP_WORKDIR, e.g. make e2e-go's) and pushes to a
# docker-registry started on loopback; machine 2 restores 7 of 7 in at most
# 5 minutes and every verify: from Go 1.21 on says bit-identical again.
e2e-cache: build
	./scripts/e2e-cache.sh

clean:
	rm -rf bin dist

# The manual page, generated from the command definitions (urfave/cli's
# ToMan) so that it says what --help says. View with: man -l docs/bootstrap.1
man:
	@mkdir -p docs
	$(GO) run ./cmd/bootstrap man > docs/bootstrap.1.tmp && mv docs/bootstrap.1.tmp docs/bootstrap.1
