#!/bin/sh
# Prints bootstrap's performance figures. Called by `make bench` after
# `make build`; each part says what it measures and its target. The source
# and patch figures need Debian's golang-1.19 and docker.io sources in
# /var/cache/bootstrap-debsrc (scripts/debsrc.sh fetches them). The real
# chain's no-op figure needs a finished work dir of
# recipes/bookworm-docker.yaml: BENCH_CHAIN_WORKDIR=DIR BENCH_CHAIN_CACHE=DIR
# (`make e2e` leaves them); without it that line says "skipped".
set -eu
cd "$(dirname "$0")/.."
echo "== no-op rerun, CPU time beside GNU make's (targets: 400 steps <= 25 ms, real chain <= 30 ms)"
go run ./scripts/benchnoop -runs "${BENCH_NOOP_RUNS:-31}" bin/bootstrap
echo
echo "== applying docker.io's quilt series (target: well under a second)"
go test -run '^$' -bench BenchmarkDockerSeries -benchtime 20x ./runner/patch | grep -E 'Benchmark|skip' || true
echo
./scripts/bench-sources.sh "${BENCH_RUNS:-3}"
echo
./scripts/bench-git.sh "${BENCH_RUNS:-3}"

echo
./scripts/bench-sandbox.sh "${BENCH_RUNS:-3}"
