#!/bin/bash
# The commands of recipes/bookworm-docker.yaml run by hand, without
# bootstrap: same order, same flags, same environment, each step in a clean
# environment like bootstrap's. It exists only to measure the baseline that
# `bootstrap run` is compared with (the overhead ratio); it keeps no
# checkpoints and always builds everything.
#
# Usage: scripts/chain-by-hand.sh [WORKDIR]   (default .bootstrap/by-hand)
# Sources are read from the cache scripts/e2e-chain.sh seeds
# ($BOOTSTRAP_CACHE, default .bootstrap/cache) and verified by sha256, as
# `bootstrap run --offline` does.
set -euo pipefail

cd "$(dirname "$0")/.."
work=$(realpath -m "${1:-.bootstrap/by-hand}")
cache=$(realpath -m "${BOOTSTRAP_CACHE:-.bootstrap/cache}")
jobs=$(nproc)

go_version=1.19.8
docker_version=20.10.24+dfsg1
engine_commit=5d6db84
cli_commit=297e128
prefix=$work/install
src=$work/src
build=$work/build
gopath=$build/docker/_build
path=$prefix/go/bin:$prefix/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin

t0=$(date +%s.%N)
since() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
lap() { printf '%8ss  %s\n' "$(since)" "$*"; }

# step DIR VAR=VALUE… -- COMMAND…: run like bootstrap runs a step (clean
# environment, HOME and TMPDIR in the work dir, sh -e).
step() {
	local dir=$1
	shift
	mkdir -p "$dir" "$work/home" "$work/tmp"
	(cd "$dir" && env -i PATH="$path" HOME="$work/home" TMPDIR="$work/tmp" LANG=C.UTF-8 TZ=UTC \
		SOURCE_DATE_EPOCH=315532800 "$@")
}

# unpack SHA256 STRIP DEST: verify the cached file, then unpack it. STRIP is
# GNU tar's --strip-components, which (unlike bootstrap's strip:) counts a
# leading "./" as a component: Debian's orig tarballs have one.
unpack() {
	local f=$cache/sha256/$1
	echo "$1  $f" | sha256sum -c --quiet
	mkdir -p "$3"
	tar -xf "$f" -C "$3" --strip-components="$2"
}

rm -rf "$work"
mkdir -p "$work"

# gccgo-boot:link
mkdir -p "$build/gccgo-boot/bin"
ln -sfn /usr/bin/go-12 "$build/gccgo-boot/bin/go"
lap gccgo-boot

# go:fetch+patch, go:make, go:check, go:install
unpack 1d7a67929dccafeaf8a29e55985bc2b789e0499cb1a17100039f084e3238da2f 1 "$src/go"
"$build/gccgo-boot/bin/go" version >/dev/null # the requires: check (bootstrap also reads libgo)
goenv=(GOROOT_BOOTSTRAP="$build/gccgo-boot" GOCACHE="$build/go/gocache" GOROOT_FINAL="$prefix/go")
step "$src/go/src" "${goenv[@]}" sh -e -c ./make.bash
lap go:make
step "$build/go" "${goenv[@]}" sh -e -c "$src/go/bin/go version | grep -q 'go version go$go_version '"
step "$build/go" "${goenv[@]}" sh -e -c "rm -rf '$prefix/go'; mkdir -p '$prefix'; cp -a '$src/go' '$prefix/go'; '$prefix/go/bin/go' version"
lap go:install

# cgo-check:run
mkdir -p "$build/cgo-check"
cat > "$build/cgo-check/cgocheck.go" <<'EOF'
package main

/*
#include <stdio.h>
static int add(int a, int b) { return a + b; }
static const char *libc(void) { return "C"; }
*/
import "C"

import (
	"fmt"
	"runtime"
)

func main() {
	fmt.Printf("cgo ok: %s says 40+2=%d, built by %s\n", C.GoString(C.libc()), int(C.add(40, 2)), runtime.Version())
}
EOF
step "$build/cgo-check" CGO_ENABLED=1 GOCACHE="$build/cgo-check/gocache" GO111MODULE=off \
	sh -e -c 'go build -o cgocheck cgocheck.go && ./cgocheck'
lap cgo-check

# docker:fetch+patch: dpkg-source's layout, then Debian's quilt series.
s=$src/docker
unpack dcf1344809373f0c469afa4ae1a4fa2b5813b9c06a86715c687a6bab667c50bb 0 "$s"
unpack 952f68f219a5aac7c293d2dfb26fb4c641b60f6d8c5eebf8cbf32a3f1429d2ce 3 "$s/engine"
unpack 670549697a76b1c0ade0c41c79381a62c608d6ef829f8f45842a830d5ce189b7 2 "$s/cli"
unpack c895d579840fda49c6e42e52b0bd3c010b496a2c4fc02081fd5ea3e44dff1c21 2 "$s/libnetwork"
unpack 60d0a75217e4c74fe7ce819df4c5b4e34952eb4fac87ecef07f1d85b50cc511b 2 "$s/swarmkit"
grep -v '^\s*\(#\|$\)' "$s/debian/patches/series" | while read -r p _; do
	patch --batch -s -d "$s" -p1 -F0 < "$s/debian/patches/$p"
done
lap docker:patch

# docker:gopath: one GOPATH for all three here; the recipe makes one per
# component (docker-engine:gopath, …), since a sandboxed step may write only
# its own trees.
rm -rf "$gopath"
mkdir -p "$gopath/src/github.com/docker"
cp -a "$s/engine" "$gopath/src/github.com/docker/docker"
cp -a "$s/cli" "$gopath/src/github.com/docker/cli"
cp -a "$s/libnetwork" "$gopath/src/github.com/docker/libnetwork"
cp -a "$s/swarmkit" "$gopath/src/github.com/docker/swarmkit"
lap docker:gopath

genv=(GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOPROXY=off GOCACHE="$gopath/go-build" CGO_ENABLED=1)

# docker-engine:build, docker-engine:install
step "$gopath/src/github.com/docker/docker" "${genv[@]}" VERSION="$docker_version" \
	DOCKER_GITCOMMIT="$engine_commit" DOCKER_BUILDTAGS="apparmor seccomp" PRODUCT=docker \
	bash -e -c './hack/make.sh dynbinary'
mkdir -p "$prefix/bin"
cp "$gopath/src/github.com/docker/docker/bundles/dynbinary-daemon/dockerd-$docker_version" "$prefix/bin/dockerd"
lap docker-engine

# docker-cli:build, docker-cli:install
step "$gopath/src/github.com/docker/cli" "${genv[@]}" sh -e -c '
	buildtime=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
	go install -trimpath -v -p '"$jobs"' -tags pkcs11 -buildmode=pie \
	  -ldflags "-X github.com/docker/cli/cli/version.BuildTime=$buildtime -X github.com/docker/cli/cli/version.GitCommit='"$cli_commit"' -X github.com/docker/cli/cli/version.Version='"$docker_version"'" \
	  github.com/docker/cli/cmd/docker'
cp "$gopath/bin/docker" "$prefix/bin/docker"
lap docker-cli

# docker-proxy:build, docker-proxy:install
step "$gopath/src/github.com/docker/libnetwork" "${genv[@]}" \
	go install -trimpath -v -p "$jobs" github.com/docker/libnetwork/cmd/proxy
cp "$gopath/bin/proxy" "$prefix/bin/docker-proxy"
lap docker-proxy

# smoke:run: the recipe's script, extracted from it verbatim with the
# ${{ }} references replaced by this run's paths.
mkdir -p "$build/smoke"
script=$(awk '/^      - name: run$/ && found {on=1; next} /^  - name: smoke$/ {found=1}
	on && /^        run: \|$/ {body=1; next} body {sub(/^          /, ""); print}' recipes/bookworm-docker.yaml |
	sed -e "s|\${{ prefix }}|$prefix|g" -e "s|\${{ build }}|$build/smoke|g" -e "s|\${{ go_version }}|$go_version|g")
step "$build/smoke" bash -e -o pipefail -c "$script"
lap smoke

echo "the container said: $(cat "$build/smoke/container-output.txt")"
echo "total $(since) s"
