#!/usr/bin/env bash
# One GPU call: the CUDA runner's teacher-forced logits against transformers (fp32 and bf16) on
# the trained demo model (models/demo), over the KJV prompts in demo-kjv-prompts.json: all prompts
# batched (prefill then one token a step) and each alone in uneven chunks (demo-compare.ts), then
# hf-compare.ts as is on the same prompts (alone: 40-token prefill + decode, uneven chunks, its
# pass verdict, and its concurrency check), then demo-compare again without CUDA graphs, and last
# the GPU sampler against the CPU reference (sampling-check.ts on the fixture qwen3 and a 2-layer
# Qwen3-0.6B shape). Every stage is time-boxed; the run ends by DEADLINE_S (default 210 s).
# Here first: `bash tools/gpu/bundle.sh` and, optionally, an addon built here from the same
# sources (same nvcc) at tmp/demo-check/edgeserve_cuda.node, which saves the build there. Then
# run from the repo root via the device tool with carry [".carry", ".bundle", "tmp/demo-check"]:
#   bash tools/gpu/check-demo.sh
set -uo pipefail
DEADLINE_S=${DEADLINE_S:-210}
source "$(dirname "$0")/common.sh"

gpu_host_setup "$R/env.txt"
root=/tmp/es-demo
prebuilt=$PWD/tmp/demo-check/edgeserve_cuda.node
if [[ -f $prebuilt ]] && node -e 'require(process.argv[1])' "$prebuilt" >>"$OUT/check.log" 2>&1; then
  export EDGESERVE_CUDA_ADDON=$prebuilt
  log "using the prebuilt addon $prebuilt"
else
  stage build 120 node .bundle/build.mjs --jobs 16
fi

stage prepare 20 node .bundle/demo-compare.mjs prepare $root models/demo tools/gpu/demo-kjv-prompts.json
dirs=("$root"/*)
stage hf-logits 90 python3 tools/gpu/hf_logits.py "${dirs[@]}"
stage demo-compare 60 node .bundle/demo-compare.mjs compare "$R/demo-compare.json" $root models/demo
stage hf-compare 60 node .bundle/hf-compare.mjs "$R/hf-compare-demo.json" "${dirs[@]}"
stage demo-compare-eager 40 env EDGESERVE_CUDA_GRAPHS=0 \
  node .bundle/demo-compare.mjs compare "$R/demo-compare-eager.json" $root models/demo
stage fixtures 30 node .bundle/gen-fixtures.mjs /tmp/es-fixtures
stage sampling 60 node .bundle/sampling-check.mjs "$R/sampling.json" /tmp/es-fixtures/qwen3

log "summary"; cat "$OUT/summary.txt"
cp "$R"/*.json "$R/env.txt" "$OUT/" 2>/dev/null
tar -czf "$OUT/results.tgz" -C "$(dirname "$R")" "$(basename "$R")"
grep -hE '^\{|^sampling-check|passed|FAILED|Error|bf16 vs fp32' "$OUT/check.log" | cut -c1-600 | tail -40
