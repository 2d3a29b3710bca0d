#!/bin/sh
# Prints bootstrap's performance figures. Called by `make bench` after
# `make build`; each part says what it measures and its target. The source
# and patch figures need Debian's golang-1.19 and docker.io sources in
# /var/cache/bootstrap-debsrc (scripts/debsrc.sh fetches them).
set -eu
cd "$(dirname "$0")/.."
echo "== no-op rerun (target: median < 50 ms)"
go run ./scripts/benchnoop bin/bootstrap
echo
echo "== applying docker.io's quilt series (target: well under a second)"
go test -run '^$' -bench BenchmarkDockerSeries -benchtime 20x ./runner/patch | grep -E 'Benchmark|skip' || true
echo
./scripts/bench-sources.sh "${BENCH_RUNS:-3}"
echo
./scripts/bench-git.sh "${BENCH_RUNS:-3}"
