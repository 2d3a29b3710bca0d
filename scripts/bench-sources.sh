#!/bin/sh
# bench-sources.sh prints the figures for the sources code (issue 3):
#  (a) fetch-from-cache + verify + unpack of the go1.19.8 source tarball by
#      bootstrap vs `sha256sum` + `tar xzf`, as a ratio (target <= 1.0);
#  (b) a go-git clone + checkout of a ~30 MB repository (the go1.19.8 tree
#      in one commit, served by a loopback `git daemon`) vs `git clone`:
#      time and peak memory (target <= 1.5x the time).
# Usage: scripts/bench-sources.sh [runs]   (default 3 runs each)
# BOOTSTRAP_BENCH_TARBALL overrides the tarball.
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
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== (a) verify + unpack $tarball ($runs runs each)"
BOOTSTRAP_BENCH_TARBALL=$tarball go test -run '^$' -bench 'BenchmarkGoTarball' -benchtime "${runs}x" ./runner/fetch | tee "$work/a.txt"
awk '/BenchmarkGoTarball\/bootstrap/ {b=$3} /BenchmarkGoTarball\/sha256sum\+tar/ {s=$3}
	END {printf "(a) bootstrap %.2f s, sha256sum+tar %.2f s, ratio %.2f (target <= 1.0)\n", b/1e9, s/1e9, b/s}' "$work/a.txt"

echo "== (b) clone of the go1.19.8 tree"
git=git
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
mkdir "$work/tree"
tar xzf "$tarball" -C "$work/tree" --strip-components=1
$git -c init.defaultBranch=main init -q "$work/tree"
$git -C "$work/tree" add -A
$git -C "$work/tree" commit -qm go1.19.8
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
go test -c -o "$work/gitsrc.test" ./runner/gitsrc
for n in $(seq "$runs"); do
	/usr/bin/time -a -o "$work/git.txt" -f '%e %M' $git clone -q "$url" "$work/git$n"
	BOOTSTRAP_CLONE_URL=$url BOOTSTRAP_CLONE_CACHE="$work/cache$n" BOOTSTRAP_CLONE_DEST="$work/gogit$n" \
		/usr/bin/time -a -o "$work/gogit.txt" -f '%e %M' "$work/gitsrc.test" -test.run '^TestCloneHelper$' >/dev/null
	rm -rf "$work/git$n" "$work/gogit$n" "$work/cache$n"
done
awk -v runs="$runs" 'FNR==1 {f++} {t[f]+=$1; if ($2>m[f]) m[f]=$2}
	END {printf "(b) git clone %.2f s, %d MB peak; go-git %.2f s, %d MB peak; time ratio %.2f (target <= 1.5), memory ratio %.2f\n",
		t[1]/runs, m[1]/1024, t[2]/runs, m[2]/1024, t[2]/t[1], m[2]/m[1]}' "$work/git.txt" "$work/gogit.txt"
