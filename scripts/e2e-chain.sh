#!/bin/sh
# The end-to-end chain on a fresh Debian 12 machine: seed the cache from
# Debian's source packages, install the host packages the recipe names, build
# gccgo-12 → Go 1.19.8 → Docker 20.10.24 offline, and print what the
# container said.
#
# Environment (all optional):
#   BOOTSTRAP          the bootstrap binary (default bin/bootstrap, built by make)
#   BOOTSTRAP_WORKDIR  work dir (default .bootstrap/bookworm-docker)
#   BOOTSTRAP_CACHE    cache dir (default .bootstrap/cache)
#   BOOTSTRAP_DEBSRC   a directory that already holds the source packages'
#                      files; skips `apt-get source`
# Extra arguments are passed to `bootstrap run` (e.g. --force docker-engine).
set -eu

cd "$(dirname "$0")/.."
recipe=recipes/bookworm-docker.yaml
bs=${BOOTSTRAP:-bin/bootstrap}
work=${BOOTSTRAP_WORKDIR:-.bootstrap/bookworm-docker}
cache=${BOOTSTRAP_CACHE:-.bootstrap/cache}

# Source package versions whose files the recipe pins by sha256: asking for
# exactly these keeps a newer upload in the archive from seeding files the
# recipe does not want.
srcpkgs="golang-1.19=1.19.8-2 docker.io=20.10.24+dfsg1-1+deb12u1"

stage() { printf '\n== %s\n' "$*"; }

stage "seed the cache ($cache)"
if [ -n "${BOOTSTRAP_DEBSRC:-}" ]; then
	debsrc=$BOOTSTRAP_DEBSRC
else
	debsrc=$(mktemp -d)
	chmod 755 "$debsrc" # apt downloads as _apt when it can
	trap 'rm -rf "$debsrc"' EXIT
	# shellcheck disable=SC2086
	(cd "$debsrc" && apt-get source --download-only -q $srcpkgs)
fi
"$bs" cache add --cache "$cache" "$debsrc"/*.tar.*

stage "host packages"
"$bs" doctor --install --workdir "$work" "$recipe"

stage "run $recipe (offline)"
# bootstrap's own peak memory (VmHWM of its process, not of the compilers
# it starts), read from /proc while it runs: the figure a board's RAM must
# leave room for beside the build.
"$bs" run --offline --plain --workdir "$work" --cache "$cache" "$@" "$recipe" &
pid=$!
hwm=
while kill -0 "$pid" 2>/dev/null; do
	h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$h" ] && hwm=$h
	sleep 1
done
rc=0
wait "$pid" || rc=$?
[ -n "$hwm" ] && echo "bootstrap peak memory (VmHWM): $((hwm / 1024)) MB"
[ "$rc" = 0 ] || exit "$rc"

stage "the container said"
cat "$work/build/smoke/container-output.txt"
