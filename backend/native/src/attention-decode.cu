// Paged attention for one query token per item (decode): version 1 below, version 2 in
// attention-decode-v2.cuh, chosen per model (EDGESERVE_CUDA_DECODE_ATTENTION). A block serves one (item, kv head,
// split): all q heads of the GQA group share each K/V row it reads. Long contexts are split over
// several blocks (flash-decoding) whose partial softmax states a second kernel combines.
#include "attention-decode-v2.cuh"
#include "common.cuh"
#include "kernels.h"

namespace {

constexpr int kThreads = 128;
constexpr int kChunk = 256;  // keys whose scores sit in shared memory at once
constexpr int kMaxGroup = 8;  // q heads per kv head
#ifndef ES_K_UNROLL
#define ES_K_UNROLL 2  // keys per lane group per K-pass iteration (loads in flight before use)
#endif
constexpr int kKeyUnroll = ES_K_UNROLL;

__device__ __forceinline__ void load16(const bf16* p, float* f) {
  const uint4* p4 = reinterpret_cast<const uint4*>(p);
#pragma unroll
  for (int h = 0; h < 2; h++) {
    uint4 raw = p4[h];
    const __nv_bfloat162* b = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      float2 v = __bfloat1622float2(b[i]);
      f[h * 8 + 2 * i] = v.x;
      f[h * 8 + 2 * i + 1] = v.y;
    }
  }
}

// MAXG: q heads per kv head rounded up to a power of two (register and shared-memory sizing).
template <int HD, int MAXG>
__global__ void __launch_bounds__(kThreads)
    decode_attention_kernel(es::AttentionArgs a, const int32_t* __restrict__ item_token,
                            const int32_t* __restrict__ item_seq, int partition,
                            float* __restrict__ partial_out, float* __restrict__ partial_ml) {
  constexpr int kLanesPerKey = HD / 16;
  constexpr int kKeysPerWarp = 32 / kLanesPerKey;
  // V pass: each thread owns 8 dims (one 16-byte load) of every q head in the group, for the
  // keys j ≡ its key group (mod kKeyGroups); the key groups are summed once at the end.
  constexpr int kThreadsPerRow = HD / 8;
  constexpr int kKeyGroups = kThreads / kThreadsPerRow;
  __shared__ float q_s[MAXG][HD];
  __shared__ float p_s[MAXG][kChunk];
  __shared__ int slot_s[kChunk];
  __shared__ float m_s[MAXG], l_s[MAXG], alpha_s[MAXG];
  __shared__ __align__(16) float red_s[kKeyGroups][HD];

  int item = blockIdx.x, kh = blockIdx.y, split = blockIdx.z;
  int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  int group = a.num_heads / a.num_kv_heads;
  int token = item_token[item], seq = item_seq[item];
  int ctx = a.context_lens[seq];
  int k_begin = split * partition;
  if (k_begin >= ctx) return;
  int k_end = min(ctx, k_begin + partition);
  size_t qkv_stride = (size_t)(a.num_heads + 2 * a.num_kv_heads) * HD;
  const int32_t* table = a.block_tables + (size_t)seq * a.max_blocks_per_seq;

  for (int e = tid; e < group * HD; e += kThreads) {
    int g = e / HD, d = e % HD;
    q_s[g][d] = __bfloat162float(a.qkv[token * qkv_stride + (size_t)(kh * group + g) * HD + d]) *
                a.scale;
  }
  if (tid < group) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.f;
  }
  const int vcol = (tid % kThreadsPerRow) * 8, vgroup = tid / kThreadsPerRow;
  float acc[MAXG][8];
#pragma unroll
  for (int g = 0; g < MAXG; g++)
#pragma unroll
    for (int i = 0; i < 8; i++) acc[g][i] = 0.f;

  int sub = lane / kLanesPerKey, part = lane % kLanesPerKey;
  for (int c0 = k_begin; c0 < k_end; c0 += kChunk) {
    int n = min(kChunk, k_end - c0);
    __syncthreads();  // previous chunk's readers are done with slot_s / p_s
    for (int j = tid; j < n; j += kThreads) {
      int key = c0 + j;
      slot_s[j] = table[key / a.block_size] * a.block_size + key % a.block_size;
    }
    __syncthreads();
    // kKeyUnroll keys per lane group per iteration: all loads are in flight before the first use.
    constexpr int kStride = 4 * kKeysPerWarp;
    for (int jb = warp * kKeysPerWarp; jb < n; jb += kKeyUnroll * kStride) {
      int js[kKeyUnroll];
      float k[kKeyUnroll][16];
#pragma unroll
      for (int u = 0; u < kKeyUnroll; u++) {
        js[u] = jb + sub + u * kStride;
        if (js[u] < n) {
          load16(a.k_cache + ((size_t)slot_s[js[u]] * a.num_kv_heads + kh) * HD + part * 16, k[u]);
        } else {
#pragma unroll
          for (int i = 0; i < 16; i++) k[u][i] = 0.f;
        }
      }
#pragma unroll
      for (int u = 0; u < kKeyUnroll; u++) {
        for (int g = 0; g < group; g++) {
          float dot = 0.f;
#pragma unroll
          for (int i = 0; i < 16; i++) dot += q_s[g][part * 16 + i] * k[u][i];
#pragma unroll
          for (int o = kLanesPerKey / 2; o > 0; o >>= 1)
            dot += __shfl_xor_sync(0xffffffffu, dot, o);
          if (js[u] < n && part == 0) p_s[g][js[u]] = dot;
        }
      }
    }
    __syncthreads();
    for (int g = warp; g < group; g += kThreads / 32) {
      float mx = -INFINITY;
      for (int j = lane; j < n; j += 32) mx = fmaxf(mx, p_s[g][j]);
      mx = warp_max(mx);
      float m_old = m_s[g], m_new = fmaxf(m_old, mx);
      float sum = 0.f;
      for (int j = lane; j < n; j += 32) {
        float p = __expf(p_s[g][j] - m_new);
        p_s[g][j] = p;
        sum += p;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        float alpha = m_old == -INFINITY ? 0.f : __expf(m_old - m_new);
        alpha_s[g] = alpha;
        l_s[g] = l_s[g] * alpha + sum;
        m_s[g] = m_new;
      }
    }
    __syncthreads();
#pragma unroll
    for (int g = 0; g < MAXG; g++) {
      float alpha = g < group ? alpha_s[g] : 0.f;
#pragma unroll
      for (int i = 0; i < 8; i++) acc[g][i] *= alpha;
    }
    const bf16* vbase = a.v_cache + (size_t)kh * HD + vcol;
#pragma unroll 4
    for (int j = vgroup; j < n; j += kKeyGroups) {
      float v[8];
      uint4 raw = *reinterpret_cast<const uint4*>(vbase + (size_t)slot_s[j] * a.num_kv_heads * HD);
      const __nv_bfloat162* vb = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
      for (int i = 0; i < 4; i++) {
        float2 f = __bfloat1622float2(vb[i]);
        v[2 * i] = f.x;
        v[2 * i + 1] = f.y;
      }
#pragma unroll
      for (int g = 0; g < MAXG; g++) {
        if (g < group) {
          float p = p_s[g][j];
#pragma unroll
          for (int i = 0; i < 8; i++) acc[g][i] += p * v[i];
        }
      }
    }
  }
  bool direct = gridDim.z == 1;
#pragma unroll
  for (int g = 0; g < MAXG; g++) {
    if (g >= group) break;
    __syncthreads();
#pragma unroll
    for (int i = 0; i < 8; i++) red_s[vgroup][vcol + i] = acc[g][i];
    __syncthreads();
    for (int d = tid; d < HD; d += kThreads) {
      float sum = 0.f;
#pragma unroll
      for (int k = 0; k < kKeyGroups; k++) sum += red_s[k][d];
      int h = kh * group + g;
      float out = sum / l_s[g];
      if (direct) {
        a.out[(size_t)token * a.num_heads * HD + (size_t)h * HD + d] = __float2bfloat16(out);
      } else {
        size_t base = ((size_t)item * a.num_heads + h) * gridDim.z + split;
        partial_out[base * HD + d] = out;
      }
    }
  }
  if (!direct && tid < group) {
    size_t base = ((size_t)item * a.num_heads + kh * group + tid) * gridDim.z + split;
    partial_ml[base * 2] = m_s[tid];
    partial_ml[base * 2 + 1] = l_s[tid];
  }
}

// Merges the splits of each (item, head): weights each split's normalised output by its mass.
__global__ void combine_splits_kernel(es::AttentionArgs a, const int32_t* __restrict__ item_token,
                                      const int32_t* __restrict__ item_seq, int partition,
                                      int max_splits, const float* __restrict__ partial_out,
                                      const float* __restrict__ partial_ml) {
  int item = blockIdx.x, h = blockIdx.y;
  int hd = a.head_dim;
  int ctx = a.context_lens[item_seq[item]];
  int splits = (ctx + partition - 1) / partition;
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
    a.out[(size_t)item_token[item] * a.num_heads * hd + h * hd + d] = __float2bfloat16(num / den);
  }
}

template <int HD>
void launch_hd(const es::AttentionArgs& a, const int32_t* item_token, const int32_t* item_seq,
               int num_items, int partition, int splits, float* po, float* pml,
               cudaStream_t stream) {
  dim3 grid(num_items, a.num_kv_heads, splits);
  int group = a.num_heads / a.num_kv_heads;
  if (group <= 1)
    decode_attention_kernel<HD, 1><<<grid, kThreads, 0, stream>>>(a, item_token, item_seq, partition, po, pml);
  else if (group <= 2)
    decode_attention_kernel<HD, 2><<<grid, kThreads, 0, stream>>>(a, item_token, item_seq, partition, po, pml);
  else if (group <= 4)
    decode_attention_kernel<HD, 4><<<grid, kThreads, 0, stream>>>(a, item_token, item_seq, partition, po, pml);
  else
    decode_attention_kernel<HD, 8><<<grid, kThreads, 0, stream>>>(a, item_token, item_seq, partition, po, pml);
  CK_LAUNCH("decode_attention_kernel");
  if (splits > 1) {
    combine_splits_kernel<<<dim3(num_items, a.num_heads), HD < 32 ? 32 : HD, 0, stream>>>(
        a, item_token, item_seq, partition, splits, po, pml);
    CK_LAUNCH("combine_splits_kernel");
  }
}

}  // namespace

namespace es {

void launch_decode_attention(const AttentionArgs& a, const int32_t* item_token,
                             const int32_t* item_seq, int num_items, int max_context,
                             float* partial_out, float* partial_ml, size_t partial_capacity,
                             int num_sms, cudaStream_t stream) {
  if (num_items == 0) return;
  require(a.num_heads % a.num_kv_heads == 0 && a.num_heads / a.num_kv_heads <= kMaxGroup,
          "decode_attention: q heads per kv head must divide evenly and be <= 8");
  // Split the context only while the grid is too small to fill the GPU twice over.
  int blocks = num_items * a.num_kv_heads;
  int splits = 1;
  while (splits < 64 && blocks * splits < 2 * num_sms && max_context > splits * 128) splits *= 2;
  while (splits > 1 &&
         (size_t)num_items * a.num_heads * splits * a.head_dim > partial_capacity)
    splits /= 2;
  int partition = (max_context + splits - 1) / splits;
  partition = (partition + 63) / 64 * 64;
  splits = (max_context + partition - 1) / partition;
  switch (a.head_dim) {
    case 16: return launch_hd<16>(a, item_token, item_seq, num_items, partition, splits, partial_out, partial_ml, stream);
    case 32: return launch_hd<32>(a, item_token, item_seq, num_items, partition, splits, partial_out, partial_ml, stream);
    case 64: return launch_hd<64>(a, item_token, item_seq, num_items, partition, splits, partial_out, partial_ml, stream);
    case 128: return launch_hd<128>(a, item_token, item_seq, num_items, partition, splits, partial_out, partial_ml, stream);
    default: throw Error("decode_attention: head_dim must be 16, 32, 64 or 128");
  }
}

DecodeSplit plan_decode_split(const AttentionArgs& a, int num_items, int max_context,
                              size_t partial_capacity, int num_sms, int max_partition) {
  // Split while the grid holds fewer than ~4 blocks per SM and each split keeps >= 64 keys: a
  // small batch is latency-bound, and a split walks its keys serially.
  int blocks = num_items * a.num_kv_heads;
  int splits = 1;
  while (splits < 64 && blocks * splits < 4 * num_sms && max_context > splits * 64) splits *= 2;
  int partition = (max_context + splits - 1) / splits;
  // A full grid of uneven contexts: a cap on the keys one block walks, so the longest contexts
  // do not leave the last wave to a few blocks (items within one partition skip the combine).
  // Only while it makes at most 4 splits: a graph is planned for max_model_len, and a long one
  // would fill the grid with blocks that find no keys.
  constexpr int kMaxCapSplits = 4;
  if (max_partition > 0 && partition > max_partition &&
      max_context <= kMaxCapSplits * max_partition)
    partition = max_partition;
  partition = (partition + 63) / 64 * 64;
  splits = (max_context + partition - 1) / partition;
  while (splits > 1 && (size_t)num_items * a.num_heads * splits * a.head_dim > partial_capacity) {
    partition *= 2;
    splits = (max_context + partition - 1) / partition;
  }
  return {splits < 1 ? 1 : splits, partition < 64 ? 64 : partition};
}

void launch_decode_attention_v2(const AttentionArgs& a, const int32_t* item_token,
                                const int32_t* item_seq, int num_items, const DecodeSplit& split,
                                float* partial_out, float* partial_ml, cudaStream_t stream) {
  if (num_items == 0) return;
  require(a.num_heads % a.num_kv_heads == 0 && a.num_heads / a.num_kv_heads <= kMaxGroup,
          "decode_attention: q heads per kv head must divide evenly and be <= 8");
  switch (a.head_dim) {
    case 16: return v2::launch<16>(a, item_token, item_seq, num_items, split, partial_out, partial_ml, stream);
    case 32: return v2::launch<32>(a, item_token, item_seq, num_items, split, partial_out, partial_ml, stream);
    case 64: return v2::launch<64>(a, item_token, item_seq, num_items, split, partial_out, partial_ml, stream);
    case 128: return v2::launch<128>(a, item_token, item_seq, num_items, split, partial_out, partial_ml, stream);
    default: throw Error("decode_attention: head_dim must be 16, 32, 64 or 128");
  }
}

}  // namespace es
