#!/bin/sh
# Downloads the Debian source packages that the real-world tests, the
# benchmarks and the end-to-end chain use (golang-1.19 and docker.io from
# bookworm) into /var/cache/bootstrap-debsrc, enabling deb-src if needed.
set -eu
dir=${BOOTSTRAP_DEBSRC:-/var/cache/bootstrap-debsrc}
if [ -f "$dir/golang-1.19_1.19.8.orig.tar.gz" ] && ls "$dir"/docker.io_*.dsc >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "debsrc: run as root to download Debian sources into $dir" >&2
	exit 1
fi
src=/etc/apt/sources.list.d/debian.sources
if [ -f "$src" ] && ! grep -q '^Types:.*deb-src' "$src"; then
	sed -i 's/^Types: deb$/Types: deb deb-src/' "$src"
fi
apt-get update -q >/dev/null
mkdir -p "$dir"
cd "$dir"
apt-get source --download-only golang-1.19 docker.io
