#!/usr/bin/env bash
# One GPU call for a change against the previous configuration, both from the same build:
# build → correctness of the new configuration (HF logits on five fixture families + the
# concurrency check, the runner contract suite, the sampler against the CPU semantics) with a
# fallback → per-phase profile of a decode step at batch 256 (EDGESERVE_CUDA_PROFILE=1) for new
# and baseline → decode-step timings (graphs) → the nano-vllm workload, new and baseline
# alternated twice. Every stage is time-boxed; the run ends by DEADLINE_S (default 280 s).
# Baseline (run 4's configuration): EDGESERVE_CUDA_SAMPLING=v1 EDGESERVE_CUDA_GRAPH_BUCKETS=pow2.
# Run from the repo root via the device tool with carry [".carry", ".bundle"] after
# `bash tools/gpu/bundle.sh` here:   bash tools/gpu/check-ab.sh
set -uo pipefail
DEADLINE_S=${DEADLINE_S:-280}
source "$(dirname "$0")/common.sh"

gpu_host_setup "$R/env.txt"
fx=/tmp/es-fixtures
base=(env EDGESERVE_CUDA_SAMPLING=v1 EDGESERVE_CUDA_GRAPH_BUCKETS=pow2)

stage build 120 node .bundle/build.mjs --jobs 16
stage fixtures 40 node .bundle/gen-fixtures.mjs $fx
stage hf-logits 90 python3 tools/gpu/hf_logits.py $fx/llama $fx/qwen2 $fx/qwen3 $fx/mistral $fx/llama3-rope

verdict() { # tag → exit 0 when hf-compare, the contract and the sampling check all passed
  node -e 'const fs=require("fs");const r=f=>{try{return JSON.parse(fs.readFileSync(f))}catch{return null}};
    const [h,c,s]=process.argv.slice(1).map(r);
    const ok=!!(h&&c&&s)&&h.models.length>0&&h.models.every(m=>m.pass===true)&&h.concurrency&&h.concurrency.pass===true&&c.failed===0&&c.passed>0&&s.pass===true;
    console.log("verdict",process.argv[4],ok?"PASS":"FAIL","hf",h&&h.models.map(m=>m.pass),"conc",h&&h.concurrency&&h.concurrency.pass,"contract",c&&c.passed,c&&c.failed,"sampling",s&&s.pass);process.exit(ok?0:1)' \
    "$R/hf-compare-$1.json" "$R/contract-$1.json" "$R/sampling-$1.json" "$1"
}
correct() { # tag env... → runs the three checks under that environment
  local tag=$1; shift
  stage "hf-compare-$tag" 90 "$@" node .bundle/hf-compare.mjs "$R/hf-compare-$tag.json" $fx/llama $fx/qwen2 $fx/qwen3 $fx/mistral $fx/llama3-rope
  stage "contract-$tag" 60 "$@" node .bundle/contract.mjs "$R/contract-$tag.json"
  stage "sampling-$tag" 60 "$@" node .bundle/sampling-check.mjs "$R/sampling-$tag.json" $fx/qwen3
  verdict "$tag" 2>&1 | tee -a "$OUT/check.log"
}
# New = fast sampler + buckets of 16; if it fails, the new buckets with the first sampler; else run 4's.
config=new
new=(env)
if ! correct new env; then
  config=buckets16; new=(env EDGESERVE_CUDA_SAMPLING=v1)
  correct buckets16 "${new[@]}" || { config=base; new=("${base[@]}"); }
fi
log "configuration benchmarked as new: $config"; echo "config $config" >>"$OUT/summary.txt"
# The first sampler through the same check, as a control for the agreement rate.
stage sampling-v1 40 "${base[@]}" node .bundle/sampling-check.mjs "$R/sampling-v1.json" $fx/qwen3

stage roofline 40 python3 tools/gpu/roofline.py "$R/roofline.json" ||
  cp bench/results/cuda-h200-2026-11-27-run4/roofline.json "$R/roofline.json"
stage bench-new-1 60 "${new[@]}" node .bundle/bench.mjs "$R/bench-new-1.json" "$R/roofline.json" decodeStep throughput
stage bench-base-1 60 "${base[@]}" node .bundle/bench.mjs "$R/bench-base-1.json" "$R/roofline.json" decodeStep throughput
stage profile-new 40 "${new[@]}" EDGESERVE_CUDA_PROFILE=1 sh -c "node .bundle/profile-step.mjs $R/profile-new.json 12 256:0.6 2>$R/profile-new.txt"
stage profile-base 40 "${base[@]}" EDGESERVE_CUDA_PROFILE=1 sh -c "node .bundle/profile-step.mjs $R/profile-base.json 12 256:0.6 2>$R/profile-base.txt"
stage steps-new 40 "${new[@]}" node .bundle/profile-step.mjs "$R/steps-new.json" 16 256:0.6 256:0 144:0.6 64:0.6
stage steps-base 40 "${base[@]}" node .bundle/profile-step.mjs "$R/steps-base.json" 16 256:0.6 256:0 144:0.6 64:0.6
stage bench-new-2 60 "${new[@]}" node .bundle/bench.mjs "$R/bench-new-2.json" "$R/roofline.json" throughput
stage bench-base-2 60 "${base[@]}" node .bundle/bench.mjs "$R/bench-base-2.json" "$R/roofline.json" throughput

log "summary"; cat "$OUT/summary.txt"
tar -czf "$OUT/results.tgz" -C "$(dirname "$R")" "$(basename "$R")"
cat "$R"/profile-new.txt "$R"/profile-base.txt 2>/dev/null
grep -hE '^(decodeStep|throughput|step |sampling-check|verdict)|passed|FAILED|Error' "$OUT/check.log" | cut -c1-300 | tail -40
