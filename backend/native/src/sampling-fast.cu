// The default GPU sampler (sampling.cu keeps the first one for A/B), one block per logit row, with
// the semantics of backend/runner/sampling.ts. What it saves over the first one, per row:
//  - no copy of the logits unless the row's penalties or bans change something (the edits then
//    go to the row's copy in `work`, inside this kernel);
//  - one pass instead of two or three for the max, the lowest argmax and the log-normaliser, each
//    warp streaming one contiguous segment (16-byte loads when the vocabulary is a multiple of 4);
//    a temperature row also gets each segment's probability mass in that pass;
//  - an unfiltered draw (no top-k, top-p or min-p) writes no probability row: it narrows from the
//    32 segment masses to 32 sub-ranges of the chosen segment and so on, a few hundred logits
//    re-read, to the lowest id whose running sum passes u × total (the reference's id-order draw);
//  - rows at or past *num_live (graph padding) return at once.
// Filtered draws and raw top-n logprobs keep the bisection code of sampling-device.cuh.
#include "sampling-device.cuh"

namespace {

constexpr int kWarps = kThreads / 32;
constexpr unsigned kFull = 0xffffffffu;

struct FastShared {
  float m[kWarps], s[kWarps], t[kWarps], seg[kWarps];
  int arg[kWarps];
  float mx, lse, base, target;
  int argmax, lo, hi, result;
};

// Running max, its lowest index, Σ exp(v - m) and (kTemp) Σ exp((v - m) · inv_t).
template <bool kTemp>
struct Online {
  float m = -INFINITY, s = 0.f, t = 0.f;
  int arg = 0x7fffffff;

  __device__ __forceinline__ void add(float v, int i, float inv_t) {
    if (v > m) {
      float d = m - v;  // -inf before the first finite value: the empty sums stay 0
      s = s * __expf(d) + 1.f;
      if (kTemp) t = t * __expf(d * inv_t) + 1.f;
      m = v;
      arg = i;
    } else if (v > -INFINITY) {
      float d = v - m;
      s += __expf(d);
      if (kTemp) t += __expf(d * inv_t);
    }
  }

  __device__ __forceinline__ void merge(float om, float os, float ot, int oarg, float inv_t) {
    float top = fmaxf(m, om);
    float a = m == -INFINITY ? 0.f : __expf(m - top);
    float b = om == -INFINITY ? 0.f : __expf(om - top);
    s = s * a + os * b;
    if (kTemp) {
      float ta = m == -INFINITY ? 0.f : __expf((m - top) * inv_t);
      float tb = om == -INFINITY ? 0.f : __expf((om - top) * inv_t);
      t = t * ta + ot * tb;
    }
    if (om > m || (om == m && oarg < arg)) arg = oarg;
    m = top;
  }

  __device__ __forceinline__ void warp_merge(float inv_t) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      float om = __shfl_xor_sync(kFull, m, o), os = __shfl_xor_sync(kFull, s, o);
      float ot = __shfl_xor_sync(kFull, t, o);
      int oarg = __shfl_xor_sync(kFull, arg, o);
      merge(om, os, ot, oarg, inv_t);
    }
  }
};

// Length of each warp's segment in the first pass: whole 128-float spans when vectorised.
__device__ __forceinline__ int first_segment(int n, bool vec) {
  int seg = (n + kWarps - 1) / kWarps;
  return vec ? (seg + 127) / 128 * 128 : seg;
}

// One pass: fs.lse, fs.argmax, and (kTemp) fs.seg[w] = segment w's Σ exp((v - max) · inv_t).
template <bool kTemp>
__device__ void row_stats(const float* x, int n, bool vec, float inv_t, FastShared& fs) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int seg = first_segment(n, vec);
  int b = min(n, warp * seg), e = min(n, b + seg);
  Online<kTemp> o;
  if (vec) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
#pragma unroll 4
    for (int q = b / 4 + lane; q < e / 4; q += 32) {
      float4 v = x4[q];
      o.add(v.x, 4 * q, inv_t);
      o.add(v.y, 4 * q + 1, inv_t);
      o.add(v.z, 4 * q + 2, inv_t);
      o.add(v.w, 4 * q + 3, inv_t);
    }
  } else {
#pragma unroll 4
    for (int i = b + lane; i < e; i += 32) o.add(x[i], i, inv_t);
  }
  o.warp_merge(inv_t);
  if (lane == 0) fs.m[warp] = o.m, fs.s[warp] = o.s, fs.t[warp] = o.t, fs.arg[warp] = o.arg;
  __syncthreads();
  if (warp == 0) {
    Online<kTemp> all;
    float wm = fs.m[lane], wt = fs.t[lane];
    all.m = wm, all.s = fs.s[lane], all.t = wt, all.arg = fs.arg[lane];
    all.warp_merge(inv_t);
    if (kTemp) fs.seg[lane] = wm == -INFINITY ? 0.f : wt * __expf((wm - all.m) * inv_t);
    if (lane == 0) {
      fs.mx = all.m;
      fs.lse = all.m + logf(all.s);
      fs.argmax = all.arg == 0x7fffffff ? 0 : all.arg;
    }
  }
  __syncthreads();
}

__device__ __forceinline__ float inclusive_scan(float v, int lane) {
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    float t = __shfl_up_sync(kFull, v, o);
    if (lane >= o) v += t;
  }
  return v;
}

// Warp 0: among 32 consecutive pieces with masses v (lane order = id order), the first whose
// running sum from `base` passes the target; rounding that finds none takes the last with mass.
// Returns the lane (-1 when every mass is 0) and its mass before it in *before.
__device__ __forceinline__ int pick_piece(float v, bool valid, float base, float target, int lane,
                                          float* before) {
  float incl = inclusive_scan(valid ? v : 0.f, lane);
  unsigned hit = __ballot_sync(kFull, valid && v > 0.f && base + incl > target);
  unsigned any = __ballot_sync(kFull, valid && v > 0.f);
  int pick = hit ? __ffs(hit) - 1 : any ? 31 - __clz(any) : -1;
  float incl_pick = __shfl_sync(kFull, incl, pick < 0 ? 0 : pick);
  float v_pick = __shfl_sync(kFull, v, pick < 0 ? 0 : pick);
  *before = base + incl_pick - v_pick;
  return pick;
}

// Warp 0 picks, among the current range's 32 pieces (masses in fs.seg, `seg` ids each), the one
// holding the target and narrows fs.lo/fs.hi/fs.base to it (to an empty range when none has mass).
__device__ __forceinline__ void narrow(int seg, FastShared& fs) {
  int lane = threadIdx.x & 31;
  int lo = fs.lo, hi = fs.hi;
  float before;
  int pick = pick_piece(fs.seg[lane], lo + lane * seg < hi, fs.base, fs.target, lane, &before);
  __syncwarp();  // every lane has read the range before lane 0 moves it
  if (lane == 0) {
    fs.base = before;
    fs.lo = pick < 0 ? lo : min(hi, lo + pick * seg);
    fs.hi = pick < 0 ? lo : min(hi, lo + (pick + 1) * seg);
  }
}

// The reference's unfiltered draw: the lowest id whose running sum of exp((v - max) · inv_t)
// passes u × total, from the first pass's segment masses down to single ids. -1 when no id has
// mass (every logit -inf).
__device__ int draw_ids(const float* x, int n, bool vec, float inv_t, float u, FastShared& fs) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float mx = fs.mx;
  auto weight = [&](int i) { return __expf((x[i] - mx) * inv_t); };
  int seg = first_segment(n, vec);
  if (warp == 0) {
    float total = __shfl_sync(kFull, inclusive_scan(fs.seg[lane], lane), 31);
    if (lane == 0) fs.lo = 0, fs.hi = n, fs.base = 0.f, fs.target = u * total;
    __syncwarp();
    narrow(seg, fs);
  }
  __syncthreads();
  while (fs.hi - fs.lo > 32) {
    int lo = fs.lo, hi = fs.hi;
    seg = (hi - lo + kWarps - 1) / kWarps;
    int b = min(hi, lo + warp * seg), e = min(hi, b + seg);
    float acc = 0.f;
#pragma unroll 4
    for (int i = b + lane; i < e; i += 32) acc += weight(i);
    acc = warp_sum(acc);
    if (lane == 0) fs.seg[warp] = acc;
    __syncthreads();
    if (warp == 0) narrow(seg, fs);
    __syncthreads();
  }
  if (warp == 0) {
    int lo = fs.lo, hi = fs.hi, i = lo + lane;
    float before;
    int pick = pick_piece(i < hi ? weight(i) : 0.f, i < hi, fs.base, fs.target, lane, &before);
    if (lane == 0) fs.result = pick < 0 ? -1 : lo + pick;
  }
  __syncthreads();
  int id = fs.result;
  __syncthreads();
  return id;
}

__device__ __forceinline__ bool has_edits(const es::SampleArgs& a, int row) {
  return a.penalty_offsets[row + 1] > a.penalty_offsets[row] ||
         a.ban_offsets[row + 1] > a.ban_offsets[row];
}

// The row's copy in `work` with penalties and bans applied (see apply_penalties_and_bans).
__device__ const float* edited_row(const es::SampleArgs& a, int row, const float* raw) {
  int n = a.vocab;
  float* w = a.work + (size_t)row * n;
  for (int i = threadIdx.x; i < n; i += blockDim.x) w[i] = raw[i];
  __syncthreads();
  apply_penalties_and_bans(a, row, w);
  __syncthreads();
  return w;
}

__global__ void __launch_bounds__(kThreads) sample_fast_kernel(es::SampleArgs a) {
  __shared__ Shared sh;
  __shared__ FastShared fs;
  __shared__ float sums[kThreads];
  int row = blockIdx.x, n = a.vocab;
  if (a.num_live && row >= *a.num_live) return;
  int target = a.row_target[row];
  // Sampled rows report logprobs of the penalised logits, scored (prompt) rows of the raw ones.
  const float* src = a.raw_logits + (size_t)row * n;
  if (target < 0 && has_edits(a, row)) src = edited_row(a, row, src);
  bool vec = n % 4 == 0;
  float temperature = target < 0 ? a.temperature[row] : 0.f;
  bool draw = temperature > 0.f;
  float inv_t = draw ? 1.f / temperature : 0.f;
  if (draw) row_stats<true>(src, n, vec, inv_t, fs);
  else row_stats<false>(src, n, vec, inv_t, fs);
  int chosen = target;
  if (target < 0) {
    int top_k = a.top_k[row];
    float top_p = a.top_p[row], min_p = a.min_p[row];
    bool filtered = (top_k > 0 && top_k < n) || top_p < 1.f || min_p > 0.f;
    if (!draw) chosen = fs.argmax;
    else if (!filtered) chosen = draw_ids(src, n, vec, inv_t, a.uniform[row], fs);
    else
      chosen = sample_row(src, a.probs + (size_t)row * n, n, temperature, top_k, top_p, min_p,
                          a.uniform[row], sh, sums);
    if (chosen < 0) chosen = fs.argmax;
  }
  float lse = fs.lse;
  if (threadIdx.x == 0) {
    a.out_token[row] = chosen;
    a.out_logprob[row] = src[chosen] - lse;
  }
  int num_top = a.row_num_top[row];
  if (num_top > 0)
    top_logprobs(src, n, num_top, lse, a.out_top_ids + (size_t)row * ES_MAX_TOP_LOGPROBS,
                 a.out_top_logprobs + (size_t)row * ES_MAX_TOP_LOGPROBS, sh);
}

}  // namespace

namespace es {

void launch_sampling_fast(const SampleArgs& a, cudaStream_t stream) {
  if (a.num_rows == 0) return;
  sample_fast_kernel<<<a.num_rows, kThreads, 0, stream>>>(a);
  CK_LAUNCH("sample_fast_kernel");
}

}  // namespace es
