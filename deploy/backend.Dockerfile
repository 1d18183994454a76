# syntax=docker/dockerfile:1
# The backend image, built from the repository root:
#   docker build -f deploy/backend.Dockerfile --target cuda -t edgeserve-backend:cuda .
#   docker build -f deploy/backend.Dockerfile --target cpu  -t edgeserve-backend:cpu  .
# `cuda` compiles the N-API addon with nvcc in the CUDA devel image and ships it on the much
# smaller runtime image (cuBLAS included, no compiler); `cpu` needs no CUDA at all and runs the
# onnxruntime-node runner. Both carry the demo model, so either serves something out of the box;
# real models are mounted and named with EDGESERVE_MODEL (or --model).

ARG NODE_VERSION=20
ARG CUDA_VERSION=12.6.3
ARG CUDA_DISTRO=ubuntu22.04

# Node itself comes from the official image: no NodeSource, no distro package.
FROM node:${NODE_VERSION}-bookworm-slim AS node

# Production node_modules only. onnxruntime-node ships every platform's binaries; keep this one.
FROM node AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && arch="$(node -p process.arch)" \
 && ort=node_modules/onnxruntime-node/bin/napi-v6 \
 && rm -rf "$ort/darwin" "$ort/win32" \
 && find "$ort/linux" -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} + \
 && npm cache clean --force

# The sources the backend runs (tsx runs TypeScript directly: there is no build step).
FROM scratch AS app
COPY package.json /app/
COPY bin/ /app/bin/
COPY cli/ /app/cli/
COPY shared/ /app/shared/
COPY backend/ /app/backend/
COPY edge/ /app/edge/
COPY bench/ /app/bench/
COPY deploy/healthcheck.mjs /app/deploy/healthcheck.mjs
COPY models/demo/ /app/models/demo/

# nvcc, CUDA and cuBLAS headers, Node's N-API headers: everything `edgeserve build-native` needs.
FROM nvidia/cuda:${CUDA_VERSION}-devel-${CUDA_DISTRO} AS cuda-build
ARG CUDA_ARCH=90a
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/include/node /usr/local/include/node
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=app /app ./
RUN node bin/edgeserve.js build-native --arch "${CUDA_ARCH}" \
 && test -f backend/native/build/edgeserve_cuda.node \
 && find backend/native/build -name '*.o' -delete

# The CPU image (`--target cpu`): Node's own slim Debian image, no CUDA anywhere.
FROM node AS cpu
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    EDGESERVE_MODEL=/app/models/demo \
    EDGESERVE_DEVICE=cpu
RUN useradd --system --uid 10001 --gid 0 --home-dir /app --no-create-home edgeserve
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=app /app ./
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "/app/deploy/healthcheck.mjs"]
# Node is PID 1 and handles SIGTERM itself: the backend drains, then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/edgeserve.js"]
CMD ["backend", "--host", "0.0.0.0", "--port", "8000", "--device", "cpu"]

# The GPU image: CUDA runtime libraries (cudart, cuBLAS), Node, the app and the built addon.
FROM nvidia/cuda:${CUDA_VERSION}-runtime-${CUDA_DISTRO} AS cuda
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    EDGESERVE_MODEL=/app/models/demo \
    EDGESERVE_DEVICE=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
RUN useradd --system --uid 10001 --gid 0 --home-dir /app --no-create-home edgeserve
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=app /app ./
COPY --from=cuda-build /app/backend/native/build/edgeserve_cuda.node ./backend/native/build/
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=300s --retries=3 \
  CMD ["node", "/app/deploy/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/edgeserve.js"]
CMD ["backend", "--host", "0.0.0.0", "--port", "8000", "--device", "cuda"]
