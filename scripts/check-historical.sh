#!/bin/sh
# Re-checks every patch of the historical recipes (recipes/*-YYYY.yaml)
# against its pinned source: each patch must apply with fuzz 0. Sources are
# taken from the cache only (--offline): a recipe whose sources are not in
# the cache is reported as skipped, so this runs on any machine and checks
# whatever it can. Seed the cache first with `bootstrap cache add` (tarballs)
# and `bootstrap cache add-git` (git clones); see docs/historical.md.
#
# Environment (optional):
#   BOOTSTRAP        the bootstrap binary (default bin/bootstrap)
#   BOOTSTRAP_CACHE  the cache (default: bootstrap's, $XDG_CACHE_HOME/bootstrap)
set -eu

cd "$(dirname "$0")/.."
bs=${BOOTSTRAP:-bin/bootstrap}
cache=${BOOTSTRAP_CACHE:+--cache $BOOTSTRAP_CACHE}
status=0
checked=0
for recipe in recipes/*-[12][0-9][0-9][0-9].yaml; do
	[ -e "$recipe" ] || continue
	# Every target: a recipe may pin a different source per target.
	targets=$("$bs" list recipes | awk -v r="$recipe" '$1 == r { print $3 }' | tr , ' ')
	for target in ${targets:-""}; do
		printf '== %s%s\n' "$recipe" "${target:+ (target $target)}"
		# shellcheck disable=SC2086 # $cache is two words or none
		if ! "$bs" patch check --offline $cache ${target:+--target "$target"} "$recipe"; then
			status=1
		fi
		checked=$((checked + 1))
	done
done
echo "checked $checked recipe/target pairs; $([ $status = 0 ] && echo 'every patch found applies with fuzz 0' || echo 'SOME PATCHES FAIL')"
exit $status
