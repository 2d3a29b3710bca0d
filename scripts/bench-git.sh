#!/bin/sh
# bench-git.sh prints the figures for git sources (issue 11): fetch +
# checkout of one pinned commit of a large repository with a long history
# (generated once by scripts/genrepo into $BOOTSTRAP_BENCH_GIT_DIR, default
# /var/tmp/bootstrap-bench-git) from a loopback smart-HTTP server (git
# http-backend), by
#   git:       git init && git fetch --depth 1 URL SHA && git checkout FETCH_HEAD
#   bootstrap: `bootstrap run` of a one-component recipe pinning the commit
#              (the git command fetches, `git archive` feeds the checkout)
#   no git:    the same with BOOTSTRAP_GIT=none (go-git fetches and reads)
# each timed with /usr/bin/time (the peak memory is that of the biggest
# process of the tree: bootstrap's git children count), alternating; then
# once the old way, every branch and tag with their history through go-git
# (gitsrc's bench helper, with bootstrap's GC settings). Targets: bootstrap
# <= 1.2x git's time, <= 2x git's peak memory.
# Usage: scripts/bench-git.sh [runs]   (default 3)
# BOOTSTRAP_BENCH_GIT_GEN overrides genrepo's flags (a smaller repository
# to try the script).
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
for tool in git /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench-git: $tool is missing" >&2; exit 1; }
done
store=${BOOTSTRAP_BENCH_GIT_DIR:-/var/tmp/bootstrap-bench-git}
gen=${BOOTSTRAP_BENCH_GIT_GEN:--files 6000 -hot 2000 -commits 3000 -changes 10}
repo=$store/big.git
mkdir -p "$store"
if [ "$(cat "$store/big.flags" 2>/dev/null)" != "$gen" ] || [ ! -d "$repo" ]; then
	echo "== generating $repo (genrepo $gen; once, a few minutes)"
	rm -rf "$repo" "$repo.tmp"
	git init -q --bare "$repo.tmp"
	# shellcheck disable=SC2086 # $gen is a list of flags
	go run ./scripts/genrepo $gen | git --git-dir="$repo.tmp" fast-import --quiet
	mv "$repo.tmp" "$repo"
	echo "$gen" >"$store/big.flags"
fi
commit=$(git --git-dir="$repo" rev-parse main)

work=$(mktemp -d)
bdir=$(mktemp -d "${BOOTSTRAP_BENCH_DIR:-/var/tmp}/bench-git.XXXXXX")
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null || true
	rm -rf "$work" "$bdir"
}
trap cleanup EXIT INT TERM
go build -o "$work/githttpd" ./scripts/githttpd
go build -o "$work/bootstrap" ./cmd/bootstrap
go test -c -o "$work/gitsrc.test" ./runner/source/gitsrc
"$work/githttpd" "$store" >"$work/url" &
server=$!
i=0
while [ ! -s "$work/url" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "githttpd did not start" >&2; exit 1; }; sleep 0.1
done
url=$(head -1 "$work/url")/big.git
echo "== one pinned commit of $url: $(du -sm "$repo/objects" | cut -f1) MB of history, $(git --git-dir="$repo" rev-list --count main) commits," \
	"tip tree of $(git --git-dir="$repo" ls-tree -r main | wc -l) files; $runs runs each, alternating, in $bdir"

run_git() { # run_git N
	sync
	/usr/bin/time -a -o "$work/git.txt" -f '%e %M' sh -c \
		'git init -q "$1" && git -C "$1" fetch -q --depth 1 "$2" "$3" && git -C "$1" -c advice.detachedHead=false checkout -q FETCH_HEAD' \
		sh "$bdir/git$1" "$url" "$commit"
	rm -rf "$bdir/git$1"
}
run_bootstrap() { # run_bootstrap NAME BOOTSTRAP_GIT N
	sync
	BOOTSTRAP_GIT=$2 /usr/bin/time -a -o "$work/$1.txt" -f '%e %M' "$work/bootstrap" run --plain --skip-doctor \
		--cache "$bdir/cache$1$3" --workdir "$bdir/$1$3" "$work/recipe.yaml" >"$work/$1.out" 2>&1 ||
		{ cat "$work/$1.out" >&2; exit 1; }
	rm -rf "$bdir/cache$1$3" "$bdir/$1$3"
}
run_full() {
	sync
	BOOTSTRAP_CLONE_URL=$url BOOTSTRAP_CLONE_COMMIT=$commit BOOTSTRAP_CLONE_GIT=none BOOTSTRAP_CLONE_FULL=1 BOOTSTRAP_CLONE_GC=main \
		BOOTSTRAP_CLONE_CACHE="$bdir/cachefull" BOOTSTRAP_CLONE_DEST="$bdir/full" BOOTSTRAP_CLONE_PHASES="$work/full.phases" \
		/usr/bin/time -a -o "$work/full.txt" -f '%e %M' "$work/gitsrc.test" -test.run '^TestCloneHelper$' >"$work/full.out" ||
		{ cat "$work/full.out" >&2; exit 1; }
	rm -rf "$bdir/cachefull" "$bdir/full"
}
cat >"$work/recipe.yaml" <<RECIPE
name: bench-git
components:
  - name: big
    source:
      git: $url
      commit: $commit
    steps:
      - name: check
        run: test -s \${{ src }}/src/pkg000/file00000.c
RECIPE
for n in $(seq "$runs"); do
	case $((n % 3)) in
	1) run_git $n; run_bootstrap bootstrap "" $n; run_bootstrap nogit none $n ;;
	2) run_bootstrap bootstrap "" $n; run_bootstrap nogit none $n; run_git $n ;;
	0) run_bootstrap nogit none $n; run_git $n; run_bootstrap bootstrap "" $n ;;
	esac
done
run_full

# Averages of the times, maxima of the peaks.
summary() { # summary NAME LABEL
	awk -v label="$2" '{t += $1; if ($2 > m) m = $2; n++} END {printf "%s %.2f %d\n", label, t / n, m / 1024}' "$work/$1.txt"
}
{
	summary git git
	summary bootstrap bootstrap
	summary nogit "no-git"
	summary full full
} >"$work/summary.txt"
awk 'NR == 1 {gt = $2; gm = $3}
	{printf "%-10s %6.2f s %5d MB peak   time %.2fx git, memory %.2fx git\n", $1, $2, $3, $2 / gt, $3 / gm}' "$work/summary.txt"
awk '{printf "  full: fetch %.2f s, checkout %.2f s, VmHWM of its own process %d MB\n", $1, $2, $3 / 1024}' "$work/full.phases"
awk 'NR == 1 {gt = $2; gm = $3} $1 == "bootstrap" {
	printf "bootstrap vs git: time %.2fx (target <= 1.2), memory %.2fx (target <= 2)\n", $2 / gt, $3 / gm}' "$work/summary.txt"
