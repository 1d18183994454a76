#!/usr/bin/env bash
# Trains the demo model on a GPU machine and gathers what must come back through $OUT
# (at most 8 files): logs, the fixture, the weight shards and one tar of the small files.
# Run from the repo root after prepare-kjv.sh:  OUT=/some/dir tools/demo-model/run-on-device.sh
# A smoke pass (tiny model, seconds) goes first so that a broken save or fixture step fails
# before the real run spends its minutes.
set -uo pipefail
export PYTHONUNBUFFERED=1
: "${OUT:?set OUT to the folder that collects the results}"
here=tools/demo-model
verses=.demo-data/kjv-verses.txt
work=/tmp/demo-model
budget="${BUDGET_S:-390}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

{
  python3 "$here/train.py" --verses "$verses" --out /tmp/demo-smoke --smoke --budget-s 30 &&
    python3 "$here/fixture.py" --model /tmp/demo-smoke --fixture /tmp/demo-smoke/fixture.json
} >"$OUT/smoke-log.txt" 2>&1 || { tail -40 "$OUT/smoke-log.txt"; echo 'smoke pass failed'; exit 1; }
echo "smoke pass ok: $(grep -c . "$OUT/smoke-log.txt") log lines"

python3 "$here/train.py" --verses "$verses" --out "$work" --budget-s "$budget" 2>&1 |
  tee "$OUT/train-log.txt" || exit 1
python3 "$here/fixture.py" --model "$work" --fixture "$OUT/demo-greedy.json" 2>&1 |
  tee "$OUT/fixture-log.txt"
cp "$work"/model-*.safetensors "$OUT/"
tar -czf "$OUT/folder.tar.gz" -C "$work" --exclude='model-*.safetensors' .
ls -la "$OUT"
