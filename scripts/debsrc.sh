#!/bin/sh
# Downloads the Debian source packages that the real-world tests, the
# benchmarks and the end-to-end chain use (golang-1.19 and docker.io from
# bookworm) into /var/cache/bootstrap-debsrc, enabling deb-src if needed.
set -eu
dir=${BOOTSTRAP_DEBSRC:-/var/cache/bootstrap-debsrc}
# Docker 26.1.5 of Debian 13 (trixie) for recipes/trixie-docker.yaml and
# riscv64.yaml, in $dir/trixie. The archive here serves the debian tarball
# of the current revision but not always its .dsc: the files are what the
# recipe pins, so they are fetched one by one.
trixie_docker=26.1.5+dfsg1
trixie_rev=9+deb13u1
have_all() {
	[ -f "$dir/golang-1.19_1.19.8.orig.tar.gz" ] && ls "$dir"/docker.io_*.dsc >/dev/null 2>&1 &&
		[ -f "$dir/trixie/docker.io_$trixie_docker-$trixie_rev.debian.tar.xz" ] &&
		[ -f "$dir/trixie/docker.io_$trixie_docker.orig-buildkit.tar.xz" ]
}
if have_all; then
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
trixie_src=/etc/apt/sources.list.d/bootstrap-trixie-src.sources
if [ ! -f "$trixie_src" ]; then
	cat > "$trixie_src" <<'EOS'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
fi
apt-get update -q >/dev/null
mkdir -p "$dir/trixie"
cd "$dir"
if [ ! -f golang-1.19_1.19.8.orig.tar.gz ] || ! ls docker.io_*.dsc >/dev/null 2>&1; then
	apt-get source --download-only golang-1.19 docker.io/bookworm
fi
cd "$dir/trixie"
# Only the tarballs: --download-only of a version whose .dsc the archive
# lacks fails after fetching them, which is all we need.
apt-get source --download-only "docker.io=$trixie_docker-$trixie_rev" >/dev/null 2>&1 || true
for f in "docker.io_$trixie_docker-$trixie_rev.debian.tar.xz" "docker.io_$trixie_docker.orig.tar.xz" \
	"docker.io_$trixie_docker.orig-cli.tar.xz" "docker.io_$trixie_docker.orig-buildkit.tar.xz"; do
	[ -f "$f" ] || { echo "debsrc: could not download $f from trixie's docker.io $trixie_docker-$trixie_rev" >&2; exit 1; }
done
