#!/bin/sh
# A foreign board on this machine, reached over SSH like one on the desk:
# a small Debian 12 ppc64el root file system with openssh-server and gcc
# (made once with mmdebstrap and cached), its own sshd started in it under
# chroot, every ppc64le program run by qemu-user through binfmt_misc, inside
# a network namespace of its own where it listens on 127.0.0.1:PORT. A host
# key and a client key are made for the run, so the client checks the
# board's key strictly and logs in with its own.
#
# Then: `ssh -p PORT root@127.0.0.1 uname -m` from inside the namespace must
# say ppc64le, and (the marked place below) bootstrap runs
# cmd/bootstrap/testdata/board/board.yaml there with --on.
#
# Usage: scripts/e2e-board.sh            (as root; make e2e-board)
# Environment (all optional):
#   BOOTSTRAP              the bootstrap binary (default bin/bootstrap)
#   BOOTSTRAP_BOARD_ROOTFS the cached root file system (default
#                          /var/cache/bootstrap-board/ppc64el; delete it to
#                          make a fresh one)
#   BOOTSTRAP_BOARD_PORT   sshd's port in the namespace (default 2222)
#   BOOTSTRAP_BOARD_KEEP   1: leave the board running until Ctrl-C, for
#                          trying things by hand (the script prints how)
#   BOOTSTRAP_DEBIAN_MIRROR  the Debian archive (default deb.debian.org)
#
# Nothing outlives the script: sshd runs in PID and mount namespaces of its
# own (the overlay over the cached tree, /proc and /dev go with them), the
# network namespace is deleted, and the temporary directory removed; the
# cached tree is never written (the board writes into the overlay's upper
# layer, so every run starts from the same board).
set -eu
cd "$(dirname "$0")/.."

bs=${BOOTSTRAP:-bin/bootstrap}
rootfs=${BOOTSTRAP_BOARD_ROOTFS:-/var/cache/bootstrap-board/ppc64el}
port=${BOOTSTRAP_BOARD_PORT:-2222}
mirror=${BOOTSTRAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
recipe=cmd/bootstrap/testdata/board/board.yaml

stage() { printf '\n== %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() { echo "e2e-board: $*" >&2; exit 1; }
t0=$(date +%s)
since() { echo "$(( $(date +%s) - $1 )) s"; }

[ "$(id -u)" = 0 ] || fail "run as root (mmdebstrap --mode=root, chroot, network namespaces)"
for tool in mmdebstrap ip unshare chroot ssh ssh-keygen; do
	command -v "$tool" >/dev/null || fail "$tool is missing: scripts/deps.sh e2e installs it"
done
[ -x "$bs" ] || fail "$bs is missing: make build"

stage "emulation of ppc64le (qemu-user through binfmt_misc, F flag)"
# The handler must be preloaded (F): chroot hides the host's qemu from the
# board's programs. bootstrap's own doctor sets it up as the tests need it.
if ! grep -qs '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-ppc64le; then
	"$bs" doctor --install --emulate --target ppc64le cmd/bootstrap/testdata/emulate/recipe.yaml
fi
grep '^flags' /proc/sys/fs/binfmt_misc/qemu-ppc64le

stage "the board's root file system ($rootfs)"
if [ ! -x "$rootfs/usr/sbin/sshd" ] || [ ! -x "$rootfs/usr/bin/gcc" ]; then
	t=$(date +%s)
	rm -rf "$rootfs.tmp"
	mkdir -p "$(dirname "$rootfs")"
	# --variant=apt: Essential packages and apt, then only what the board
	# needs: sshd, a compiler and the C library's headers. Maintainer
	# scripts run under qemu-user (sshd's adds its privilege-separation
	# user); the host keys they make are not used.
	mmdebstrap --quiet --mode=root --variant=apt --arch=ppc64el \
		--include=openssh-server,gcc,libc6-dev \
		bookworm "$rootfs.tmp" "$mirror"
	rm -rf "$rootfs"
	mv "$rootfs.tmp" "$rootfs"
	echo "made in $(since "$t"), $(du -sh "$rootfs" | cut -f1)"
else
	echo "cached, $(du -sh "$rootfs" | cut -f1)"
fi

tmp=$(mktemp -d /var/tmp/bootstrap-board.XXXXXX)
ns=bootstrap-board-$$
board=""
cleanup() {
	if [ -n "$board" ]; then
		# SIGKILL: unshare --fork blocks SIGTERM and SIGINT while it
		# waits for its child. Its death kills the child (--kill-child),
		# the PID namespace's init, and with it everything the board runs.
		kill -KILL "$board" 2>/dev/null || true
		wait "$board" 2>/dev/null || true
	fi
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stage "keys"
ssh-keygen -q -t ed25519 -N '' -C board-host -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -C porter -f "$tmp/id_ed25519"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/host_key.pub")" >"$tmp/known_hosts"
ssh-keygen -l -f "$tmp/host_key.pub"

stage "start the board's sshd on 127.0.0.1:$port in network namespace $ns"
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
mkdir -p "$tmp/upper" "$tmp/work" "$tmp/board"
# In the board's own mount and PID namespaces: the overlay (the cached tree
# stays as it is), /proc and /dev, the keys, then sshd in the foreground as
# the namespace's last process: when the script kills unshare, the kernel
# kills everything the board runs (--kill-child).
ip netns exec "$ns" unshare --mount --pid --fork --kill-child sh -euc '
	root=$1 tmp=$2 port=$3
	b=$tmp/board
	mount -t overlay board -o "lowerdir=$root,upperdir=$tmp/upper,workdir=$tmp/work" "$b"
	mount -t proc proc "$b/proc"
	mount --rbind /dev "$b/dev"
	mount -t tmpfs -o mode=755 run "$b/run"
	mkdir -p "$b/run/sshd" "$b/root/.ssh"
	chmod 700 "$b/root/.ssh"
	install -m 600 "$tmp/host_key" "$b/etc/ssh/board_host_key"
	install -m 600 "$tmp/id_ed25519.pub" "$b/root/.ssh/authorized_keys"
	exec chroot "$b" /usr/sbin/sshd -D -e -p "$port" -o ListenAddress=127.0.0.1 \
		-h /etc/ssh/board_host_key -o PermitRootLogin=prohibit-password \
		-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UsePAM=no
' board "$rootfs" "$tmp" "$port" 2>"$tmp/sshd.log" &
board=$!

# ssh as the porter's workstation would run it, from inside the namespace
# (the only place 127.0.0.1:$port is the board), the board's key checked.
board_ssh() {
	ip netns exec "$ns" ssh -p "$port" -i "$tmp/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o UserKnownHostsFile="$tmp/known_hosts" -o StrictHostKeyChecking=yes -o ConnectTimeout=10 \
		root@127.0.0.1 "$@"
}

t=$(date +%s)
for _ in $(seq 120); do
	kill -0 "$board" 2>/dev/null || { cat "$tmp/sshd.log" >&2; fail "the board's sshd exited"; }
	if board_ssh true 2>/dev/null; then
		break
	fi
	sleep 0.5
done
board_ssh true || { cat "$tmp/sshd.log" >&2; fail "no SSH login to the board within 60 s"; }
echo "sshd answers after $(since "$t")"

stage "ssh -p $port root@127.0.0.1 uname -m"
t=$(date +%s)
m=$(board_ssh uname -m)
echo "$m ($(since "$t"))"
[ "$m" = ppc64le ] || fail "the board says $m, want ppc64le"
board_ssh 'gcc --version | head -1; echo "e_machine of /bin/sh:$(od -An -tx1 -j18 -N2 /bin/sh) (0x15: EM_PPC64)"'

if [ "${BOOTSTRAP_BOARD_KEEP:-}" = 1 ]; then
	echo "the board is up; from another shell:"
	echo "  ip netns exec $ns ssh -p $port -i $tmp/id_ed25519 -o UserKnownHostsFile=$tmp/known_hosts root@127.0.0.1"
	echo "Ctrl-C (or kill -TERM $$) ends it"
	wait "$board" || true
fi

stage "bootstrap run --on ssh://root@127.0.0.1:$port $recipe"
# bootstrap detects ppc64le over SSH, sends its ppc64le binary (made by
# `go build` from this tree when dist/ has none), and the recipe's steps —
# compiled with the board's gcc, checked against uname -m — run there, in
# the step sandbox: bootstrap runs under qemu-user on this board, and its
# sandbox enters the namespaces with unshare(2) there (docs/sandbox.md).
on() {
	ip netns exec "$ns" "$bs" run --on "ssh://root@127.0.0.1:$port" \
		--known-hosts "$tmp/known_hosts" --identity "$tmp/id_ed25519" \
		--fetch-outputs build/hello/hello.txt --plain "$recipe"
}
t=$(date +%s)
on | tee "$tmp/run.log"
echo "run on the board: $(since "$t")"
grep -q 'ppc64le' "$tmp/run.log" || fail "bootstrap did not detect ppc64le"
got=$(cat ".bootstrap/boards/board-ppc64le@127.0.0.1:$port/build/hello/hello.txt")
echo "the board's hello.txt, brought back: $got"
[ "$got" = "hello from ppc64le" ] || fail "the board's program said \"$got\", want hello from ppc64le"

stage "again: nothing to do, nothing sent"
t=$(date +%s)
on | tee "$tmp/rerun.log"
echo "rerun: $(since "$t")"
if grep -q '^.*start hello:' "$tmp/rerun.log"; then
	fail "the rerun on the board ran steps"
fi
"$bs" validate "$recipe"

stage "done in $(since "$t0")"
