#!/usr/bin/env bash
# Smoke test of the CPU stack: brings deploy/compose.yaml's `cpu` profile up (edge + backend on
# the demo model), then through the edge: /health, /v1/models with a minted token, and one
# streamed chat completion that must carry SSE data lines and end in `data: [DONE]`.
#
#   deploy/smoke.sh                  # needs Docker with compose v2; tears the stack down after
#   KEEP=1 deploy/smoke.sh           # leave it running
#   EDGE_URL=http://127.0.0.1:8787 TOKEN=… deploy/smoke.sh
#                                    # probe an edge that is already up (no Docker)
#
# test/deploy-smoke.test.ts runs the compose file's commands as plain processes and points this
# script's probe at them (EDGE_URL + TOKEN), so the probe below is exercised in CI too.
set -euo pipefail
cd "$(dirname "$0")/.."

compose() { docker compose -f deploy/compose.yaml --profile cpu "$@"; }

probe() {
  local url="$1" token="$2" auth models model body stream
  auth="Authorization: Bearer ${token}"
  curl -fsS --max-time 10 "${url}/health" >/dev/null
  models="$(curl -fsS --max-time 10 -H "$auth" "${url}/v1/models")"
  model="$(printf '%s' "$models" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p' | head -n 1)"
  [[ -n "$model" ]] || { echo "smoke: no model in /v1/models: $models" >&2; return 1; }
  body="{\"model\":\"${model}\",\"stream\":true,\"max_tokens\":8,\"temperature\":0,"
  body+="\"messages\":[{\"role\":\"user\",\"content\":\"In the beginning\"}]}"
  stream="$(curl -fsS -N --max-time 120 -H "$auth" -H 'content-type: application/json' \
    -d "$body" "${url}/v1/chat/completions")"
  grep -q '^data: {' <<<"$stream" || { echo "smoke: no SSE data: $stream" >&2; return 1; }
  [[ "$(grep '^data: ' <<<"$stream" | tail -n 1)" == 'data: [DONE]' ]] ||
    { echo "smoke: stream did not end in [DONE]: $stream" >&2; return 1; }
  echo "smoke: ok (model ${model}, $(grep -c '^data: {' <<<"$stream") chunks via ${url})"
}

if [[ -n "${EDGE_URL:-}" ]]; then
  probe "$EDGE_URL" "${TOKEN:?TOKEN must be set with EDGE_URL}"
  exit 0
fi

export JWT_SECRET="${JWT_SECRET:-$(head -c 32 /dev/urandom | base64)}"
port="${EDGE_PORT:-8787}"
[[ -n "${KEEP:-}" ]] || trap 'compose down --timeout 30' EXIT
compose up --build --detach --wait --wait-timeout 600
token="$(compose run --rm --no-deps -T edge token --sub smoke --ttl 10m | tail -n 1)"
probe "http://127.0.0.1:${port}" "$token"
