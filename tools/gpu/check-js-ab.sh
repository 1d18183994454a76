#!/usr/bin/env bash
# One GPU call for a host-side (TypeScript) change: the same addon, built here from the working
# tree, runs the nano-vllm workload through LLMEngine with this tree's bench bundle ("new") and
# one bundled from the commit before the change ("old", tmp/ab-js/bench-old.mjs), alternated twice.
# Here: `bash tools/gpu/bundle.sh`; `git worktree add /tmp/base-wt REV`, link node_modules into
# it, and in it run the bench.mjs esbuild line of bundle.sh with --outfile=$PWD/tmp/ab-js/bench-old.mjs.
# Then run from the repo root via the device tool with carry [".carry", ".bundle", "tmp/ab-js"]:
#   bash tools/gpu/check-js-ab.sh
set -uo pipefail
DEADLINE_S=${DEADLINE_S:-170}
source "$(dirname "$0")/common.sh"

gpu_host_setup "$R/env.txt"
stage build 120 node .bundle/build.mjs --jobs 16
stage roofline 30 python3 tools/gpu/roofline.py "$R/roofline.json"
for i in 1 2; do
  stage "new-$i" 30 node .bundle/bench.mjs "$R/new-$i.json" "$R/roofline.json" throughput
  stage "old-$i" 30 node tmp/ab-js/bench-old.mjs "$R/old-$i.json" "$R/roofline.json" throughput
done
tar -czf "$OUT/results.tgz" -C "$(dirname "$R")" "$(basename "$R")"
grep -hE '^throughput|Error' "$OUT/check.log" | cut -c1-400
