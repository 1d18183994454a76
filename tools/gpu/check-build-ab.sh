#!/usr/bin/env bash
# A kernel change against the previous build, through check-env-ab.sh: the addon built on the GPU
# host from this tree ("new") against one built here from the commit before the change ("base",
# tmp/ab-base/edgeserve_cuda.node, same nvcc flags), with the correctness suite under "new".
# NEW_ENV adds environment to the "new" runs (e.g. NEW_ENV=EDGESERVE_CUDA_GEMM_TUNE=log).
# Here: `bash tools/gpu/bundle.sh`, then the base addon: `git worktree add /tmp/base-wt REV`,
# `ln -s $PWD/node_modules /tmp/base-wt/`, in /tmp/base-wt `node bin/edgeserve.js build-native`
# (nvcc here needs CPATH/LIBRARY_PATH to cuBLAS and EDGESERVE_NAPI_INCLUDE=.carry/napi), and copy
# its backend/native/build/edgeserve_cuda.node to tmp/ab-base/. Then via the device tool with
# carry [".carry", ".bundle", "tmp/ab-base"]:   bash tools/gpu/check-build-ab.sh
VARIANTS="new:${NEW_ENV:-};base:EDGESERVE_CUDA_ADDON=$PWD/tmp/ab-base/edgeserve_cuda.node" \
  exec bash "$(dirname "$0")/check-env-ab.sh"
