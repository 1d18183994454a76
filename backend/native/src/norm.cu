// Fused residual add + RMSNorm, rounding where Hugging Face's bf16 modules round.
// The default kernel keeps its share of the row in registers: every load (residual, delta,
// weight) is issued before the reduction, and the row is read once. The first one
// (EDGESERVE_CUDA_POINTWISE=v1) re-read the residual after the reduction and loaded the weight
// only then. Both give each thread the same pairs in the same order and reduce over the same
// block size, so their outputs are bit-identical.
#include "common.cuh"
#include "kernels.h"

namespace {

constexpr int kMaxPairsPerThread = 8;

__global__ void add_rmsnorm_kernel(bf16* __restrict__ res, const bf16* __restrict__ delta,
                                   const bf16* __restrict__ weight, bf16* __restrict__ out,
                                   int hidden, float eps) {
  __shared__ float scratch[32];
  size_t row = blockIdx.x;
  __nv_bfloat162* r = reinterpret_cast<__nv_bfloat162*>(res + row * hidden);
  const __nv_bfloat162* d =
      delta ? reinterpret_cast<const __nv_bfloat162*>(delta + row * hidden) : nullptr;
  const __nv_bfloat162* w = reinterpret_cast<const __nv_bfloat162*>(weight);
  int pairs = hidden / 2;
  __nv_bfloat162 xr[kMaxPairsPerThread], dr[kMaxPairsPerThread], wr[kMaxPairsPerThread];
#pragma unroll
  for (int k = 0; k < kMaxPairsPerThread; k++) {
    int i = threadIdx.x + k * blockDim.x;
    if (i < pairs) {
      xr[k] = r[i];
      if (d) dr[k] = d[i];
      wr[k] = w[i];
    }
  }
  float2 x[kMaxPairsPerThread];
  float ss = 0.f;
#pragma unroll
  for (int k = 0; k < kMaxPairsPerThread; k++) {
    int i = threadIdx.x + k * blockDim.x;
    if (i < pairs) {
      x[k] = __bfloat1622float2(xr[k]);
      if (d) {
        float2 y = __bfloat1622float2(dr[k]);
        x[k].x = round_bf16(x[k].x + y.x);
        x[k].y = round_bf16(x[k].y + y.y);
        r[i] = __floats2bfloat162_rn(x[k].x, x[k].y);
      }
      ss += x[k].x * x[k].x + x[k].y * x[k].y;
    }
  }
  float inv = rsqrtf(block_sum(ss, scratch) / hidden + eps);
  __nv_bfloat162* o = reinterpret_cast<__nv_bfloat162*>(out + row * hidden);
#pragma unroll
  for (int k = 0; k < kMaxPairsPerThread; k++) {
    int i = threadIdx.x + k * blockDim.x;
    if (i < pairs) {
      float2 g = __bfloat1622float2(wr[k]);
      o[i] = __floats2bfloat162_rn(round_bf16(x[k].x * inv) * g.x, round_bf16(x[k].y * inv) * g.y);
    }
  }
}

__global__ void add_rmsnorm_kernel_v1(bf16* __restrict__ res, const bf16* __restrict__ delta,
                                      const bf16* __restrict__ weight, bf16* __restrict__ out,
                                      int hidden, float eps) {
  __shared__ float scratch[32];
  size_t row = blockIdx.x;
  __nv_bfloat162* r = reinterpret_cast<__nv_bfloat162*>(res + row * hidden);
  const __nv_bfloat162* d =
      delta ? reinterpret_cast<const __nv_bfloat162*>(delta + row * hidden) : nullptr;
  int pairs = hidden / 2;
  float ss = 0.f;
  for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
    float2 x = __bfloat1622float2(r[i]);
    if (d) {
      float2 y = __bfloat1622float2(d[i]);
      x.x = round_bf16(x.x + y.x);
      x.y = round_bf16(x.y + y.y);
      r[i] = __floats2bfloat162_rn(x.x, x.y);
    }
    ss += x.x * x.x + x.y * x.y;
  }
  float inv = rsqrtf(block_sum(ss, scratch) / hidden + eps);
  const __nv_bfloat162* w = reinterpret_cast<const __nv_bfloat162*>(weight);
  __nv_bfloat162* o = reinterpret_cast<__nv_bfloat162*>(out + row * hidden);
  for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
    float2 x = __bfloat1622float2(r[i]);
    float2 g = __bfloat1622float2(w[i]);
    o[i] = __floats2bfloat162_rn(round_bf16(x.x * inv) * g.x, round_bf16(x.y * inv) * g.y);
  }
}

}  // namespace

namespace es {

void launch_add_rmsnorm(bf16* res, const bf16* delta, const bf16* weight, bf16* out, int rows,
                        int hidden, float eps, cudaStream_t stream, bool v1) {
  require(hidden % 2 == 0, "add_rmsnorm: hidden size must be even");
  if (rows == 0) return;
  // The block size fixes the reduction order; both kernels use the same one.
  int threads = hidden >= 2048 ? 512 : 128;
  if (v1 || hidden / 2 > kMaxPairsPerThread * threads) {
    add_rmsnorm_kernel_v1<<<rows, threads, 0, stream>>>(res, delta, weight, out, hidden, eps);
    CK_LAUNCH("add_rmsnorm_kernel_v1");
    return;
  }
  add_rmsnorm_kernel<<<rows, threads, 0, stream>>>(res, delta, weight, out, hidden, eps);
  CK_LAUNCH("add_rmsnorm_kernel");
}

}  // namespace es
