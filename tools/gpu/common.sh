# Sourced by the GPU-host scripts (check.sh, check-env-ab.sh, ...) after they set DEADLINE_S: the
# output folders, the fixture list, the time-boxed stage runner, the kernel-level checks, and the
# Node/CUDA environment every one of them starts from. Not a script of its own.
OUT=${OUT:-/tmp/es-out}
mkdir -p "$OUT"
R=/tmp/es-results  # everything lands here and is packed into $OUT/results.tgz after each stage
mkdir -p "$R"
# The HF-comparison models: gen-fixtures.ts writes all but the last (make_llama8b_stack.py).
fx=/tmp/es-fixtures
fixtures=($fx/llama $fx/qwen2 $fx/qwen3 $fx/mistral $fx/llama3-rope $fx/llama-linear $fx/llama-dynamic
  $fx/qwen2-yarn $fx/llama8b-2layer)
log() { echo "== $(date -u +%H:%M:%S) [$SECONDS s] $*" | tee -a "$OUT/check.log"; }
left() { echo $((DEADLINE_S - SECONDS)); }
stage() { # name limit_s command... (the limit shrinks to what is left before the deadline)
  local name=$1 limit=$2; shift 2
  local l; l=$(left)
  ((limit > l)) && limit=$l
  if ((limit < 5)); then log "stage $name skipped (deadline)"; echo "$name skipped" >>"$OUT/summary.txt"; return 1; fi
  log "stage $name (limit ${limit}s)"
  local t0=$SECONDS
  timeout "$limit" "$@" >>"$OUT/check.log" 2>&1
  local rc=$?
  log "stage $name rc=$rc in $((SECONDS - t0))s"
  echo "$name rc=$rc $((SECONDS - t0))s" >>"$OUT/summary.txt"
  tar -czf "$OUT/results.tgz" -C "$(dirname "$R")" "$(basename "$R")" 2>/dev/null
  return $rc
}
# The kernel-level checks, built against the addon's objects (after the build stage); each
# returns its check's exit code (0 only when every case matched float64).
attn_check() {
  stage attn-build 90 nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ibackend/native/src \
    tools/gpu/attn-check.cu backend/native/build/attention-decode.o -L"$lib" -lcublas -o /tmp/attn-check
  stage attn-check 120 /tmp/attn-check "$R/attn-check.json"
}
prefill_check() {
  stage prefill-build 60 nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ibackend/native/src \
    tools/gpu/prefill-check.cu backend/native/build/attention-prefill.o -o /tmp/prefill-check
  stage prefill-check 90 /tmp/prefill-check "$R/prefill-check.json"
}
gpu_host_setup() { # env_file → unpacks the carried Node, records the card and toolchain in env_file,
  # points the build at the addon and N-API headers, and sets inc/lib to cuBLAS's folders
  tar -C /usr/local/bin -xJf .carry/node.tar.xz
  { nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv; nvcc --version | tail -2;
    node --version; python3 -c 'import torch,transformers;print(torch.__version__,transformers.__version__)'; date -u; } >"$1" 2>&1
  export EDGESERVE_NATIVE_DIR=$PWD/backend/native
  export EDGESERVE_CUDA_ADDON=$PWD/backend/native/build/edgeserve_cuda.node
  export EDGESERVE_NAPI_INCLUDE=$PWD/.carry/napi
  inc=$(dirname "$(find /usr/local/cuda/include /usr/local/cuda/targets /opt /usr/lib/python3* -name cublas_v2.h 2>/dev/null | head -1)")
  lib=$(dirname "$(find /usr/local/cuda/lib64 /usr/local/cuda/targets /opt /usr/lib/python3* -name 'libcublas.so*' 2>/dev/null | head -1)")
  export CPATH=${inc}${CPATH:+:$CPATH} LIBRARY_PATH=${lib}${LIBRARY_PATH:+:$LIBRARY_PATH} LD_LIBRARY_PATH=${lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}
