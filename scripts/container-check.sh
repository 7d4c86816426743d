#!/usr/bin/env bash
# Builds the image and checks it end to end, as an operator would run it: read-only root, API keys
# set, a generated model mounted read-only (the Hub may be unreachable where this runs):
# /health and /ready answer with no key, an embedding needs the key, metrics need none on their
# own port, and `stop` (SIGTERM) ends it with exit code 0. Not part of npm test (it needs an
# engine and minutes).
#
#   scripts/container-check.sh                     # docker, or podman when docker is absent
#   ENGINE=podman NODE_IMAGE=localhost/node-standin:20 BUILD_FLAGS="--network host" scripts/container-check.sh
set -euo pipefail
case "${1:-}" in -h | --help) sed -n '2,9p' "$0" | cut -c3-; exit 0 ;; esac
cd "$(dirname "$0")/.."
engine=${ENGINE:-$(command -v docker >/dev/null && docker info >/dev/null 2>&1 && echo docker || echo podman)}
image=embeddings-server:check
name=embeddings-server-check
work=$(mktemp -d)
trap '$engine rm -f $name >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "== build ($engine, target server)"
$engine build ${BUILD_FLAGS:-} ${NODE_IMAGE:+--build-arg NODE_IMAGE=$NODE_IMAGE} --target server -t $image . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
$engine image ls $image

echo "== a generated model to mount"
node --import tsx -e "import('./test/helpers/fixture-model.ts').then((m) => m.writeFixtureModel('$work/artifacts', 'acme/tiny'))"
echo 'acme/tiny alias=tiny' >"$work/models.txt"
chmod -R a+rX "$work"

echo "== run (read-only root, keys set)"
$engine run -d --name $name --read-only -p 127.0.0.1:18000:8000 -p 127.0.0.1:19100:9100 -e API_KEYS=sk-check \
  -v "$work/artifacts:/app/artifacts:ro" -v "$work/models.txt:/app/models.txt:ro" $image >/dev/null
for _ in $(seq 1 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18000/ready)" = 200 ] && break
  sleep 1
done
check() { # what, expected status, curl arguments…
  local what=$1 want=$2; shift 2
  local got; got=$(curl -s -o "$work/body" -w '%{http_code}' "$@")
  if [ "$got" = "$want" ]; then echo "ok   $what: $got"; else echo "FAIL $what: $got, wanted $want: $(head -c 300 "$work/body")"; $engine logs $name | tail -20; exit 1; fi
}
check '/health, no key' 200 http://127.0.0.1:18000/health
check '/ready, no key' 200 http://127.0.0.1:18000/ready
check 'embedding, no key' 401 http://127.0.0.1:18000/v1/embeddings -d '{"model":"tiny","input":"hello"}'
check 'embedding, key' 200 http://127.0.0.1:18000/v1/embeddings -H 'Authorization: Bearer sk-check' -d '{"model":"tiny","input":"hello"}'
check 'metrics port, no key' 200 http://127.0.0.1:19100/metrics
grep -q '^embeddings_inputs_total{model="tiny"} 1$' "$work/body" && echo "ok   metrics count the embedding"
[ "$($engine inspect --format '{{.State.Health.Status}}' $name 2>/dev/null || echo none)" != unhealthy ] && echo "ok   healthcheck not unhealthy"

echo "== stop (SIGTERM)"
$engine stop -t 40 $name >/dev/null
code=$($engine inspect --format '{{.State.ExitCode}}' $name)
$engine logs $name 2>&1 | grep -E 'serving|API keys|drained|still running' | cut -c1-220
[ "$code" = 0 ] && echo "ok   exit code 0" || { echo "FAIL exit code $code"; exit 1; }
