#!/bin/sh
# Unpacks Debian 13's python3-securesystemslib (1.x, pure Python) into
# /var/cache/bootstrap-pydeps for the tests: its securesystemslib.dsse reads
# and verifies DSSE envelopes, the independent verifier of our signed
# provenance (cmd/bootstrap/sign_test.go). Debian 12 ships 0.26, which has
# no DSSE support. Nothing is installed into the system: the .deb comes
# through a private apt configuration and is only unpacked; the tests set
# PYTHONPATH to it. Without network the tests fall back to Debian 12's
# securesystemslib for the ed25519 check alone.
set -eu
dest=${BOOTSTRAP_PYDEPS:-/var/cache/bootstrap-pydeps}
[ -f "$dest/securesystemslib/dsse.py" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$tmp/sources.list"
apt="-o Dir::Etc::SourceList=$tmp/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$tmp/lists -o Dir::Cache=$tmp/cache -o APT::Sandbox::User=root"
# shellcheck disable=SC2086
apt-get -q $apt update >/dev/null
# shellcheck disable=SC2086
(cd "$tmp" && apt-get -q $apt download python3-securesystemslib >/dev/null)
dpkg-deb -x "$tmp"/python3-securesystemslib_*_all.deb "$tmp/x"
mkdir -p "$dest"
rm -rf "$dest/securesystemslib.new"
cp -a "$tmp/x/usr/lib/python3/dist-packages/securesystemslib" "$dest/securesystemslib.new"
mv "$dest/securesystemslib.new" "$dest/securesystemslib"
echo "securesystemslib $(basename "$tmp"/python3-securesystemslib_*_all.deb) unpacked in $dest"
