#!/usr/bin/env bash
# Run 8's call: the tensor-core prefill attention ("tc", the default build) against the first
# kernel in the same addon ("v1", EDGESERVE_CUDA_PREFILL=v1), through check-env-ab.sh.
# Here first: `bash tools/gpu/bundle.sh`; then via the device tool with carry [".carry", ".bundle"]:
#   bash tools/gpu/check-prefill.sh
VARIANTS="tc:;v1:EDGESERVE_CUDA_PREFILL=v1" exec bash "$(dirname "$0")/check-env-ab.sh"
