// Small-batch projections: y[t, o] = sum_k w[o, k] x[t, k] for up to kGemvMaxTokens tokens, the
// decode shapes where every weight byte is read for one to eight activations and cuBLAS's kernels
// leave HBM bandwidth unused on the narrower matrices (measured on an H100 at one stream: 1.8-2.0
// TB/s on the q/k/v and o projections against a 2.9 TB/s copy). One warp per output row streams
// the row with 16-byte loads (four in flight per lane, marked evict-first: a weight is read once
// per step), the activations come through L1, and the per-row sums run in fp32 in the same order
// whatever the token count, so a row's result does not depend on how many tokens share the step.
#include "common.cuh"
#include "kernels.h"

namespace es {
namespace {

constexpr int kWarps = 8;   // rows per block
constexpr int kUnroll = 4;  // 16-byte weight loads in flight per lane

__device__ __forceinline__ float dot8(const uint4& a, const uint4& b, float acc) {
  const __nv_bfloat162* x = reinterpret_cast<const __nv_bfloat162*>(&a);
  const __nv_bfloat162* y = reinterpret_cast<const __nv_bfloat162*>(&b);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 u = __bfloat1622float2(x[i]), v = __bfloat1622float2(y[i]);
    acc = fmaf(u.x, v.x, acc);
    acc = fmaf(u.y, v.y, acc);
  }
  return acc;
}

__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(bf16* p, float v) { *p = __float2bfloat16(v); }

template <int NT, typename Out>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_kernel(const bf16* __restrict__ w, const bf16* __restrict__ x, Out* __restrict__ y,
                int out, int in) {
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  if (row >= out) return;
  const int lane = threadIdx.x & 31;
  const int chunks = in / 8;  // 16-byte chunks per row
  const uint4* wr = reinterpret_cast<const uint4*>(w + (size_t)row * in);
  const uint4* xr = reinterpret_cast<const uint4*>(x);
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; t++) acc[t] = 0.f;
  int i = lane;
  for (; i + 32 * (kUnroll - 1) < chunks; i += 32 * kUnroll) {
    uint4 wv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) wv[u] = __ldcs(wr + i + 32 * u);
#pragma unroll
    for (int u = 0; u < kUnroll; u++)
#pragma unroll
      for (int t = 0; t < NT; t++) acc[t] = dot8(wv[u], __ldg(xr + (size_t)t * chunks + i + 32 * u), acc[t]);
  }
  for (; i < chunks; i += 32) {
    uint4 wv = __ldcs(wr + i);
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = dot8(wv, __ldg(xr + (size_t)t * chunks + i), acc[t]);
  }
#pragma unroll
  for (int t = 0; t < NT; t++) acc[t] = warp_sum(acc[t]);
  if (lane == 0) {
#pragma unroll
    for (int t = 0; t < NT; t++) store(y + (size_t)t * out + row, acc[t]);
  }
}

template <typename Out>
void launch(const bf16* w, const bf16* x, Out* y, int out, int tokens, int in, cudaStream_t st) {
  dim3 grid((out + kWarps - 1) / kWarps), block(kWarps * 32);
  switch (tokens) {
    case 1: gemv_kernel<1, Out><<<grid, block, 0, st>>>(w, x, y, out, in); break;
    case 2: gemv_kernel<2, Out><<<grid, block, 0, st>>>(w, x, y, out, in); break;
    case 3: gemv_kernel<3, Out><<<grid, block, 0, st>>>(w, x, y, out, in); break;
    case 4: gemv_kernel<4, Out><<<grid, block, 0, st>>>(w, x, y, out, in); break;
    case 5: gemv_kernel<5, Out><<<grid, block, 0, st>>>(w, x, y, out, in); break;
    case 6: gemv_kernel<6, Out><<<grid, block, 0, st>>>(w, x, y, out, in); break;
    case 7: gemv_kernel<7, Out><<<grid, block, 0, st>>>(w, x, y, out, in); break;
    case 8: gemv_kernel<8, Out><<<grid, block, 0, st>>>(w, x, y, out, in); break;
    default: throw Error("gemv: tokens must be 1.." + std::to_string(kGemvMaxTokens));
  }
  CK_LAUNCH("gemv_kernel");
}

}  // namespace

bool gemv_fits(const void* w, const void* x, int tokens, int in) {
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  return tokens >= 1 && tokens <= kGemvMaxTokens && in % 8 == 0 && aligned(w) && aligned(x);
}

void launch_gemv(const bf16* w, const bf16* x, void* y, int out, int tokens, int in, bool f32_out,
                 cudaStream_t stream) {
  require(gemv_fits(w, x, tokens, in), "gemv: needs 1-8 tokens, in % 8 == 0, 16-byte alignment");
  if (f32_out) launch(w, x, static_cast<float*>(y), out, tokens, in, stream);
  else launch(w, x, static_cast<bf16*>(y), out, tokens, in, stream);
}

}  // namespace es
