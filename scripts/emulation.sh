#!/bin/sh
# Sets this machine up for the emulation tests, as `make deps` does: qemu-user
# for ppc64le, arm64 and riscv64 registered with binfmt_misc (by bootstrap's own
# `doctor --install --emulate`, which installs qemu-user-static from
# bookworm-backports and registers the handlers with the F flag), and the
# small busybox root file systems the tests run in (scripts/testrootfs.sh).
# As another user than root it does nothing: those tests then skip.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "emulation: not root; the emulation tests will skip" >&2
	exit 0
fi
go=${GO:-go}
"$go" build -o bin/bootstrap ./cmd/bootstrap
log=$(mktemp)
for t in ppc64le arm64 riscv64; do
	if ! bin/bootstrap doctor --install --emulate --target "$t" cmd/bootstrap/testdata/emulate/recipe.yaml >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		exit 1
	fi
done
rm -f "$log"
./scripts/testrootfs.sh ppc64el arm64 i386 riscv64
