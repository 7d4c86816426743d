#!/usr/bin/env bash
# The bench on the lent many-core machine (../shared/device/README.md): one prepared run.
# Here: npm ci, ../shared/device/pack.sh, copy the MiniLM tokenizer files into exp/minilm-tokenizer/
# (../shared does not travel), then run with carry [".device-pack", "exp/minilm-tokenizer"]:
#   bash bench/device.sh
# Results come back under $OUT: the bench log and bench/results/latest.json, then one log per
# variant of the defaults, while time is left.
set -u
case "${1:-}" in -h | --help) sed -n '2,7p' "$0" | cut -c3-; exit 0 ;; esac
source .device-pack/unpack.sh
out=${OUT:-/tmp/out}; mkdir -p "$out"
{ nproc; cat /sys/fs/cgroup/cpu.max 2>/dev/null; free -g | head -2; } | tee "$out/machine.txt"
started=$SECONDS
timeout 420 node --import tsx bench/run.ts --suites "${SUITES:-fp32,int8,serving}" --seconds "${SECONDS_PER_LOAD:-8}" --limit-seconds 2 \
  --index-requests 48 --tokenizer exp/minilm-tokenizer 2>&1 | grep -v 'onnxruntime' | tee "$out/bench.log"
cp bench/results/latest.json "$out/bench.json" 2>/dev/null
# Then the int8 suite under other splits than the default, to see whether the default holds queries
# back: e.g. fewer workers than CPUs, so that the HTTP threads do not take cores from inference.
# VARIANTS: settings separated by ';', each a space-separated list of NAME=value ("" for none).
IFS=';' read -ra variants <<< "${VARIANTS-INFERENCE_WORKERS=12;HTTP_PROCESSES=2}"
for variant in "${variants[@]}"; do
  [ -z "$variant" ] && continue
  left=$(( 560 - (SECONDS - started) ))
  (( left < 100 )) && { echo "no time left for $variant"; break; }
  echo "== $variant"
  env $variant timeout $(( left - 20 )) node --import tsx bench/run.ts --suites int8 --seconds 6 --limit-seconds 1 \
    --index-requests 32 --tokenizer exp/minilm-tokenizer 2>&1 | grep -v 'onnxruntime' | tee "$out/bench-${variant//[^A-Za-z0-9]/_}.log"
done
echo "total ${SECONDS}s"
