#!/bin/bash
# The shared build cache end to end on recipes/go-from-gccgo.yaml (issue 22):
# machine 1 builds the climb (or reuses a finished work dir) and pushes its
# 7 components to a docker-registry started here on 127.0.0.1 with htpasswd
# auth; machine 2 — a fresh work dir at another path, an empty download cache, its own
# signing key, trusting machine 1's — restores 7 of 7, runs no build
# command, and reruns every verify: step from Go 1.21 on, which must say
# bit-identical again. Prints the times; fails when a number is not met.
#
# Environment (all optional):
#   BOOTSTRAP          the bootstrap binary (default bin/bootstrap, built by make)
#   BOOTSTRAP_WORKDIR  machine 1's work dir; when it holds a finished climb
#                      (make e2e-go's), nothing is rebuilt, only pushed;
#                      when there is none, scripts/e2e-go.sh builds it first
#                      (about two hours) (default .bootstrap/go-from-gccgo)
#   BOOTSTRAP_CACHE    machine 1's download cache (default .bootstrap/cache)
#   E2E_CACHE_DIR      scratch for the registry and machine 2
#                      (default /var/tmp/bootstrap-e2e-cache; emptied first)
#   E2E_RECIPE         another recipe (a small one checks this script)
# Extra arguments are passed to `bootstrap run` (e.g. --target arm64).
set -euo pipefail

cd "$(dirname "$0")/.."
recipe=${E2E_RECIPE:-recipes/go-from-gccgo.yaml}
bs=$(realpath "${BOOTSTRAP:-bin/bootstrap}")
work=$(realpath -m "${BOOTSTRAP_WORKDIR:-.bootstrap/go-from-gccgo}")
cache=$(realpath -m "${BOOTSTRAP_CACHE:-.bootstrap/cache}")
scratch=${E2E_CACHE_DIR:-/var/tmp/bootstrap-e2e-cache}

stage() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
now() { date +%s; }

command -v docker-registry >/dev/null && command -v htpasswd >/dev/null || {
	echo "needs docker-registry and htpasswd: apt-get install docker-registry apache2-utils" >&2
	exit 1
}
rm -rf "$scratch"
mkdir -p "$scratch/registry" "$scratch/m1" "$scratch/m2"

stage "registry on 127.0.0.1 with htpasswd auth"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
htpasswd -Bbc "$scratch/htpasswd" porter e2e-secret >/dev/null
cat >"$scratch/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $scratch/registry
http:
  addr: 127.0.0.1:$port
auth:
  htpasswd:
    realm: bootstrap-e2e
    path: $scratch/htpasswd
EOF
docker-registry serve "$scratch/registry.yml" >"$scratch/registry.log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null || true' EXIT
printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$port" "$(printf porter:e2e-secret | base64)" >"$scratch/auth.json"
export REGISTRY_AUTH_FILE="$scratch/auth.json"
url=oci://127.0.0.1:$port/team/bootstrap
for _ in $(seq 50); do
	curl -so /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" 2>/dev/null | grep -q 401 && break
	sleep 0.2
done
echo "$url"

# Each machine has its own signing key and config (XDG_CONFIG_HOME).
m1() { XDG_CONFIG_HOME="$scratch/m1/config" "$bs" "$@"; }
m2() { XDG_CONFIG_HOME="$scratch/m2/config" XDG_CACHE_HOME="$scratch/m2/cache" "$bs" "$@"; }

stage "machine 1: build (or reuse $work) and push"
t0=$(now)
if [ ! -d "$work" ] && [ "$recipe" = recipes/go-from-gccgo.yaml ]; then
	echo "no work dir at $work: building the climb with scripts/e2e-go.sh first (about two hours)"
	BOOTSTRAP="$bs" BOOTSTRAP_WORKDIR="$work" BOOTSTRAP_CACHE="$cache" XDG_CONFIG_HOME="$scratch/m1/config" ./scripts/e2e-go.sh "$@"
fi
m1 run --plain --workdir "$work" --cache "$cache" --cache-to "$url" "$@" "$recipe" | tee "$scratch/m1.out"
t1=$(now)
pushed=$(grep -c "pushed .* to $url" "$scratch/m1.out" || true)
echo "machine 1: $((t1 - t0)) s, $pushed components pushed"
m1 record --public-key >"$scratch/m1.pub"

stage "machine 2: a fresh work dir at another path, an empty cache, trusting machine 1"
w2=$scratch/m2/elsewhere/work
m2 plan --workdir "$w2" --cache-from "$url" --trust "$scratch/m1.pub" "$@" "$recipe" | tail -8
t2=$(now)
m2 run --plain --workdir "$w2" --cache-from "$url" --trust "$scratch/m1.pub" "$@" "$recipe" | tee "$scratch/m2.out"
t3=$(now)

stage "numbers"
plan_json() { m2 plan --json --workdir "$w2" "$@" "$recipe"; }
# shellcheck disable=SC2016
count='import json, sys; s = json.load(sys.stdin)["steps"]; print(len({x["component"] for x in s}), " ".join(x["id"] for x in s if x["kind"] == "run"), sep="\n")'
components=$(plan_json "$@" | python3 -c "$count" | sed -n 1p)
runsteps=$(plan_json "$@" | python3 -c "$count" | sed -n 2p)
restored=$(grep -c ' restored [a-z0-9-]* from ' "$scratch/m2.out" || true)
commands=0
for id in $runsteps; do
	if grep -q " start $id\$" "$scratch/m2.out"; then commands=$((commands + 1)); fi
done
verifies=$(m2 plan --workdir "$w2" "$@" "$recipe" | grep -c '^[a-z0-9-]*:verify ' || true)
verified=$(m2 record --workdir "$w2" "$@" "$recipe" | grep -c ':verify .*bit-identical$' || true)
notident=$(m2 record --workdir "$w2" "$@" "$recipe" | grep -c 'NOT bit-identical' || true)
echo "machine 1 (build and push): $((t1 - t0)) s"
echo "machine 2 (restore):        $((t3 - t2)) s"
echo "restored $restored of $components components; $commands build commands run; $verified of $verifies verify steps bit-identical after the restore, $notident not"
[ "$restored" -eq "$components" ] && [ "$commands" -eq 0 ] && [ "$notident" -eq 0 ] && [ "$verified" -eq "$verifies" ] && [ $((t3 - t2)) -le 300 ]
