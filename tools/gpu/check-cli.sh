#!/usr/bin/env bash
# One GPU call: the issue's benchmarks through the `edgeserve bench` command itself (bundled as
# .bundle/edgeserve-cli.mjs, since the GPU host has no node_modules), on config-only model
# folders with --load-format dummy: the nano-vllm workload (Qwen3-0.6B shape; the command's
# defaults, and with tools/gpu/bench.ts's 16,384-token step budget, beside bench.ts itself), the
# Llama-3.1-8B shape at one stream (bench latency) and on 200 random 1024-in/128-out prompts.
# Also attn-check.cu first. Every stage is time-boxed; the run ends by DEADLINE_S (default 300 s).
# Here first: `bash tools/gpu/bundle.sh`; then via the device tool with carry [".carry", ".bundle"]:
#   bash tools/gpu/check-cli.sh
set -uo pipefail
DEADLINE_S=${DEADLINE_S:-300}
source "$(dirname "$0")/common.sh"

gpu_host_setup "$R/env.txt"
q06=/tmp/es-qwen3-0.6b
l8b=/tmp/es-llama-3.1-8b
mkdir -p $q06 $l8b
cp bench/peers/configs/qwen3-0.6b.json $q06/config.json
cp bench/peers/configs/llama-3.1-8b.json $l8b/config.json
cli=(node .bundle/edgeserve-cli.mjs bench)
dummy=(--device cuda --load-format dummy)

stage build 150 node .bundle/build.mjs --jobs 16
attn_check
grep -E "^(check|time|attn-check)" "$OUT/check.log" | tail -30
stage roofline 30 python3 tools/gpu/roofline.py "$R/roofline.json"
for i in 1 2; do
  stage "cli-nano-$i" 40 "${cli[@]}" throughput --model $q06 "${dummy[@]}" --dataset nano-vllm \
    --max-model-len 2048 --result-file "$R/cli-nano-$i.json"
  stage "cli-nano-16k-$i" 40 "${cli[@]}" throughput --model $q06 "${dummy[@]}" --dataset nano-vllm \
    --max-model-len 2048 --max-num-batched-tokens 16384 --result-file "$R/cli-nano-16k-$i.json"
  stage "bench-ts-$i" 40 node .bundle/bench.mjs "$R/bench-ts-$i.json" "$R/roofline.json" throughput
done
stage cli-8b-latency 60 "${cli[@]}" latency --model $l8b "${dummy[@]}" --batch-size 1 --input-len 128 \
  --output-len 256 --max-model-len 4096 --result-file "$R/cli-8b-latency.json"
stage cli-8b-random 90 "${cli[@]}" throughput --model $l8b "${dummy[@]}" --dataset random --num-prompts 200 \
  --random-input-len 1024 --random-output-len 128 --max-model-len 2048 --max-num-batched-tokens 16384 \
  --result-file "$R/cli-8b-random.json"

log "summary"; cat "$OUT/summary.txt"
tar -czf "$OUT/results.tgz" -C "$(dirname "$R")" "$(basename "$R")"
grep -hE '^(throughput|latency|  |time|attn-check)|Error|error' "$OUT/check.log" | cut -c1-300 | tail -50
