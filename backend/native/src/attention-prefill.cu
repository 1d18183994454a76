// Paged attention for prefill and chunked prefill: a block takes a tile of up to 64 query tokens
// of one sequence and one q head, walks the sequence's keys [0, last position] in tiles of 32
// staged through shared memory (FlashAttention-style online softmax), and masks causally per
// query. Two threads per query, each owning alternate float4 column groups of the head.
#include "common.cuh"
#include "kernels.h"

namespace {

constexpr int kThreads = 128;
constexpr int kTileQ = es::kPrefillTile;
constexpr int kTileK = 32;

template <int HD>
__global__ void __launch_bounds__(kThreads)
    prefill_attention_kernel(es::AttentionArgs a, const int32_t* __restrict__ tile_seq,
                             const int32_t* __restrict__ tile_qbegin) {
  constexpr int kChunks = HD / 8;  // float4 groups per thread
  __shared__ __align__(16) float k_s[kTileK][HD];
  __shared__ __align__(16) float v_s[kTileK][HD];
  __shared__ int slot_s[kTileK];

  int tile = blockIdx.x, h = blockIdx.y;
  int kh = h / (a.num_heads / a.num_kv_heads);
  int tid = threadIdx.x, qi = tid >> 1, half = tid & 1;
  int seq = tile_seq[tile];
  int q0 = a.query_start[seq] + tile_qbegin[tile];
  int num_valid = min(kTileQ, a.query_start[seq + 1] - q0);
  bool valid = qi < num_valid;
  int token = q0 + min(qi, num_valid - 1);
  int pos = a.positions[token];
  int max_pos = a.positions[q0 + num_valid - 1];
  size_t qkv_stride = (size_t)(a.num_heads + 2 * a.num_kv_heads) * HD;
  const int32_t* table = a.block_tables + (size_t)seq * a.max_blocks_per_seq;

  float q[kChunks][4], acc[kChunks][4];
  const bf16* qp = a.qkv + token * qkv_stride + (size_t)h * HD;
#pragma unroll
  for (int c = 0; c < kChunks; c++) {
    int col = (2 * c + half) * 4;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      q[c][i] = __bfloat162float(qp[col + i]) * a.scale;
      acc[c][i] = 0.f;
    }
  }
  float m = -INFINITY, l = 0.f;

  for (int k0 = 0; k0 <= max_pos; k0 += kTileK) {
    __syncthreads();
    if (tid < kTileK) {
      int key = k0 + tid;
      slot_s[tid] = key <= max_pos
                        ? table[key / a.block_size] * a.block_size + key % a.block_size
                        : -1;
    }
    __syncthreads();
    for (int idx = tid; idx < kTileK * HD / 8; idx += kThreads) {
      int j = idx / (HD / 8), c8 = (idx % (HD / 8)) * 8;
      int slot = slot_s[j];
      float4 k_lo = make_float4(0.f, 0.f, 0.f, 0.f), k_hi = k_lo, v_lo = k_lo, v_hi = k_lo;
      if (slot >= 0) {
        size_t off = ((size_t)slot * a.num_kv_heads + kh) * HD + c8;
        uint4 kr = *reinterpret_cast<const uint4*>(a.k_cache + off);
        uint4 vr = *reinterpret_cast<const uint4*>(a.v_cache + off);
        const __nv_bfloat162* kb = reinterpret_cast<const __nv_bfloat162*>(&kr);
        const __nv_bfloat162* vb = reinterpret_cast<const __nv_bfloat162*>(&vr);
        float2 t0 = __bfloat1622float2(kb[0]), t1 = __bfloat1622float2(kb[1]);
        float2 t2 = __bfloat1622float2(kb[2]), t3 = __bfloat1622float2(kb[3]);
        k_lo = make_float4(t0.x, t0.y, t1.x, t1.y);
        k_hi = make_float4(t2.x, t2.y, t3.x, t3.y);
        t0 = __bfloat1622float2(vb[0]), t1 = __bfloat1622float2(vb[1]);
        t2 = __bfloat1622float2(vb[2]), t3 = __bfloat1622float2(vb[3]);
        v_lo = make_float4(t0.x, t0.y, t1.x, t1.y);
        v_hi = make_float4(t2.x, t2.y, t3.x, t3.y);
      }
      *reinterpret_cast<float4*>(&k_s[j][c8]) = k_lo;
      *reinterpret_cast<float4*>(&k_s[j][c8 + 4]) = k_hi;
      *reinterpret_cast<float4*>(&v_s[j][c8]) = v_lo;
      *reinterpret_cast<float4*>(&v_s[j][c8 + 4]) = v_hi;
    }
    __syncthreads();
    float s[kTileK];
#pragma unroll
    for (int j = 0; j < kTileK; j++) {
      float dot = 0.f;
#pragma unroll
      for (int c = 0; c < kChunks; c++) {
        float4 k4 = *reinterpret_cast<const float4*>(&k_s[j][(2 * c + half) * 4]);
        dot += q[c][0] * k4.x + q[c][1] * k4.y + q[c][2] * k4.z + q[c][3] * k4.w;
      }
      s[j] = dot;
    }
    float tile_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < kTileK; j++) {
      s[j] += __shfl_xor_sync(0xffffffffu, s[j], 1);
      if (k0 + j > pos) s[j] = -INFINITY;
      tile_max = fmaxf(tile_max, s[j]);
    }
    float m_new = fmaxf(m, tile_max);
    if (m_new == -INFINITY) continue;  // every key of this tile is in this query's future
    float alpha = m == -INFINITY ? 0.f : __expf(m - m_new);
    l *= alpha;
#pragma unroll
    for (int c = 0; c < kChunks; c++)
#pragma unroll
      for (int i = 0; i < 4; i++) acc[c][i] *= alpha;
#pragma unroll
    for (int j = 0; j < kTileK; j++) {
      float p = __expf(s[j] - m_new);
      l += p;
#pragma unroll
      for (int c = 0; c < kChunks; c++) {
        float4 v4 = *reinterpret_cast<const float4*>(&v_s[j][(2 * c + half) * 4]);
        acc[c][0] += p * v4.x;
        acc[c][1] += p * v4.y;
        acc[c][2] += p * v4.z;
        acc[c][3] += p * v4.w;
      }
    }
    m = m_new;
  }
  if (!valid) return;
  float inv = 1.f / l;
  bf16* op = a.out + (size_t)token * a.num_heads * HD + (size_t)h * HD;
#pragma unroll
  for (int c = 0; c < kChunks; c++) {
    int col = (2 * c + half) * 4;
#pragma unroll
    for (int i = 0; i < 4; i++) op[col + i] = __float2bfloat16(acc[c][i] * inv);
  }
}

template <int HD>
void launch_hd(const es::AttentionArgs& a, const int32_t* tile_seq, const int32_t* tile_qbegin,
               int num_tiles, cudaStream_t stream) {
  prefill_attention_kernel<HD>
      <<<dim3(num_tiles, a.num_heads), kThreads, 0, stream>>>(a, tile_seq, tile_qbegin);
  CK_LAUNCH("prefill_attention_kernel");
}

}  // namespace

namespace es {

void launch_prefill_attention(const AttentionArgs& a, const int32_t* tile_seq,
                              const int32_t* tile_qbegin, int num_tiles, cudaStream_t stream) {
  if (num_tiles == 0) return;
  require(a.num_heads % a.num_kv_heads == 0, "prefill_attention: heads must group evenly");
  switch (a.head_dim) {
    case 16: return launch_hd<16>(a, tile_seq, tile_qbegin, num_tiles, stream);
    case 32: return launch_hd<32>(a, tile_seq, tile_qbegin, num_tiles, stream);
    case 64: return launch_hd<64>(a, tile_seq, tile_qbegin, num_tiles, stream);
    case 128: return launch_hd<128>(a, tile_seq, tile_qbegin, num_tiles, stream);
    default: throw Error("prefill_attention: head_dim must be 16, 32, 64 or 128");
  }
}

}  // namespace es
