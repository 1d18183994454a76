// Decode attention, version 2 (included by attention-decode.cu, which dispatches). One block per
// (item, kv head, split), four warps; q stays in registers and every lane group streams its own
// keys with one pass per tile and an online softmax, so nothing round-trips through shared memory
// until the final merge. A lane group of HD/8 lanes covers one K/V row with 16-byte loads; each
// group takes 8 consecutive keys per iteration (with block_size % 8 == 0 they are 8 consecutive
// slots of one page, so one block-table read), and all 16 loads of a tile are issued before the
// first use. Softmax runs in the exp2 domain (q pre-scaled by log2 e); partial maxima are stored
// in the natural-log domain so the split combine below matches version 1's format.
#pragma once
#include "common.cuh"
#include "kernels.h"

namespace v2 {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kKeysPerGroup = 8;  // keys a lane group loads per iteration
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ void to_f32(const uint4& raw, float* f) {
  const __nv_bfloat162* b = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 v = __bfloat1622float2(b[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}

// Scales a state by exp2(m_old - m_new); an empty state (m_old = -inf) contributes nothing.
__device__ __forceinline__ float rescale(float m_old, float m_new) {
  return m_old == -INFINITY ? 0.f : exp2f(m_old - m_new);
}

// MAXG: q heads per kv head rounded up to a power of two; `group` is the real count.
template <int HD, int MAXG>
__global__ void __launch_bounds__(kThreads)
    decode_kernel(es::AttentionArgs a, const int32_t* __restrict__ item_token,
                  const int32_t* __restrict__ item_seq, int partition,
                  float* __restrict__ partial_out, float* __restrict__ partial_ml) {
  constexpr int kLanes = HD / 8;          // lanes per K/V row
  constexpr int kGroups = 32 / kLanes;    // lane groups per warp
  constexpr int kTile = kGroups * kKeysPerGroup;  // keys per warp per iteration
  constexpr int K = kKeysPerGroup;
  __shared__ float m_s[kWarps][MAXG], l_s[kWarps][MAXG];
  __shared__ __align__(16) float o_s[kWarps][MAXG][HD];

  const int item = blockIdx.x, kh = blockIdx.y, split = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int grp = lane / kLanes, part = lane % kLanes;
  const int group = a.num_heads / a.num_kv_heads;
  const int token = item_token[item], seq = item_seq[item];
  const int ctx = a.context_lens[seq];
  const int k_begin = split * partition;
  if (k_begin >= ctx) return;
  const int k_end = min(ctx, k_begin + partition);
  const int bs = a.block_size;
  const int stride = a.table_stride ? *a.table_stride : a.max_blocks_per_seq;
  const int32_t* table = a.block_tables + (size_t)seq * stride;
  const size_t row = (size_t)a.num_kv_heads * HD;  // elements between consecutive slots
  const bf16* kbase = a.k_cache + (size_t)kh * HD + part * 8;
  const bf16* vbase = a.v_cache + (size_t)kh * HD + part * 8;
  const bool one_page = bs % K == 0;

  float q[MAXG][8];
  const size_t qkv_stride = (size_t)(a.num_heads + 2 * a.num_kv_heads) * HD;
#pragma unroll
  for (int g = 0; g < MAXG; g++) {
    if (g < group) {
      uint4 raw = *reinterpret_cast<const uint4*>(a.qkv + token * qkv_stride +
                                                  (size_t)(kh * group + g) * HD + part * 8);
      to_f32(raw, q[g]);
#pragma unroll
      for (int i = 0; i < 8; i++) q[g][i] *= a.scale * kLog2e;
    } else {
#pragma unroll
      for (int i = 0; i < 8; i++) q[g][i] = 0.f;
    }
  }
  float m[MAXG], l[MAXG], acc[MAXG][8];
#pragma unroll
  for (int g = 0; g < MAXG; g++) {
    m[g] = -INFINITY;
    l[g] = 0.f;
#pragma unroll
    for (int i = 0; i < 8; i++) acc[g][i] = 0.f;
  }

  for (int t0 = k_begin + warp * kTile; t0 < k_end; t0 += kWarps * kTile) {
    const int key0 = t0 + grp * K;
    int slot[K];
    if (one_page) {
      int s0 = key0 < k_end ? table[key0 / bs] * bs + key0 % bs : 0;
#pragma unroll
      for (int j = 0; j < K; j++) slot[j] = s0 + j;
    } else {
#pragma unroll
      for (int j = 0; j < K; j++) {
        int key = key0 + j;
        slot[j] = key < k_end ? table[key / bs] * bs + key % bs : 0;
      }
    }
    uint4 kr[K], vr[K];
#pragma unroll
    for (int j = 0; j < K; j++) {
      bool ok = key0 + j < k_end;
      kr[j] = ok ? __ldg(reinterpret_cast<const uint4*>(kbase + slot[j] * row)) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int j = 0; j < K; j++) {
      bool ok = key0 + j < k_end;
      vr[j] = ok ? __ldg(reinterpret_cast<const uint4*>(vbase + slot[j] * row)) : make_uint4(0, 0, 0, 0);
    }
    float s[MAXG][K];
#pragma unroll
    for (int j = 0; j < K; j++) {
      float kf[8];
      to_f32(kr[j], kf);
#pragma unroll
      for (int g = 0; g < MAXG; g++) {
        float d = 0.f;
#pragma unroll
        for (int i = 0; i < 8; i++) d = fmaf(q[g][i], kf[i], d);
        s[g][j] = d;
      }
    }
#pragma unroll
    for (int g = 0; g < MAXG; g++) {
      if (g >= group) break;
#pragma unroll
      for (int j = 0; j < K; j++) {
#pragma unroll
        for (int o = kLanes / 2; o > 0; o >>= 1) s[g][j] += __shfl_xor_sync(0xffffffffu, s[g][j], o);
        if (key0 + j >= k_end) s[g][j] = -INFINITY;
      }
    }
    float p[MAXG][K];
#pragma unroll
    for (int g = 0; g < MAXG; g++) {
      float tmax = -INFINITY;
#pragma unroll
      for (int j = 0; j < K; j++) tmax = fmaxf(tmax, s[g][j]);
      float m_new = fmaxf(m[g], tmax);
      bool live = g < group && m_new != -INFINITY;
      float alpha = live ? rescale(m[g], m_new) : 1.f;
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < K; j++) {
        p[g][j] = live ? exp2f(s[g][j] - m_new) : 0.f;
        sum += p[g][j];
      }
      if (live) {
        l[g] = l[g] * alpha + sum;
        m[g] = m_new;
#pragma unroll
        for (int i = 0; i < 8; i++) acc[g][i] *= alpha;
      }
    }
#pragma unroll
    for (int j = 0; j < K; j++) {
      float vf[8];
      to_f32(vr[j], vf);
#pragma unroll
      for (int g = 0; g < MAXG; g++)
#pragma unroll
        for (int i = 0; i < 8; i++) acc[g][i] = fmaf(p[g][j], vf[i], acc[g][i]);
    }
  }

  // Merge the lane groups of each warp, then the warps through shared memory.
#pragma unroll
  for (int o = kLanes; o < 32; o <<= 1) {
#pragma unroll
    for (int g = 0; g < MAXG; g++) {
      if (g >= group) break;
      float mo = __shfl_xor_sync(0xffffffffu, m[g], o);
      float lo = __shfl_xor_sync(0xffffffffu, l[g], o);
      float mn = fmaxf(m[g], mo);
      float a1 = rescale(m[g], mn), a2 = rescale(mo, mn);
      l[g] = l[g] * a1 + lo * a2;
#pragma unroll
      for (int i = 0; i < 8; i++)
        acc[g][i] = acc[g][i] * a1 + __shfl_xor_sync(0xffffffffu, acc[g][i], o) * a2;
      m[g] = mn;
    }
  }
  if (grp == 0) {
#pragma unroll
    for (int g = 0; g < MAXG; g++) {
      if (g >= group) break;
      *reinterpret_cast<float4*>(&o_s[warp][g][part * 8]) =
          make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
      *reinterpret_cast<float4*>(&o_s[warp][g][part * 8 + 4]) =
          make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
      if (part == 0) {
        m_s[warp][g] = m[g];
        l_s[warp][g] = l[g];
      }
    }
  }
  __syncthreads();
  // An item whose context fits one partition is finished here; the combine skips it.
  const bool direct = ctx <= partition;
  for (int e = threadIdx.x; e < group * HD; e += kThreads) {
    int g = e / HD, d = e % HD;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; w++) mx = fmaxf(mx, m_s[w][g]);
    float num = 0.f, den = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; w++) {
      float f = rescale(m_s[w][g], mx);
      num += o_s[w][g][d] * f;
      den += l_s[w][g] * f;
    }
    int h = kh * group + g;
    if (direct) {
      a.out[(size_t)token * a.num_heads * HD + (size_t)h * HD + d] = __float2bfloat16(num / den);
    } else {
      size_t base = ((size_t)item * a.num_heads + h) * gridDim.z + split;
      partial_out[base * HD + d] = num / den;
      if (d == 0) {
        partial_ml[base * 2] = mx * kLn2;
        partial_ml[base * 2 + 1] = den;
      }
    }
  }
}

// Merges the splits of each (item, head). The split count per item comes from its own context
// length (read on the device), so a captured graph with a fixed partition stays right; an item
// within one partition was written by the decode kernel, and an item with no keys (a padded
// graph slot) gets zeros.
__global__ void combine_kernel(es::AttentionArgs a, const int32_t* __restrict__ item_token,
                               const int32_t* __restrict__ item_seq, int partition,
                               int max_splits, const float* __restrict__ partial_out,
                               const float* __restrict__ partial_ml) {
  int item = blockIdx.x, h = blockIdx.y;
  int hd = a.head_dim;
  int ctx = a.context_lens[item_seq[item]];
  int splits = min(max_splits, (ctx + partition - 1) / partition);
  if (splits == 1) return;
  size_t base = ((size_t)item * a.num_heads + h) * max_splits;
  float m = -INFINITY;
  for (int s = 0; s < splits; s++) m = fmaxf(m, partial_ml[(base + s) * 2]);
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float num = 0.f, den = 0.f;
    for (int s = 0; s < splits; s++) {
      float w = partial_ml[(base + s) * 2 + 1] * __expf(partial_ml[(base + s) * 2] - m);
      num += w * partial_out[(base + s) * hd + d];
      den += w;
    }
    a.out[(size_t)item_token[item] * a.num_heads * hd + h * hd + d] =
        __float2bfloat16(splits > 0 ? num / den : 0.f);
  }
}

template <int HD>
void launch(const es::AttentionArgs& a, const int32_t* item_token, const int32_t* item_seq,
            int num_items, const es::DecodeSplit& sp, float* po, float* pml,
            cudaStream_t stream) {
  dim3 grid(num_items, a.num_kv_heads, sp.splits);
  int group = a.num_heads / a.num_kv_heads;
  int P = sp.partition;
  if (group <= 1)
    decode_kernel<HD, 1><<<grid, kThreads, 0, stream>>>(a, item_token, item_seq, P, po, pml);
  else if (group <= 2)
    decode_kernel<HD, 2><<<grid, kThreads, 0, stream>>>(a, item_token, item_seq, P, po, pml);
  else if (group <= 4)
    decode_kernel<HD, 4><<<grid, kThreads, 0, stream>>>(a, item_token, item_seq, P, po, pml);
  else
    decode_kernel<HD, 8><<<grid, kThreads, 0, stream>>>(a, item_token, item_seq, P, po, pml);
  CK_LAUNCH("decode_attention_v2_kernel");
  if (sp.splits > 1) {
    combine_kernel<<<dim3(num_items, a.num_heads), HD < 32 ? 32 : HD, 0, stream>>>(
        a, item_token, item_seq, P, sp.splits, po, pml);
    CK_LAUNCH("decode_attention_v2_combine");
  }
}

}  // namespace v2
