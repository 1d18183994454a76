// After the fused qkv projection: bias (qwen2), per-head RMSNorm of q and k (qwen3), rotary
// embedding of q and k, then k and v written into the paged cache at each token's slot. A warp
// handles one (token, head); each lane holds pairs (j, j + hd/2), the two halves RoPE rotates
// together. The default launch gives every (token, head) its own warp across the grid; the first
// one (EDGESERVE_CUDA_POINTWISE=v1) had one block per token whose 4 warps walked the heads in
// turn, a chain of dependent loads 8 heads long. Both run the same per-head code, so their
// outputs are bit-identical.
#include "common.cuh"
#include "kernels.h"

namespace {

constexpr int kMaxPairsPerLane = 4;  // head_dim <= 256
constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ void qkv_post_head(const es::QkvPostArgs& a, int t, int h, int lane) {
  int hd = a.head_dim, half = hd / 2;
  int heads = a.num_heads + 2 * a.num_kv_heads;
  bool is_q = h < a.num_heads, is_k = !is_q && h < a.num_heads + a.num_kv_heads;
  // Loaded beside the head's values (no load waits on another); a k/v head of a token without a
  // slot (graph padding) computes and then writes nothing.
  int slot = a.slot_mapping[t];
  int pos = a.positions[t];
  bf16* x = a.qkv + ((size_t)t * heads + h) * hd;
  const bf16* bias = a.bias ? a.bias + (size_t)h * hd : nullptr;
  float x1[kMaxPairsPerLane], x2[kMaxPairsPerLane];
  float ss = 0.f;
#pragma unroll
  for (int p = 0; p < kMaxPairsPerLane; p++) {
    int j = lane + 32 * p;
    x1[p] = x2[p] = 0.f;
    if (j < half) {
      x1[p] = __bfloat162float(x[j]);
      x2[p] = __bfloat162float(x[j + half]);
      if (bias) {
        x1[p] = round_bf16(x1[p] + __bfloat162float(bias[j]));
        x2[p] = round_bf16(x2[p] + __bfloat162float(bias[j + half]));
      }
      ss += x1[p] * x1[p] + x2[p] * x2[p];
    }
  }
  const bf16* norm = is_q ? a.q_norm : is_k ? a.k_norm : nullptr;
  if (norm) {
    float inv = rsqrtf(warp_sum(ss) / hd + a.eps);
#pragma unroll
    for (int p = 0; p < kMaxPairsPerLane; p++) {
      int j = lane + 32 * p;
      if (j < half) {
        x1[p] = round_bf16(round_bf16(x1[p] * inv) * __bfloat162float(norm[j]));
        x2[p] = round_bf16(round_bf16(x2[p] * inv) * __bfloat162float(norm[j + half]));
      }
    }
  }
  bf16* dst = x;
  if (!is_q) {
    if (slot < 0) return;
    int kv_head = h - a.num_heads - (is_k ? 0 : a.num_kv_heads);
    bf16* cache = is_k ? a.k_cache : a.v_cache;
    dst = cache + ((size_t)slot * a.num_kv_heads + kv_head) * hd;
  }
#pragma unroll
  for (int p = 0; p < kMaxPairsPerLane; p++) {
    int j = lane + 32 * p;
    if (j >= half) continue;
    float o1 = x1[p], o2 = x2[p];
    if (is_q || is_k) {
      float f = (float)pos * a.inv_freq[j];
      float c = round_bf16(cosf(f) * a.rope_scaling);
      float s = round_bf16(sinf(f) * a.rope_scaling);
      o1 = round_bf16(x1[p] * c) + round_bf16(-x2[p] * s);
      o2 = round_bf16(x2[p] * c) + round_bf16(x1[p] * s);
    }
    dst[j] = __float2bfloat16(o1);
    dst[j + half] = __float2bfloat16(o2);
  }
}

// One warp per (token, head), heads of a token in consecutive warps.
__global__ void qkv_post_kernel(es::QkvPostArgs a) {
  int heads = a.num_heads + 2 * a.num_kv_heads;
  size_t w = (size_t)blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5);
  if (w >= (size_t)a.num_tokens * heads) return;
  qkv_post_head(a, (int)(w / heads), (int)(w % heads), threadIdx.x & 31);
}

// First version: one block per token, its warps looping over the heads.
__global__ void qkv_post_kernel_v1(es::QkvPostArgs a) {
  int warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  int heads = a.num_heads + 2 * a.num_kv_heads;
  for (int h = warp; h < heads; h += nwarps) qkv_post_head(a, blockIdx.x, h, threadIdx.x & 31);
}

}  // namespace

namespace es {

void launch_qkv_post(const QkvPostArgs& a, cudaStream_t stream, bool v1) {
  require(a.head_dim % 2 == 0 && a.head_dim <= 2 * 32 * kMaxPairsPerLane,
          "qkv_post: head_dim must be even and <= 256");
  if (a.num_tokens == 0) return;
  if (v1) {
    qkv_post_kernel_v1<<<a.num_tokens, 128, 0, stream>>>(a);
    CK_LAUNCH("qkv_post_kernel_v1");
    return;
  }
  size_t warps = (size_t)a.num_tokens * (a.num_heads + 2 * a.num_kv_heads);
  size_t blocks = (warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
  qkv_post_kernel<<<(unsigned)blocks, 32 * kWarpsPerBlock, 0, stream>>>(a);
  CK_LAUNCH("qkv_post_kernel");
}

}  // namespace es
