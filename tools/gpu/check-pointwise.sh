#!/usr/bin/env bash
# One GPU call for run 6 (per-token kernels: qkv_post one warp per (token, head), add + RMSNorm
# with the row in registers, silu × up with 16-byte loads) against run 5's kernels, both from the
# same build (baseline: EDGESERVE_CUDA_POINTWISE=v1): build → correctness of both (HF logits on
# five fixture families + the 8-concurrent-equals-alone check, the runner contract suite; the two
# must also agree bit for bit on the HF comparison) with a fallback to the baseline → per-phase
# profile of a decode step at batch 256 → graph step timings → the nano-vllm workload, new and
# baseline alternated twice → the Llama-3.1-8B single stream. Every stage is time-boxed; the run
# ends by DEADLINE_S (default 290 s).
# Run from the repo root via the device tool with carry [".carry", ".bundle"] after
# `bash tools/gpu/bundle.sh` here:   bash tools/gpu/check-pointwise.sh
set -uo pipefail
DEADLINE_S=${DEADLINE_S:-290}
source "$(dirname "$0")/common.sh"

gpu_host_setup "$R/env.txt"
fx=/tmp/es-fixtures
families=($fx/qwen3 $fx/llama $fx/qwen2 $fx/mistral $fx/llama3-rope)  # the first one also runs the concurrency check
base=(env EDGESERVE_CUDA_POINTWISE=v1)

stage build 120 node .bundle/build.mjs --jobs 16
stage fixtures 40 node .bundle/gen-fixtures.mjs $fx
stage hf-logits 90 python3 tools/gpu/hf_logits.py "${families[@]}"
# Run 5's roofline (ceilings of the same card kind) for the benchmark's floor column.
cp bench/results/cuda-h200-2026-11-27-run5/roofline.json "$R/roofline.json"

verdict() { # tag → exit 0 when hf-compare (with the concurrency check) and the contract passed
  node -e 'const fs=require("fs");const r=f=>{try{return JSON.parse(fs.readFileSync(f))}catch{return null}};
    const [h,c]=process.argv.slice(1).map(r);
    const ok=!!(h&&c)&&h.models.length>0&&h.models.every(m=>m.pass===true)&&h.concurrency&&h.concurrency.pass===true&&c.failed===0&&c.passed>0;
    console.log("verdict",process.argv[3],ok?"PASS":"FAIL","hf",h&&h.models.map(m=>m.pass),"conc",h&&h.concurrency&&h.concurrency.pass,"contract",c&&c.passed,c&&c.failed);process.exit(ok?0:1)' \
    "$R/hf-compare-$1.json" "$R/contract-$1.json" "$1"
}
correct() { # tag env... → the checks under that environment
  local tag=$1; shift
  stage "hf-compare-$tag" 60 "$@" node .bundle/hf-compare.mjs "$R/hf-compare-$tag.json" "${families[@]}"
  stage "contract-$tag" 40 "$@" node .bundle/contract.mjs "$R/contract-$tag.json"
  verdict "$tag" 2>&1 | tee -a "$OUT/check.log"
}
config=new
new=(env)
correct new env || { config=base; new=("${base[@]}"); }
correct base "${base[@]}"
# Same arithmetic in both kernel sets: every logit difference against HF must match exactly.
node -e 'const fs=require("fs");const [a,b]=process.argv.slice(1).map(f=>JSON.parse(fs.readFileSync(f)).models);
  const same=a.length===b.length&&a.every((m,i)=>m.maxAbsDiffVsHfFp32===b[i].maxAbsDiffVsHfFp32&&m.top1AgreementVsHfBf16===b[i].top1AgreementVsHfBf16);
  console.log("bit-identical",same?"YES":"NO",a.map(m=>m.model+" "+m.maxAbsDiffVsHfFp32).join(", "),"|",b.map(m=>m.maxAbsDiffVsHfFp32).join(", "))' \
  "$R/hf-compare-new.json" "$R/hf-compare-base.json" 2>&1 | tee -a "$OUT/check.log"
log "configuration benchmarked as new: $config"; echo "config $config" >>"$OUT/summary.txt"

stage profile-new 40 "${new[@]}" EDGESERVE_CUDA_PROFILE=1 sh -c "node .bundle/profile-step.mjs $R/profile-new.json 12 256:0.6 2>$R/profile-new.txt"
stage profile-base 40 "${base[@]}" EDGESERVE_CUDA_PROFILE=1 sh -c "node .bundle/profile-step.mjs $R/profile-base.json 12 256:0.6 2>$R/profile-base.txt"
stage steps-new 40 "${new[@]}" node .bundle/profile-step.mjs "$R/steps-new.json" 16 256:0.6 256:0 144:0.6 64:0.6
stage steps-base 40 "${base[@]}" node .bundle/profile-step.mjs "$R/steps-base.json" 16 256:0.6 256:0 144:0.6 64:0.6
stage bench-new-1 50 "${new[@]}" node .bundle/bench.mjs "$R/bench-new-1.json" "$R/roofline.json" throughput
stage bench-base-1 50 "${base[@]}" node .bundle/bench.mjs "$R/bench-base-1.json" "$R/roofline.json" throughput
stage bench-new-2 50 "${new[@]}" node .bundle/bench.mjs "$R/bench-new-2.json" "$R/roofline.json" throughput
stage bench-base-2 50 "${base[@]}" node .bundle/bench.mjs "$R/bench-base-2.json" "$R/roofline.json" throughput
stage decode8b-new 40 "${new[@]}" node .bundle/bench.mjs "$R/decode8b-new.json" "$R/roofline.json" decode8b

log "summary"; cat "$OUT/summary.txt"
tar -czf "$OUT/results.tgz" -C "$(dirname "$R")" "$(basename "$R")"
cat "$R"/profile-new.txt "$R"/profile-base.txt 2>/dev/null
grep -hE '^(throughput|decode8b|step |bit-identical|verdict)|passed|FAILED|Error' "$OUT/check.log" | cut -c1-300 | tail -40
