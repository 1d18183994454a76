#!/usr/bin/env bash
# One GPU call for the tensor-core prefill attention against the first kernel, both in the addon
# built here (EDGESERVE_CUDA_PREFILL=v1 selects the first): prefill-check.cu (both kernels against
# a float64 reference, then their timings), correctness of the default build (HF logits on the
# five fixture families and the 2-layer Llama-3-8B stack plus the concurrency check, the runner
# contract suite, the sampler check, teacher-forced logits on the trained demo model), then both
# kernels alternated twice on the runner benchmarks (decode step at 256, 8B single stream,
# nano-vllm workload), a whole-workload profile of the nano-vllm run with each
# (EDGESERVE_CUDA_PROFILE=all, eager), and the 8B 1024-in/128-out run with each.
# Every stage is time-boxed; the run ends by DEADLINE_S (default 540 s).
# Here first: `bash tools/gpu/bundle.sh`; then run from the repo root via the device tool with
# carry [".carry", ".bundle"]:   bash tools/gpu/check-prefill.sh
set -uo pipefail
DEADLINE_S=${DEADLINE_S:-540}
source "$(dirname "$0")/common.sh"

gpu_host_setup "$R/env.txt"
fx=/tmp/es-fixtures
demo=/tmp/es-demo
wl=/tmp/es-random8b.json
tc=(env)
v1=(env EDGESERVE_CUDA_PREFILL=v1)
fixtures=($fx/llama $fx/qwen2 $fx/qwen3 $fx/mistral $fx/llama3-rope $fx/llama8b-2layer)

stage build 150 node .bundle/build.mjs --jobs 16
stage prefill-check-build 60 nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ibackend/native/src \
  tools/gpu/prefill-check.cu backend/native/build/attention-prefill.o -o /tmp/prefill-check
stage prefill-check 90 /tmp/prefill-check "$R/prefill-check.json"
grep -E "^(check|time|prefill-check)" "$OUT/check.log" | tail -14

stage fixtures 30 node .bundle/gen-fixtures.mjs $fx
stage llama8b-stack 60 python3 tools/gpu/make_llama8b_stack.py $fx/llama8b-2layer 2
stage demo-prepare 20 node .bundle/demo-compare.mjs prepare $demo models/demo tools/gpu/demo-kjv-prompts.json
stage hf-logits 120 python3 tools/gpu/hf_logits.py "${fixtures[@]}" "$demo"/*
stage hf-compare 60 node .bundle/hf-compare.mjs "$R/hf-compare.json" "${fixtures[@]}"
stage hf-compare-v1 60 "${v1[@]}" node .bundle/hf-compare.mjs "$R/hf-compare-v1.json" "${fixtures[@]}"
stage contract 60 node .bundle/contract.mjs "$R/contract.json"
stage sampling 40 node .bundle/sampling-check.mjs "$R/sampling.json" $fx/qwen3
stage demo-compare 40 node .bundle/demo-compare.mjs compare "$R/demo-compare.json" $demo models/demo

stage roofline 30 python3 tools/gpu/roofline.py "$R/roofline.json"
for i in 1 2; do
  stage "bench-tc-$i" 40 "${tc[@]}" node .bundle/bench.mjs "$R/bench-tc-$i.json" "$R/roofline.json" decodeStep decode8b throughput
  stage "bench-v1-$i" 40 "${v1[@]}" node .bundle/bench.mjs "$R/bench-v1-$i.json" "$R/roofline.json" decodeStep decode8b throughput
done
for tag in tc v1; do
  declare -n envs=$tag
  stage "profile-all-$tag" 40 "${envs[@]}" EDGESERVE_CUDA_PROFILE=all sh -c "node .bundle/bench.mjs $R/profile-all-$tag.json $R/roofline.json throughput 2>$R/profile-all-$tag.txt"
done
stage workload 30 python3 -c "import sys,json; sys.path.insert(0,'bench/peers'); from workload import load_workload; json.dump(load_workload(None,'random',1000,input_len=1024,output_len=128,seed=0), open('$wl','w'))"
for tag in tc v1; do
  declare -n envs=$tag
  stage "random8b-$tag" 60 "${envs[@]}" node .bundle/bench.mjs "$R/random8b-$tag.json" "$R/roofline.json" "random8b:$wl:200"
done

log "summary"; cat "$OUT/summary.txt"
tar -czf "$OUT/results.tgz" -C "$(dirname "$R")" "$(basename "$R")"
cat "$R"/profile-all-tc.txt "$R"/profile-all-v1.txt 2>/dev/null
grep -hE '^\{|^(decodeStep|decode8b|throughput|random8b|sampling-check|check|time|prefill-check)|passed|FAILED|Error' "$OUT/check.log" | cut -c1-300 | tail -50
