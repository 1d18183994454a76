#!/usr/bin/env bash
# One GPU call for an addon switch: the addon built here, run under each variant's environment.
# VARIANTS="name:ENV=1 ENV2=x;name2:ENV=2" (the first variant is the candidate; a variant with no
# env is the default build; BUNDLE=path in a variant's env runs that bench bundle instead of
# .bundle/bench.mjs, and EDGESERVE_CUDA_ADDON=path another addon: together, a previous commit).
# Runs attn-check.cu and prefill-check.cu (every kernel against float64), then correctness under
# the candidate's env (HF logits on common.sh's fixtures plus the concurrency check, the runner
# contract suite, the sampler check, teacher-forced logits on the trained demo model), then every
# variant alternated ROUNDS times (default 2) on the runner benchmarks (decode step at 256, 8B
# single stream, nano-vllm workload), and per variant a whole-workload profile of the nano-vllm
# run (EDGESERVE_CUDA_PROFILE=all, eager) and the 8B 1024-in/128-out run on 200 prompts
# (EXTRAS=0 skips those two). Every stage is time-boxed; the run ends by DEADLINE_S (default 540 s).
# Here first: `bash tools/gpu/bundle.sh`; then run from the repo root via the device tool with
# carry [".carry", ".bundle"] (plus the folder of any BUNDLE or addon):
#   VARIANTS=... bash tools/gpu/check-env-ab.sh
set -uo pipefail
DEADLINE_S=${DEADLINE_S:-540}
ROUNDS=${ROUNDS:-2}
EXTRAS=${EXTRAS:-1}
source "$(dirname "$0")/common.sh"

gpu_host_setup "$R/env.txt"
demo=/tmp/es-demo
wl=/tmp/es-random8b.json
IFS=';' read -ra specs <<<"${VARIANTS:?set VARIANTS=name:ENV=...;name2:...}"
names=()
declare -A envs
for spec in "${specs[@]}"; do names+=("${spec%%:*}"); envs[${spec%%:*}]=${spec#*:}; done
echo "variants: ${specs[*]}" >>"$OUT/summary.txt"
cand=${names[0]}
bench_of() { # variant → its bench bundle
  local b=.bundle/bench.mjs kv
  for kv in ${envs[$1]}; do [[ $kv == BUNDLE=* ]] && b=${kv#BUNDLE=}; done
  echo "$b"
}

stage build 150 node .bundle/build.mjs --jobs 16
attn_check
prefill_check
grep -E "^(check|time|attn-check|prefill-check)" "$OUT/check.log" | tail -50

stage fixtures 30 node .bundle/gen-fixtures.mjs $fx
stage llama8b-stack 60 python3 tools/gpu/make_llama8b_stack.py $fx/llama8b-2layer 2
stage demo-prepare 20 node .bundle/demo-compare.mjs prepare $demo models/demo tools/gpu/demo-kjv-prompts.json
stage hf-logits 120 python3 tools/gpu/hf_logits.py "${fixtures[@]}" "$demo"/*
stage hf-compare 60 env ${envs[$cand]} node .bundle/hf-compare.mjs "$R/hf-compare.json" "${fixtures[@]}"
stage contract 60 env ${envs[$cand]} node .bundle/contract.mjs "$R/contract.json"
stage sampling 40 env ${envs[$cand]} node .bundle/sampling-check.mjs "$R/sampling.json" $fx/qwen3
stage demo-compare 40 env ${envs[$cand]} node .bundle/demo-compare.mjs compare "$R/demo-compare.json" $demo models/demo

stage roofline 30 python3 tools/gpu/roofline.py "$R/roofline.json"
for ((i = 1; i <= ROUNDS; i++)); do
  for name in "${names[@]}"; do
    stage "bench-$name-$i" 40 env ${envs[$name]} node "$(bench_of "$name")" "$R/bench-$name-$i.json" "$R/roofline.json" decodeStep decode8b throughput
  done
done
if ((EXTRAS)); then
  for name in "${names[@]}"; do
    stage "profile-all-$name" 40 env ${envs[$name]} EDGESERVE_CUDA_PROFILE=all sh -c "node $(bench_of "$name") $R/profile-all-$name.json $R/roofline.json throughput 2>$R/profile-all-$name.txt"
  done
  stage workload 30 python3 -c "import sys,json; sys.path.insert(0,'bench/peers'); from workload import load_workload; json.dump(load_workload(None,'random',1000,input_len=1024,output_len=128,seed=0), open('$wl','w'))"
  for name in "${names[@]}"; do
    stage "random8b-$name" 60 env ${envs[$name]} node "$(bench_of "$name")" "$R/random8b-$name.json" "$R/roofline.json" "random8b:$wl:200"
  done
fi

log "summary"; cat "$OUT/summary.txt"
tar -czf "$OUT/results.tgz" -C "$(dirname "$R")" "$(basename "$R")"
for name in "${names[@]}"; do cat "$R/profile-all-$name.txt" 2>/dev/null; done
grep -hE '^\{|^(decodeStep|decode8b|throughput|random8b|sampling-check|check|time|attn-check|prefill-check)|passed|FAILED|Error' "$OUT/check.log" | cut -c1-300 | tail -70
