#!/bin/sh
# Installs the Debian packages bootstrap's build, tests or end-to-end run
# need, only those missing, so that a fresh Debian 12 machine needs nothing
# done by hand. Usage: scripts/deps.sh test|e2e
set -eu

# Packages the tests exercise for real: a C compiler for the fixture chain,
# git, subversion and mercurial for the source tests, the archivers the
# unpacker is compared with, dpkg-dev for dpkg-source (the reference the
# patch engine is checked against), groff-base to render the man page,
# python3-securesystemslib: a verifier of our signed provenance that we did
# not write (cmd/bootstrap/sign_test.go).
# qemu-user-static and mmdebstrap come from scripts/emulation.sh
# (bookworm-backports' qemu: Debian 12's own breaks Go programs).
# graphviz and chromium check `graph` and `report` for real (report_test.go:
# dot parses the graph, headless Chromium loads the page; chromium is about
# 80 MB to download, 290 MB installed).
# docker-registry (the CNCF distribution registry 2.8) and apache2-utils
# (htpasswd): the shared build cache's tests push to a real registry with
# real authentication (runner/buildcache/registrytest).
test_pkgs="gcc libc6-dev gccgo-12 make git subversion mercurial xz-utils zstd bzip2 unzip dpkg-dev groff-base python3-securesystemslib graphviz chromium docker-registry apache2-utils"
# openssh-server: the boards-over-SSH tests start a real sshd in a network
# namespace of their own (cmd/bootstrap/board_test.go).
test_pkgs="$test_pkgs openssh-server"
# The real chain adds gccgo-12 (the seed compiler), Docker's build and run
# dependencies, and busybox-static for the smoke-test image.
# The foreign board of make e2e-board (scripts/e2e-board.sh) adds
# mmdebstrap for its root file system, iproute2 for its network namespace
# and the OpenSSH client that reaches it (its sshd is the board's own).
e2e_pkgs="$test_pkgs gccgo-12 golang-any containerd runc iptables busybox-static libseccomp-dev libbtrfs-dev libdevmapper-dev pkg-config mmdebstrap iproute2 openssh-client"

case "${1:-test}" in
test) want=$test_pkgs ;;
e2e) want=$e2e_pkgs ;;
*) echo "usage: $0 test|e2e" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages:$missing" >&2
	echo "install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
