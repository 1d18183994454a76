#!/usr/bin/env bash
# The one GPU-host script: build the addon, check correctness (HF logits, concurrency, runner
# contract), then benchmark. Every stage logs under $OUT and a failing stage never stops the
# next. Run from the repo root via the device tool with carry [".carry", ".bundle"]:
#   bash tools/gpu/check.sh [STAGES]   (default: build hf contract bench)
set -uo pipefail
OUT=${OUT:-/tmp/es-out}
mkdir -p "$OUT"
stages=${1:-"build hf contract bench variant"}
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$OUT/check.log"; }
stage() { # name timeout_s command...
  local name=$1 limit=$2; shift 2
  log "stage $name (limit ${limit}s)"
  local t0=$SECONDS
  timeout "$limit" "$@" >>"$OUT/check.log" 2>&1
  local rc=$?
  log "stage $name rc=$rc in $((SECONDS - t0))s"
  echo "$name rc=$rc $((SECONDS - t0))s" >>"$OUT/summary.txt"
}

tar -C /usr/local/bin -xJf .carry/node.tar.xz
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv; nvcc --version | tail -2;
  node --version; python3 -c 'import torch,transformers;print(torch.__version__,transformers.__version__)'; date -u; git log -1 --format=%H 2>/dev/null; } >"$OUT/env.txt" 2>&1
export EDGESERVE_NATIVE_DIR=$PWD/backend/native
export EDGESERVE_CUDA_ADDON=$PWD/backend/native/build/edgeserve_cuda.node
export EDGESERVE_NAPI_INCLUDE=$PWD/.carry/napi
# cuBLAS headers/libraries: the toolkit's, else the pip wheel's beside torch.
inc=$(dirname "$(find /usr/local/cuda/include /usr/local/cuda/targets /opt /usr/lib/python3* -name cublas_v2.h 2>/dev/null | head -1)")
lib=$(dirname "$(find /usr/local/cuda/lib64 /usr/local/cuda/targets /opt /usr/lib/python3* -name 'libcublas.so*' 2>/dev/null | head -1)")
export CPATH=${inc}${CPATH:+:$CPATH} LIBRARY_PATH=${lib}${LIBRARY_PATH:+:$LIBRARY_PATH} LD_LIBRARY_PATH=${lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "cublas include=$inc lib=$lib" >>"$OUT/env.txt"
fx=/tmp/es-fixtures

for s in $stages; do case $s in
  build)
    stage build 300 node .bundle/build.mjs --jobs 16
    cuobjdump -res-usage backend/native/build/attention-*.o backend/native/build/sampling.o 2>&1 |
      grep -E "Function|REG" | paste - - | sed -E 's/\s+/ /g' | cut -c1-200 >>"$OUT/check.log" ;;
  hf)
    stage fixtures 120 node .bundle/gen-fixtures.mjs $fx
    stage llama8b-stack 180 python3 tools/gpu/make_llama8b_stack.py $fx/llama8b-2layer 2
    stage hf-logits 300 python3 tools/gpu/hf_logits.py $fx/llama $fx/qwen2 $fx/qwen3 $fx/mistral $fx/llama3-rope $fx/llama8b-2layer
    stage hf-compare 300 node .bundle/hf-compare.mjs "$OUT/hf-compare.json" $fx/llama $fx/qwen2 $fx/qwen3 $fx/mistral $fx/llama3-rope $fx/llama8b-2layer ;;
  variant) # the decode-attention K pass without unrolling, to A/B it in the same call
    stage variant 120 bash -c 'cd backend/native/build && nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Xcompiler -fPIC -DES_K_UNROLL=1 -c ../src/attention-decode.cu -o /tmp/attention-decode-u1.o && nvcc -shared -gencode=arch=compute_90a,code=sm_90a -o edgeserve_cuda_u1.node $(ls *.o | grep -v attention-decode) /tmp/attention-decode-u1.o -L$LIBRARY_PATH -lcublas'
    stage bench-u1 300 env EDGESERVE_CUDA_ADDON=$PWD/backend/native/build/edgeserve_cuda_u1.node node .bundle/bench.mjs "$OUT/bench-u1.json" "$OUT/roofline.json" decodeStep throughput ;;
  contract)
    stage contract 300 node .bundle/contract.mjs "$OUT/contract.json" ;;
  bench)
    stage roofline 120 python3 tools/gpu/roofline.py "$OUT/roofline.json"
    stage bench 420 node .bundle/bench.mjs "$OUT/bench.json" "$OUT/roofline.json" decode8b decodeStep throughput ;;
esac; done
log "summary"; cat "$OUT/summary.txt"
grep -hE '^\{|passed|FAILED|Error' "$OUT/check.log" | cut -c1-400 | tail -40
