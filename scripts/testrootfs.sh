#!/bin/sh
# Makes the small foreign root file systems the emulation tests run in:
# Debian's busybox-static for each architecture, unpacked (no maintainer
# scripts, so no emulator is needed to make it) with the applets the tests
# call linked in /bin. Kept in /var/cache/bootstrap-testrootfs/<debarch>;
# made once. Usage: scripts/testrootfs.sh [DEBARCH...] (default ppc64el,
# arm64, i386 and riscv64). riscv64 is a release architecture from Debian 13
# (trixie) on, so its tree comes from trixie; the others from bookworm.
set -eu
top=${BOOTSTRAP_TESTROOTFS:-/var/cache/bootstrap-testrootfs}
[ $# -gt 0 ] || set -- ppc64el arm64 i386 riscv64
if [ "$(id -u)" != 0 ]; then
	echo "testrootfs: run as root (mmdebstrap --mode=root)" >&2
	exit 1
fi
for a in "$@"; do
	dir=$top/$a
	[ -x "$dir/bin/busybox" ] && continue
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	suite=bookworm
	[ "$a" = riscv64 ] && suite=trixie
	mmdebstrap --quiet --mode=root --variant=extract --arch="$a" --include=busybox-static "$suite" "$dir.tmp" "${BOOTSTRAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
	# trixie's packages install into /usr only (merged /usr), and the
	# extract variant makes no /bin → usr/bin link: make it.
	if [ ! -e "$dir.tmp/bin" ] && [ -x "$dir.tmp/usr/bin/busybox" ]; then
		ln -s usr/bin "$dir.tmp/bin"
	fi
	for applet in sh uname cat cp echo sleep tee mkdir ls true false rm; do
		ln -sf busybox "$dir.tmp/bin/$applet"
	done
	mkdir -p "$dir.tmp/tmp" "$dir.tmp/proc" "$dir.tmp/sys" "$dir.tmp/dev"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	echo "testrootfs: $dir"
done
