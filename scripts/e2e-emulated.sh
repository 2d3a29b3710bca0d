#!/bin/sh
# The chain for a foreign target, built natively on that target's userland:
# a Debian 12 root file system of the target's architecture (made once by
# bootstrap with mmdebstrap, and cached), every step run in it under chroot,
# its programs run by qemu-user through binfmt_misc. Then a rerun, which
# must do nothing, and every step's time.
#
# Usage: scripts/e2e-emulated.sh TARGET [extra bootstrap run arguments]
#   TARGET  ppc64le (recipes/power8.yaml), arm64, 386 or armhf
#           (recipes/bookworm-docker.yaml --target TARGET), riscv64
#           (recipes/riscv64.yaml: Debian 13, gccgo-14, Docker 26.1.5),
#           trixie-amd64 (recipes/trixie-docker.yaml for amd64 in a trixie
#           amd64 tree: the same chain natively, riscv64's baseline)
# Environment (all optional):
#   BOOTSTRAP          the bootstrap binary (default bin/bootstrap)
#   BOOTSTRAP_E2E_DIR  where work dirs and the cache live (default
#                      /var/tmp/bootstrap-e2e): outside the checkout, so a
#                      run cut short resumes from a later checkout too
#   BOOTSTRAP_DEBSRC   a directory that already holds the source packages'
#                      files (default: scripts/debsrc.sh downloads them)
#   BOOTSTRAP_NATIVE_WORKDIR
#                      a work dir where the same chain ran natively (default
#                      $BOOTSTRAP_E2E_DIR/amd64, which `BOOTSTRAP_WORKDIR=…
#                      scripts/e2e-chain.sh` fills); when it holds
#                      checkpoints, every step is compared with it by CPU
#                      time (scripts/steptimes)
set -eu

cd "$(dirname "$0")/.."
target=${1:?usage: $0 TARGET [bootstrap run arguments]}
shift
tgt=$target
case "$target" in
ppc64le) recipe=recipes/power8.yaml ;;
riscv64) recipe=recipes/riscv64.yaml ;;
trixie-amd64) recipe=recipes/trixie-docker.yaml tgt=amd64 ;;
*) recipe=recipes/bookworm-docker.yaml ;;
esac
bs=${BOOTSTRAP:-bin/bootstrap}
top=${BOOTSTRAP_E2E_DIR:-/var/tmp/bootstrap-e2e}
work=$top/$target
cache=$top/cache
mkdir -p "$top"
# A copy of the binary: rebuilding bin/bootstrap during an hours-long run
# must not change the program that enters the root file system.
cp "$bs" "$top/bootstrap.$target"
bs=$top/bootstrap.$target

stage() { printf '\n== %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }

stage "seed the cache ($cache) from Debian's source packages"
debsrc=${BOOTSTRAP_DEBSRC:-/var/cache/bootstrap-debsrc}
BOOTSTRAP_DEBSRC=$debsrc ./scripts/debsrc.sh
"$bs" cache add --cache "$cache" "$debsrc"/golang-1.19_1.19.8*.tar.* "$debsrc"/docker.io_20.10.24*.tar.*
case "$recipe" in
*riscv64.yaml | *trixie-docker.yaml) "$bs" cache add --cache "$cache" "$debsrc"/trixie/docker.io_26.1.5*.tar.* ;;
esac

stage "set up emulation of $target"
"$bs" doctor --install --emulate --target "$tgt" --workdir "$work" "$recipe"

stage "run $recipe for $target under emulation"
start=$(date +%s)
"$bs" run --emulate --target "$tgt" --plain --workdir "$work" --cache "$cache" "$@" "$recipe"
echo "chain: $(( $(date +%s) - start )) s"

# The same arguments: a run that stopped at --to cgo-check must not go on
# to the rest of the chain here.
stage "rerun: nothing to do"
t0=$(date +%s%N)
out=$("$bs" run --emulate --target "$tgt" --plain --workdir "$work" --cache "$cache" "$@" "$recipe")
t1=$(date +%s%N)
echo "$out"
echo "rerun: $(( (t1 - t0) / 1000000 )) ms"
if echo "$out" | grep -q '^ran '; then
	echo "the rerun ran steps" >&2
	exit 1
fi

stage "every step's time"
"$bs" plan --emulate --target "$tgt" --workdir "$work" --cache "$cache" "$recipe"

if [ -f "$work/build/smoke/container-output.txt" ]; then
	stage "the container said"
	cat "$work/build/smoke/container-output.txt"
fi

native=${BOOTSTRAP_NATIVE_WORKDIR:-$top/amd64}
[ "$target" = riscv64 ] && native=${BOOTSTRAP_NATIVE_WORKDIR:-$top/trixie-amd64}
if [ -d "$native/state" ]; then
	stage "every step here and natively ($native)"
	"${GO:-go}" run ./scripts/steptimes "$native" "$work"
fi
