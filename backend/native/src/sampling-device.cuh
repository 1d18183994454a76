// Device helpers of the GPU sampler shared by sampling.cu (the first sampler, kept as the A/B
// baseline) and sampling-fast.cu: thresholds by bisection over the float ordering, the id-order
// draw, the filtered draw and the raw top-n logprobs. Semantics: backend/runner/sampling.ts.
#pragma once
#include "common.cuh"
#include "kernels.h"
#include "../edgeserve-cuda.h"

namespace {

constexpr int kThreads = 1024;
constexpr int kTopCap = 64;

__device__ __forceinline__ uint32_t order_key(float f) {
  uint32_t b = __float_as_uint(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

struct Shared {
  float scratch[32];
  float best_v[32];
  int best_i[32];
  int top_count;
  int top_ids[kTopCap];
};

__device__ float block_count_or_mass(const float* w, int n, uint32_t key, bool mass,
                                     float* scratch) {
  float acc = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = w[i];
    if (order_key(v) >= key) acc += mass ? v : 1.f;
  }
  return block_sum(acc, scratch);
}

// Largest key in [lo, hi] whose count (or mass) of values >= key still exceeds `need`
// (`strict`: >, else >=). Assumes the predicate holds at lo.
__device__ uint32_t bisect(const float* w, int n, uint32_t lo, uint32_t hi, bool mass, float need,
                           bool strict, float* scratch) {
  while (lo < hi) {
    uint32_t mid = lo + (uint32_t)(((uint64_t)hi - lo + 1) / 2);
    float got = block_count_or_mass(w, n, mid, mass, scratch);
    bool ok = strict ? got > need : got >= need;
    if (ok) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// Lowest index holding the largest value (ties go to the lower id, like torch.argmax).
__device__ int block_argmax(const float* w, int n, Shared& sh) {
  float bv = -INFINITY;
  int bi = 0x7fffffff;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = w[i];
    if (v > bv || (v == bv && i < bi)) bv = v, bi = i;
  }
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (ov > bv || (ov == bv && oi < bi)) bv = ov, bi = oi;
  }
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) sh.best_v[warp] = bv, sh.best_i[warp] = bi;
  __syncthreads();
  if (warp == 0) {
    bv = lane < (int)(blockDim.x >> 5) ? sh.best_v[lane] : -INFINITY;
    bi = lane < (int)(blockDim.x >> 5) ? sh.best_i[lane] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (ov > bv || (ov == bv && oi < bi)) bv = ov, bi = oi;
    }
    if (lane == 0) sh.best_i[0] = bi == 0x7fffffff ? 0 : bi;
  }
  __syncthreads();
  return sh.best_i[0];
}

__device__ void zero_below(float* w, int n, float cut) {
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    if (w[i] < cut) w[i] = 0.f;
  __syncthreads();
}

// Lowest id whose running sum (in id order) passes `target`: per-thread chunk sums, a block scan,
// then the one thread whose chunk holds the crossing walks it. -1 when rounding finds none.
__device__ int scan_draw(const float* p, int n, float target, Shared& sh, float* sums) {
  int chunk = (n + blockDim.x - 1) / blockDim.x;
  int begin = min(n, (int)threadIdx.x * chunk), end = min(n, begin + chunk);
  float mine = 0.f;
  for (int i = begin; i < end; i++) mine += p[i];
  sums[threadIdx.x] = mine;
  __syncthreads();
  for (int off = 1; off < (int)blockDim.x; off <<= 1) {
    float add = threadIdx.x >= (unsigned)off ? sums[threadIdx.x - off] : 0.f;
    __syncthreads();
    sums[threadIdx.x] += add;
    __syncthreads();
  }
  if (threadIdx.x == 0) sh.best_i[0] = -1;
  __syncthreads();
  float acc = sums[threadIdx.x] - mine;
  if (acc <= target && sums[threadIdx.x] > target) {
    for (int i = begin; i < end; i++) {
      acc += p[i];
      if (acc > target && p[i] > 0.f) {
        sh.best_i[0] = i;
        break;
      }
    }
  }
  __syncthreads();
  int id = sh.best_i[0];
  __syncthreads();
  return id;
}

// Turns penalised logits into probabilities relative to the most likely token (which gets 1),
// filters top-k, then top-p, then min-p (the reference sampler's order), and draws with u: in
// descending-probability order when a filter sorted the candidates, else in id order.
__device__ int sample_row(const float* w, float* p, int n, float temperature, int top_k,
                          float top_p, float min_p, float u, Shared& sh, float* sums) {
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, w[i]);
  mx = block_max(mx, sh.scratch);
  float inv_t = 1.f / temperature;
  for (int i = threadIdx.x; i < n; i += blockDim.x) p[i] = __expf((w[i] - mx) * inv_t);
  __syncthreads();
  const uint32_t lo = order_key(1e-38f), hi = order_key(1.f);
  bool filtering = (top_k > 0 && top_k < n) || top_p < 1.f;
  if (top_k > 0 && top_k < n) {
    float positive = block_count_or_mass(p, n, lo, false, sh.scratch);
    if (positive > top_k) {
      uint32_t t = bisect(p, n, lo, hi, false, (float)top_k, false, sh.scratch);
      zero_below(p, n, __uint_as_float(t & 0x7fffffffu));
    }
  }
  if (top_p < 1.f) {
    float kept = block_count_or_mass(p, n, lo, true, sh.scratch);
    uint32_t t = bisect(p, n, lo, hi, true, top_p * kept, false, sh.scratch);
    zero_below(p, n, __uint_as_float(t & 0x7fffffffu));
  }
  if (min_p > 0.f) zero_below(p, n, min_p);
  float target = u * block_count_or_mass(p, n, lo, true, sh.scratch);
  int id = -1;
  if (filtering) {
    uint32_t t = bisect(p, n, lo, hi, true, target, true, sh.scratch);
    float chosen = __uint_as_float(t & 0x7fffffffu);
    if (threadIdx.x == 0) sh.best_i[0] = 0x7fffffff;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      if (p[i] == chosen) atomicMin(&sh.best_i[0], i);
    __syncthreads();
    id = sh.best_i[0] == 0x7fffffff ? -1 : sh.best_i[0];
    __syncthreads();
  } else {
    id = scan_draw(p, n, target, sh, sums);
  }
  return id >= 0 ? id : block_argmax(p, n, sh);
}

// Raw top-n by logit: threshold by bisection, gather the survivors, then one thread orders them.
__device__ void top_logprobs(const float* raw, int n, int num_top, float lse, int32_t* out_ids,
                             float* out_lp, Shared& sh) {
  uint32_t t = bisect(raw, n, 0u, 0xffffffffu, false, (float)num_top, false, sh.scratch);
  if (threadIdx.x == 0) sh.top_count = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    if (order_key(raw[i]) >= t) {
      int slot = atomicAdd(&sh.top_count, 1);
      if (slot < kTopCap) sh.top_ids[slot] = i;
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int count = min(sh.top_count, kTopCap);
    for (int a = 1; a < count; a++) {
      int id = sh.top_ids[a], b = a - 1;
      while (b >= 0 && (raw[sh.top_ids[b]] < raw[id] ||
                        (raw[sh.top_ids[b]] == raw[id] && sh.top_ids[b] > id))) {
        sh.top_ids[b + 1] = sh.top_ids[b];
        b--;
      }
      sh.top_ids[b + 1] = id;
    }
    for (int k = 0; k < num_top && k < count; k++) {
      out_ids[k] = sh.top_ids[k];
      out_lp[k] = raw[sh.top_ids[k]] - lse;
    }
  }
  __syncthreads();
}

// vLLM's penalties (repetition over prompt and output tokens, frequency and presence over output)
// and bans, applied in place to one row of `w` by the whole block. Penalty entries are unique ids
// per row, so no two threads write the same entry.
__device__ void apply_penalties_and_bans(const es::SampleArgs& a, int row, float* w) {
  float rep = a.repetition_penalty[row], freq = a.frequency_penalty[row];
  float pres = a.presence_penalty[row];
  for (int e = a.penalty_offsets[row] + threadIdx.x; e < a.penalty_offsets[row + 1];
       e += blockDim.x) {
    int id = a.penalty_tokens[e], count = a.penalty_output_counts[e];
    float v = w[id];
    if (rep != 1.f && (count > 0 || a.penalty_in_prompt[e])) v = v > 0.f ? v / rep : v * rep;
    v -= freq * count;
    if (count > 0) v -= pres;
    w[id] = v;
  }
  __syncthreads();
  for (int e = a.ban_offsets[row] + threadIdx.x; e < a.ban_offsets[row + 1]; e += blockDim.x)
    w[a.ban_tokens[e]] = -INFINITY;
}

}  // namespace
