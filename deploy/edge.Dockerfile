# syntax=docker/dockerfile:1
# The edge gateway on Node, built from the repository root:
#   docker build -f deploy/edge.Dockerfile -t edgeserve-edge .
# (On Cloudflare Workers the same code runs from wrangler.toml instead; see docs/deploy.md.)

ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS node

# Production node_modules without the backend's native runtime, which the edge never loads.
FROM node AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node node_modules/onnxruntime-common \
 && npm cache clean --force

FROM node AS edge
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8787
RUN useradd --system --uid 10001 --gid 0 --home-dir /app --no-create-home edgeserve
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin/ ./bin/
COPY cli/ ./cli/
COPY shared/ ./shared/
COPY edge/ ./edge/
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
USER 10001
EXPOSE 8787
# /health is 503 while no backend is healthy, which is what an orchestrator should see too.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "/app/deploy/healthcheck.mjs"]
STOPSIGNAL SIGTERM
# Garbage collection tuned for a latency-bound proxy (docs/deploy.md): one thread collects (V8's
# parallel helpers wake other cores on every young collection), and the young generation is a
# fixed 64 MB semi-space: young collections stay rare, and V8 cannot shrink it after an idle spell
# and then collect dozens of times while it grows back. Under load the edge's RSS is the same
# either way (~215 MB); pinned, it does not drop when idle. No memory reducer: the full
# collections it starts when the edge goes quiet ran into the next burst of requests.
ENTRYPOINT ["node", "--single-threaded-gc", "--max-semi-space-size=64", "--min-semi-space-size=64", "--no-memory-reducer", "/app/bin/edgeserve.js"]
CMD ["edge", "--host", "0.0.0.0", "--port", "8787"]
