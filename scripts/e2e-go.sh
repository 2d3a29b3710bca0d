#!/bin/sh
# The Go climb end to end: gccgo-12 → Go 1.19.8 → 1.21.13 → 1.22.12 →
# 1.24.13 → 1.26.11 → 1.27.4 (recipes/go-from-gccgo.yaml), every hop from
# 1.21 on verified bit for bit against the published toolchain module.
#
# Stages: seed the cache with Debian's golang-1.19 orig tarball
# (byte-identical to go1.19.8.src.tar.gz), install gccgo-12, fetch the
# toolchain modules from $GOPROXY, build offline, check that every verify
# step said bit-identical, rerun (nothing must run), print the record.
#
# Environment (all optional):
#   BOOTSTRAP          the bootstrap binary (default bin/bootstrap, built by make)
#   BOOTSTRAP_WORKDIR  work dir (default .bootstrap/go-from-gccgo)
#   BOOTSTRAP_CACHE    cache dir (default .bootstrap/cache)
#   BOOTSTRAP_DEBSRC   a directory that already holds golang-1.19's files
# Extra arguments are passed to `bootstrap run` (e.g. --target arm64).
set -eu

cd "$(dirname "$0")/.."
recipe=recipes/go-from-gccgo.yaml
bs=${BOOTSTRAP:-bin/bootstrap}
work=${BOOTSTRAP_WORKDIR:-.bootstrap/go-from-gccgo}
cache=${BOOTSTRAP_CACHE:-.bootstrap/cache}

stage() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

stage "bootstrap"
"$bs" --version

stage "seed the cache ($cache)"
if [ -n "${BOOTSTRAP_DEBSRC:-}" ]; then
	debsrc=$BOOTSTRAP_DEBSRC
else
	debsrc=$(mktemp -d)
	chmod 755 "$debsrc" # apt downloads as _apt when it can
	trap 'rm -rf "$debsrc"' EXIT
	(cd "$debsrc" && apt-get source --download-only -q golang-1.19=1.19.8-2)
fi
"$bs" cache add --cache "$cache" "$debsrc"/golang-1.19_1.19.8.orig.tar.gz

stage "host packages"
"$bs" doctor --install --workdir "$work" "$recipe"

stage "fetch the toolchain modules"
"$bs" fetch --cache "$cache" "$@" "$recipe"

stage "run $recipe (offline)"
"$bs" run --offline --plain --workdir "$work" --cache "$cache" "$@" "$recipe"

stage "every verified hop is bit-identical"
"$bs" record --workdir "$work" "$@" "$recipe" | sed -n '/^steps/,$p'
verified=$("$bs" record --workdir "$work" "$@" "$recipe" | grep -c ':verify .*bit-identical$' || true)
failed=$("$bs" record --workdir "$work" "$@" "$recipe" | grep -c 'NOT bit-identical' || true)
echo "$verified hops bit-identical, $failed not"
[ "$failed" -eq 0 ] && [ "$verified" -ge 1 ]

stage "each hop's Go and the Go that bootstrapped it"
for d in "$work"/src/go1*; do
	printf '%s: %s\n' "$(basename "$d")" "$("$d/bin/go" version)"
done

stage "rerun: nothing to do"
out=$("$bs" run --offline --plain --workdir "$work" --cache "$cache" "$@" "$recipe")
echo "$out"
case "$out" in
*"nothing to run"*) ;;
*) echo "the rerun ran something" >&2; exit 1 ;;
esac

stage "provenance: $work/provenance.json"
"$bs" record --workdir "$work" "$@" "$recipe" | sed -n '1,/^steps/p'
