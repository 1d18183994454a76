#!/usr/bin/env bash
# Run HERE (not on the GPU host): packs Node + N-API headers into .carry/ and bundles the GPU
# scripts into .bundle/ (both git-ignored); then `run` with carry [".carry", ".bundle"].
set -euo pipefail
cd "$(dirname "$0")/../.."
bash /work/shared/gpu-host/pack-node.sh .carry
mkdir -p .bundle
common=(--bundle --platform=node --format=esm --target=node20 --external:onnxruntime-node
  "--banner:js=import{createRequire as __cr}from'module';const require=__cr(import.meta.url);")
for entry in build gen-fixtures hf-compare bench profile-step sampling-check demo-compare edgeserve-cli; do
  npx esbuild "tools/gpu/$entry.ts" "${common[@]}" --outfile=".bundle/$entry.mjs" --log-level=warning
done
npx esbuild tools/gpu/contract.ts "${common[@]}" --alias:vitest=./tools/gpu/vitest-shim.ts \
  --outfile=.bundle/contract.mjs --log-level=warning
ls -la .bundle .carry
