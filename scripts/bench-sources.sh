#!/bin/sh
# bench-sources.sh prints the figures for the sources code (issue 3):
#  (a) fetch-from-cache + verify + unpack of the go1.19.8 source tarball by
#      bootstrap vs `sha256sum` + `tar xzf`, as a ratio (target <= 1.0);
#  (b) a go-git clone + checkout of a ~30 MB repository (the go1.19.8 tree
#      in one commit, served by a loopback `git daemon`) vs `git clone`:
#      time and peak memory (target <= 1.5x the time). This is bootstrap on
#      a host without git (BOOTSTRAP_GIT=none), with the binary's GC
#      settings; bench-git.sh measures it with git.
# Usage: scripts/bench-sources.sh [runs]   (default 3 runs each)
# BOOTSTRAP_BENCH_TARBALL overrides the tarball; BOOTSTRAP_BENCH_DIR the
# directory (default /var/tmp) in which (a) unpacks.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
tarball=${BOOTSTRAP_BENCH_TARBALL:-/var/cache/bootstrap-debsrc/golang-1.19_1.19.8.orig.tar.gz}
if [ ! -f "$tarball" ]; then
	echo "bench-sources: $tarball is missing (apt-get source --download-only golang-1.19)" >&2
	exit 1
fi
for tool in git /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench-sources: $tool is missing" >&2; exit 1; }
done
work=$(mktemp -d)
daemon=
bdir=
cleanup() {
	[ -n "$bdir" ] && rm -rf "$bdir"
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Both sides unpack in the same directory, which lies where the trees of
# earlier runs were not just removed: creating files next to thousands of
# freshly deleted ones is several times slower on ext4, for tar as for us.
bdir=$(mktemp -d "${BOOTSTRAP_BENCH_DIR:-/var/tmp}/bench-sources.XXXXXX")
echo "== (a) verify + unpack $tarball ($runs runs each, alternating, in $bdir)"
TMPDIR=$bdir BOOTSTRAP_BENCH_TARBALL=$tarball go test -run '^$' -bench 'BenchmarkGoTarball' -benchtime "${runs}x" ./runner/source/fetch | tee "$work/a.txt"
awk '/^BenchmarkGoTarball/ {for (i = 5; i < NF; i += 2) v[$(i+1)] = $i}
	END {printf "(a) bootstrap %.2f s, sha256sum+tar %.2f s, ratio %.2f (target <= 1.0)\n", v["bootstrap-s/op"], v["sha256sum+tar-s/op"], v["ratio"]}' "$work/a.txt"

echo "== (b) clone of the go1.19.8 tree ($runs runs each, alternating, in $bdir)"
git=git
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
mkdir "$work/tree"
tar xzf "$tarball" -C "$work/tree" --strip-components=1
$git -c init.defaultBranch=main init -q "$work/tree"
$git -C "$work/tree" add -A
# No auto gc: its detached process would still be writing objects when the
# tree is removed below (12,000 new loose objects trigger it).
$git -C "$work/tree" -c gc.auto=0 -c maintenance.auto=false commit -qm go1.19.8
$git clone -q --bare "$work/tree" "$work/repo.git"
$git -C "$work/repo.git" repack -adq
rm -rf "$work/tree"
echo "repository: $(du -sh "$work/repo.git" | cut -f1)"
port=$((20000 + $$ % 20000))
$git daemon --reuseaddr --listen=127.0.0.1 --port=$port --base-path="$work" --export-all "$work" &
daemon=$!
url=git://127.0.0.1:$port/repo.git
i=0
while ! $git ls-remote "$url" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "git daemon did not start" >&2; exit 1; }; sleep 0.1
done
go test -c -o "$work/gitsrc.test" ./runner/source/gitsrc
# Like (a): alternating order, each clone into a new directory of $bdir,
# the previous one's dirty pages written back first.
gitclone() {
	sync
	/usr/bin/time -a -o "$work/git.txt" -f '%e %M' $git clone -q "$url" "$bdir/git$1"
}
gogitclone() {
	sync
	BOOTSTRAP_CLONE_URL=$url BOOTSTRAP_CLONE_GIT=none BOOTSTRAP_CLONE_GC=main BOOTSTRAP_CLONE_CACHE="$bdir/cache$1" BOOTSTRAP_CLONE_DEST="$bdir/gogit$1" BOOTSTRAP_CLONE_PHASES="$work/phases.txt" \
		/usr/bin/time -a -o "$work/gogit.txt" -f '%e %M' "$work/gitsrc.test" -test.run '^TestCloneHelper$' >/dev/null
}
for n in $(seq "$runs"); do
	if [ $((n % 2)) = 1 ]; then gitclone $n; gogitclone $n; else gogitclone $n; gitclone $n; fi
done
awk -v runs="$runs" 'FNR==1 {f++} {t[f]+=$1; if ($2>m[f]) m[f]=$2}
	END {printf "(b) git clone %.2f s, %d MB peak; go-git %.2f s, %d MB peak; time ratio %.2f (target <= 1.5), memory ratio %.2f\n",
		t[1]/runs, m[1]/1024, t[2]/runs, m[2]/1024, t[2]/t[1], m[2]/m[1]}' "$work/git.txt" "$work/gogit.txt"
awk -v runs="$runs" '{f+=$1; c+=$2} END {printf "    go-git: fetch and index of the pack %.2f s, checkout %.2f s\n", f/runs, c/runs}' "$work/phases.txt"
