// Paged attention for prefill and chunked prefill. A block takes a tile of up to 64 query tokens
// of one sequence and one q head and walks the sequence's keys [0, last position of the tile]
// through shared memory with an online softmax, masking causally per query.
//
// Version 2 (default): tensor cores. Four warps own 16 query rows each; S = Q·Kᵀ and O += P·V are
// mma.sync m16n8k16 bf16 products with fp32 accumulation. P goes into P·V as two bf16 terms, its
// rounding and the rounding's remainder, so P keeps ~16 bits and prefill agrees with the decode
// kernel (fp32 P) to float precision: a sequence recomputed after preemption, or a prompt
// prefilled in other chunks, sees the same logits. (One bf16 P, as FlashAttention rounds it, put
// 0.07-0.12 between recomputed and decoded logits on the contract fixtures; the second term
// doubles the P·V products, and the kernel took 7-11 % longer on an H100.) K/V tiles of 64 keys
// arrive by cp.async, the next K tile loading during the softmax and P·V of this one and the next
// V tile during the next Q·Kᵀ.
// Version 1 (EDGESERVE_CUDA_PREFILL=v1, kept for A/B): CUDA cores, fp32 K/V tiles of 32 keys, two
// threads per query, each owning alternate float4 column groups of the head.
#include "common.cuh"
#include "kernels.h"

namespace {

constexpr int kThreads = 128;
constexpr int kTileQ = es::kPrefillTile;
constexpr int kTileK = 32;

template <int HD>
__global__ void __launch_bounds__(kThreads)
    prefill_attention_v1_kernel(es::AttentionArgs a, const int32_t* __restrict__ tile_seq,
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

// ---- version 2: tensor cores ----

constexpr int kTcWarps = 4;
constexpr int kTcThreads = 32 * kTcWarps;
constexpr int kTcTileK = 64;
static_assert(kTileQ == 16 * kTcWarps, "one m16 row block per warp");

// cp.async of 16 bytes; when !valid nothing is read and the 16 bytes are zero-filled.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const bf16* p) {
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const bf16* p) {
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}
// c += a·b for one m16n8k16 tile (a row-major 16×16, b column-major 16×8, fp32 accumulators).
__device__ __forceinline__ void mma_bf16(float (&c)[4], const unsigned (&a)[4], unsigned b0,
                                         unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// Two fp32 values as bf16 pairs: `hi` their rounding, `lo` the rounding of what it lost.
__device__ __forceinline__ void split_bf16(float x, float y, unsigned& hi, unsigned& lo) {
  __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
  __nv_bfloat162 l = __floats2bfloat162_rn(x - __low2float(h), y - __high2float(h));
  hi = *reinterpret_cast<unsigned*>(&h);
  lo = *reinterpret_cast<unsigned*>(&l);
}

// Rows of HD bf16 padded by 16 bytes, so the 8 rows one ldmatrix reads fall in 8 different
// 16-byte bank groups.
template <int HD>
struct TcTile {
  static constexpr int kStride = HD + 8;
  __align__(16) bf16 k[kTcTileK * kStride];
  __align__(16) bf16 v[kTcTileK * kStride];
};

// Keys [k0, k0 + 64) of one kv head into `dst` (rows past max_pos are zero-filled).
template <int HD>
__device__ __forceinline__ void load_kv_tile(bf16* dst, const bf16* __restrict__ cache,
                                             const es::AttentionArgs& a, const int32_t* table,
                                             int kh, int k0, int max_pos) {
  constexpr int kChunks = HD / 8;  // 16-byte chunks per row
  for (int idx = threadIdx.x; idx < kTcTileK * kChunks; idx += kTcThreads) {
    int j = idx / kChunks, c = idx % kChunks, key = k0 + j;
    bool valid = key <= max_pos;
    const bf16* src = cache;
    if (valid) {
      size_t slot = (size_t)table[key / a.block_size] * a.block_size + key % a.block_size;
      src = cache + (slot * a.num_kv_heads + kh) * HD + c * 8;
    }
    cp_async16(dst + j * TcTile<HD>::kStride + c * 8, src, valid);
  }
}

template <int HD>
__global__ void __launch_bounds__(kTcThreads)
    prefill_attention_tc_kernel(es::AttentionArgs a, const int32_t* __restrict__ tile_seq,
                                const int32_t* __restrict__ tile_qbegin) {
  constexpr int kStride = TcTile<HD>::kStride;
  constexpr int kSteps = HD / 16;        // k-steps of Q·Kᵀ, n-pairs of P·V
  constexpr int kKeyTiles = kTcTileK / 8;  // n-tiles of S
  __shared__ TcTile<HD> sm;

  int tile = blockIdx.x, h = blockIdx.y;
  int kh = h / (a.num_heads / a.num_kv_heads);
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int g = lane >> 2, t = lane & 3;  // mma fragment row and column pair
  int seq = tile_seq[tile];
  int q0 = a.query_start[seq] + tile_qbegin[tile];
  int num_valid = min(kTileQ, a.query_start[seq + 1] - q0);
  int max_pos = a.positions[q0 + num_valid - 1];
  size_t qkv_stride = (size_t)(a.num_heads + 2 * a.num_kv_heads) * HD;
  const int32_t* table = a.block_tables + (size_t)seq * a.max_blocks_per_seq;

  // Q tile through the K buffer into registers (rows past num_valid repeat the last token).
  for (int idx = threadIdx.x; idx < kTileQ * (HD / 8); idx += kTcThreads) {
    int r = idx / (HD / 8), c = idx % (HD / 8);
    int token = q0 + min(r, num_valid - 1);
    cp_async16(sm.k + r * kStride + c * 8, a.qkv + token * qkv_stride + (size_t)h * HD + c * 8,
               true);
  }
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  unsigned qf[kSteps][4];
  int row0 = warp * 16;
#pragma unroll
  for (int kk = 0; kk < kSteps; kk++)
    ldmatrix_x4(qf[kk], sm.k + (row0 + (lane & 7) + ((lane >> 3) & 1) * 8) * kStride + kk * 16 +
                            (lane >> 4) * 8);
  // This thread's two rows (g and g + 8 of the warp's 16) and their positions.
  int pos_lo = a.positions[q0 + min(row0 + g, num_valid - 1)];
  int pos_hi = a.positions[q0 + min(row0 + g + 8, num_valid - 1)];
  int warp_min_pos = a.positions[q0 + min(row0, num_valid - 1)];
  int warp_max_pos = a.positions[q0 + min(row0 + 15, num_valid - 1)];
  __syncthreads();

  float o[2 * kSteps][4];
#pragma unroll
  for (int n = 0; n < 2 * kSteps; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.f, l_hi = 0.f;
  const float scale_log2 = a.scale * 1.44269504088896f;

  load_kv_tile<HD>(sm.k, a.k_cache, a, table, kh, 0, max_pos);
  cp_async_commit();
  load_kv_tile<HD>(sm.v, a.v_cache, a, table, kh, 0, max_pos);
  cp_async_commit();
  for (int k0 = 0; k0 <= max_pos; k0 += kTcTileK) {
    bool next = k0 + kTcTileK <= max_pos;
    bool active = k0 <= warp_max_pos;  // else every key of this tile is in all its rows' future
    cp_async_wait<1>();                // this K tile has landed (its V tile may still be loading)
    __syncthreads();
    float s[kKeyTiles][4];
#pragma unroll
    for (int n = 0; n < kKeyTiles; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
    if (active) {
#pragma unroll
      for (int kk = 0; kk < kSteps; kk++)
#pragma unroll
        for (int np = 0; np < kKeyTiles / 2; np++) {
          unsigned b[4];
          ldmatrix_x4(b, sm.k + (np * 16 + (lane & 7) + (lane >> 4) * 8) * kStride + kk * 16 +
                             ((lane >> 3) & 1) * 8);
          mma_bf16(s[2 * np], qf[kk], b[0], b[1]);
          mma_bf16(s[2 * np + 1], qf[kk], b[2], b[3]);
        }
    }
    __syncthreads();  // every warp is done with this K tile
    if (next) load_kv_tile<HD>(sm.k, a.k_cache, a, table, kh, k0 + kTcTileK, max_pos);
    cp_async_commit();
    if (active) {
      bool mask = k0 + kTcTileK - 1 > warp_min_pos;
      float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
      for (int n = 0; n < kKeyTiles; n++)
#pragma unroll
        for (int i = 0; i < 2; i++) {
          int key = k0 + n * 8 + 2 * t + i;
          s[n][i] = mask && key > pos_lo ? -INFINITY : s[n][i] * scale_log2;
          s[n][2 + i] = mask && key > pos_hi ? -INFINITY : s[n][2 + i] * scale_log2;
          mx_lo = fmaxf(mx_lo, s[n][i]);
          mx_hi = fmaxf(mx_hi, s[n][2 + i]);
        }
#pragma unroll
      for (int off = 1; off < 4; off <<= 1) {
        mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, off));
        mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, off));
      }
      // The first tile holds key 0, which no query is before, so the running maxima are finite
      // from then on and a fully masked tile leaves them (and the sums) unchanged.
      float new_lo = fmaxf(m_lo, mx_lo), new_hi = fmaxf(m_hi, mx_hi);
      float alpha_lo = exp2f(m_lo - new_lo), alpha_hi = exp2f(m_hi - new_hi);
      m_lo = new_lo;
      m_hi = new_hi;
      l_lo *= alpha_lo;
      l_hi *= alpha_hi;
#pragma unroll
      for (int n = 0; n < 2 * kSteps; n++) {
        o[n][0] *= alpha_lo;
        o[n][1] *= alpha_lo;
        o[n][2] *= alpha_hi;
        o[n][3] *= alpha_hi;
      }
#pragma unroll
      for (int n = 0; n < kKeyTiles; n++) {
        s[n][0] = exp2f(s[n][0] - m_lo);
        s[n][1] = exp2f(s[n][1] - m_lo);
        s[n][2] = exp2f(s[n][2] - m_hi);
        s[n][3] = exp2f(s[n][3] - m_hi);
        l_lo += s[n][0] + s[n][1];
        l_hi += s[n][2] + s[n][3];
      }
    }
    cp_async_wait<1>();  // this V tile has landed (the next K tile may still be loading)
    __syncthreads();
    if (active) {
#pragma unroll
      for (int kk = 0; kk < kTcTileK / 16; kk++) {
        // P's C fragments of key tiles 2kk and 2kk + 1 are the A fragment of this k-step.
        unsigned p_hi[4], p_lo[4];
        split_bf16(s[2 * kk][0], s[2 * kk][1], p_hi[0], p_lo[0]);
        split_bf16(s[2 * kk][2], s[2 * kk][3], p_hi[1], p_lo[1]);
        split_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1], p_hi[2], p_lo[2]);
        split_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3], p_hi[3], p_lo[3]);
#pragma unroll
        for (int np = 0; np < kSteps; np++) {
          unsigned b[4];
          ldmatrix_x4_trans(b, sm.v + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kStride +
                                   np * 16 + (lane >> 4) * 8);
          mma_bf16(o[2 * np], p_hi, b[0], b[1]);
          mma_bf16(o[2 * np + 1], p_hi, b[2], b[3]);
          mma_bf16(o[2 * np], p_lo, b[0], b[1]);
          mma_bf16(o[2 * np + 1], p_lo, b[2], b[3]);
        }
      }
    }
    __syncthreads();  // every warp is done with this V tile
    if (next) load_kv_tile<HD>(sm.v, a.v_cache, a, table, kh, k0 + kTcTileK, max_pos);
    cp_async_commit();
  }
  cp_async_wait<0>();

#pragma unroll
  for (int off = 1; off < 4; off <<= 1) {
    l_lo += __shfl_xor_sync(0xffffffffu, l_lo, off);
    l_hi += __shfl_xor_sync(0xffffffffu, l_hi, off);
  }
  float inv_lo = 1.f / l_lo, inv_hi = 1.f / l_hi;
  size_t out_stride = (size_t)a.num_heads * HD;
  int r_lo = row0 + g, r_hi = row0 + g + 8;
#pragma unroll
  for (int n = 0; n < 2 * kSteps; n++) {
    int col = h * HD + n * 8 + 2 * t;
    if (r_lo < num_valid)
      *reinterpret_cast<__nv_bfloat162*>(a.out + (q0 + r_lo) * out_stride + col) =
          __floats2bfloat162_rn(o[n][0] * inv_lo, o[n][1] * inv_lo);
    if (r_hi < num_valid)
      *reinterpret_cast<__nv_bfloat162*>(a.out + (q0 + r_hi) * out_stride + col) =
          __floats2bfloat162_rn(o[n][2] * inv_hi, o[n][3] * inv_hi);
  }
}

template <int HD>
void launch_hd(const es::AttentionArgs& a, const int32_t* tile_seq, const int32_t* tile_qbegin,
               int num_tiles, bool v1, cudaStream_t stream) {
  dim3 grid(num_tiles, a.num_heads);
  if (v1) {
    prefill_attention_v1_kernel<HD><<<grid, kThreads, 0, stream>>>(a, tile_seq, tile_qbegin);
    CK_LAUNCH("prefill_attention_v1_kernel");
  } else {
    prefill_attention_tc_kernel<HD><<<grid, kTcThreads, 0, stream>>>(a, tile_seq, tile_qbegin);
    CK_LAUNCH("prefill_attention_tc_kernel");
  }
}

}  // namespace

namespace es {

void launch_prefill_attention(const AttentionArgs& a, const int32_t* tile_seq,
                              const int32_t* tile_qbegin, int num_tiles, bool v1,
                              cudaStream_t stream) {
  if (num_tiles == 0) return;
  require(a.num_heads % a.num_kv_heads == 0, "prefill_attention: heads must group evenly");
  switch (a.head_dim) {
    case 16: return launch_hd<16>(a, tile_seq, tile_qbegin, num_tiles, v1, stream);
    case 32: return launch_hd<32>(a, tile_seq, tile_qbegin, num_tiles, v1, stream);
    case 64: return launch_hd<64>(a, tile_seq, tile_qbegin, num_tiles, v1, stream);
    case 128: return launch_hd<128>(a, tile_seq, tile_qbegin, num_tiles, v1, stream);
    default: throw Error("prefill_attention: head_dim must be 16, 32, 64 or 128");
  }
}

}  // namespace es
