#!/bin/sh
# Prints bootstrap's performance figures. Called by `make bench` after
# `make build`; each part says what it measures and its target.
set -eu
cd "$(dirname "$0")/.."
echo "== no-op rerun"
go run ./scripts/benchnoop bin/bootstrap
