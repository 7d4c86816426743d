#!/usr/bin/env bash
# The bench on the lent many-core machine (../shared/device/README.md): one prepared run.
# Here: npm ci, ../shared/device/pack.sh, copy the MiniLM tokenizer files into exp/minilm-tokenizer/
# (../shared does not travel), then run with carry [".device-pack", "exp"]:
#   bash bench/device.sh
# Results come back under $OUT: the bench log and bench/results/latest.json.
set -u
source .device-pack/unpack.sh
out=${OUT:-/tmp/out}; mkdir -p "$out"
{ nproc; cat /sys/fs/cgroup/cpu.max 2>/dev/null; free -g | head -2; } | tee "$out/machine.txt"
started=$SECONDS
timeout 420 node --import tsx bench/run.ts --suites "${SUITES:-fp32,int8,serving}" --seconds "${SECONDS_PER_LOAD:-8}" --limit-seconds 2 \
  --index-requests 48 --tokenizer exp/minilm-tokenizer 2>&1 | grep -v 'onnxruntime' | tee "$out/bench.log"
cp bench/results/latest.json "$out/bench.json" 2>/dev/null
# Time left: the int8 query load with twice the default HTTP processes, to see whether the default split holds queries back.
if [ "${EXTRA_PROCESSES:-8}" != 0 ] && (( SECONDS - started < 330 )); then
  HTTP_PROCESSES=${EXTRA_PROCESSES:-8} timeout $(( 440 - (SECONDS - started) )) node --import tsx bench/run.ts --suites int8 --seconds 6 --limit-seconds 1 \
    --index-requests 32 --tokenizer exp/minilm-tokenizer 2>&1 | grep -v 'onnxruntime' | tee "$out/bench-more-processes.log"
fi
echo "total ${SECONDS}s"
