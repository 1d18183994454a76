#!/usr/bin/env bash
# A host-side (TypeScript) change, through check-env-ab.sh: the same addon runs the benchmarks
# with this tree's bench bundle ("new") and one bundled from the commit before the change ("old",
# tmp/ab-js/bench-old.mjs), with the correctness suite under "new".
# Here: `bash tools/gpu/bundle.sh`; `git worktree add /tmp/base-wt REV`, link node_modules into
# it, and in it run the bench.mjs esbuild line of bundle.sh with --outfile=$PWD/tmp/ab-js/bench-old.mjs.
# Then via the device tool with carry [".carry", ".bundle", "tmp/ab-js"]:   bash tools/gpu/check-js-ab.sh
VARIANTS="new:;old:BUNDLE=tmp/ab-js/bench-old.mjs" exec bash "$(dirname "$0")/check-env-ab.sh"
