#!/usr/bin/env bash
# One GPU call for a kernel change against the previous build: the addon built here from the
# working tree ("new") against one built from the commit before the change and carried in
# tmp/ab-base/edgeserve_cuda.node ("base", same nvcc flags). Correctness of new: HF logits on the
# five fixture families and the 2-layer Llama-3-8B stack (+ the concurrency check), the runner
# contract suite, the sampler check, and teacher-forced logits on the trained demo model; then
# new and base alternated twice on the runner benchmarks (decode step at 256, 8B single stream,
# nano-vllm workload) and a per-phase profile of the 8B single-stream step for each.
# Every stage is time-boxed; the run ends by DEADLINE_S (default 300 s).
# NEW_ENV adds environment to every "new" run (e.g. NEW_ENV=EDGESERVE_CUDA_GEMM_TUNE=log).
# Here: `bash tools/gpu/bundle.sh`, and the base
# addon: `git worktree add /tmp/base-wt REV`, `ln -s $PWD/node_modules /tmp/base-wt/`, then in
# /tmp/base-wt `node bin/edgeserve.js build-native` and copy its backend/native/build/
# edgeserve_cuda.node to tmp/ab-base/ (nvcc here needs CPATH/LIBRARY_PATH to cuBLAS and
# EDGESERVE_NAPI_INCLUDE=.carry/napi). Then run from the repo root via the device tool with carry
# [".carry", ".bundle", "tmp/ab-base"]:  bash tools/gpu/check-build-ab.sh
set -uo pipefail
DEADLINE_S=${DEADLINE_S:-300}
source "$(dirname "$0")/common.sh"

gpu_host_setup "$R/env.txt"
fx=/tmp/es-fixtures
demo=/tmp/es-demo
new=(env ${NEW_ENV:-})
base=(env EDGESERVE_CUDA_ADDON=$PWD/tmp/ab-base/edgeserve_cuda.node)
fixtures=($fx/llama $fx/qwen2 $fx/qwen3 $fx/mistral $fx/llama3-rope $fx/llama8b-2layer)

stage build 120 node .bundle/build.mjs --jobs 16
stage fixtures 30 node .bundle/gen-fixtures.mjs $fx
stage llama8b-stack 60 python3 tools/gpu/make_llama8b_stack.py $fx/llama8b-2layer 2
stage demo-prepare 20 node .bundle/demo-compare.mjs prepare $demo models/demo tools/gpu/demo-kjv-prompts.json
stage hf-logits 120 python3 tools/gpu/hf_logits.py "${fixtures[@]}" "$demo"/*

stage hf-compare 60 node .bundle/hf-compare.mjs "$R/hf-compare.json" "${fixtures[@]}"
stage contract 60 node .bundle/contract.mjs "$R/contract.json"
stage sampling 40 node .bundle/sampling-check.mjs "$R/sampling.json" $fx/qwen3
stage demo-compare 40 node .bundle/demo-compare.mjs compare "$R/demo-compare.json" $demo models/demo

stage roofline 30 python3 tools/gpu/roofline.py "$R/roofline.json"
for i in 1 2; do
  stage "bench-new-$i" 40 "${new[@]}" node .bundle/bench.mjs "$R/bench-new-$i.json" "$R/roofline.json" decodeStep decode8b throughput
  stage "bench-base-$i" 40 "${base[@]}" node .bundle/bench.mjs "$R/bench-base-$i.json" "$R/roofline.json" decodeStep decode8b throughput
done
for tag in new base; do
  declare -n envs=$tag
  stage "profile-8b-$tag" 30 "${envs[@]}" EDGESERVE_CUDA_PROFILE=1 sh -c "node .bundle/bench.mjs $R/profile-8b-$tag.json $R/roofline.json decode8b 2>$R/profile-8b-$tag.txt"
done

log "summary"; cat "$OUT/summary.txt"
tar -czf "$OUT/results.tgz" -C "$(dirname "$R")" "$(basename "$R")"
cat "$R"/profile-8b-new.txt "$R"/profile-8b-base.txt 2>/dev/null
grep -hE '^\{|^(decodeStep|decode8b|throughput|sampling-check)|passed|FAILED|Error' "$OUT/check.log" | cut -c1-260 | tail -40
