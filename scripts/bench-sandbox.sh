#!/bin/sh
# What the sandbox costs a step: a recipe of 100 trivial steps (true), run
# in fresh work dirs with and without the sandbox, alternately, RUNS times
# each; the fastest run of each mode counts. Target: <= 10 ms per step.
# Usage: scripts/bench-sandbox.sh [RUNS] (bin/bootstrap must be built).
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
bin=$(pwd)/bin/bootstrap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
	echo "name: sandbox-bench"
	echo "components:"
	echo "  - name: c"
	echo "    steps:"
	i=1
	while [ $i -le 100 ]; do
		echo "      - name: s$i"
		echo "        run: \"true\""
		i=$((i + 1))
	done
} > "$tmp/r.yaml"
ms() { date +%s%N | cut -c1-13; }
best_on= best_off=
i=0
while [ $i -lt "$runs" ]; do
	for mode in on off; do
		flag=
		[ $mode = off ] && flag=--no-sandbox
		rm -rf "$tmp/w"
		t0=$(ms)
		"$bin" run "$tmp/r.yaml" --workdir "$tmp/w" --cache "$tmp/c" $flag > "$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
		t=$(($(ms) - t0))
		if [ $mode = on ]; then
			[ -z "$best_on" ] || [ "$t" -lt "$best_on" ] && best_on=$t
		else
			[ -z "$best_off" ] || [ "$t" -lt "$best_off" ] && best_off=$t
		fi
	done
	i=$((i + 1))
done
echo "== sandbox set-up per step (target <= 10 ms): 100 steps, best of $runs"
echo "sandbox on:  $best_on ms ($((best_on / 100)).$(( (best_on % 100) / 10 )) ms/step)"
echo "sandbox off: $best_off ms ($((best_off / 100)).$(( (best_off % 100) / 10 )) ms/step)"
diff=$((best_on - best_off))
echo "cost: $((diff / 100)).$(( (diff % 100 + 100) % 100 / 10 )) ms/step"
