// What attn-check.cu and prefill-check.cu share: random bf16 data, uploads, the float64 attention
// of one query row over a sequence's paged keys, and a median timing.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include "common.cuh"

namespace check {

// Uniform with unit variance from a xorshift stream (fast enough for a few hundred MB of K/V).
struct Noise {
  uint64_t x;
  float operator()() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return ((x >> 40) * (1.f / 16777216.f) - 0.5f) * 3.4641f;
  }
};

// q heads, kv heads, head dim, block size.
struct Shape {
  int nh, nkv, hd, bs;
};

// The shapes both checks cover: GQA groups 1–8, head dims 16–128, block sizes 4–16.
constexpr Shape kShapes[] = {{16, 8, 128, 16}, {32, 8, 128, 16}, {4, 4, 64, 4}, {14, 2, 64, 16},
                             {8, 1, 128, 16}, {12, 4, 32, 8}, {4, 2, 16, 4}, {6, 2, 128, 16}};

inline void fill(std::vector<bf16>& v, size_t n, Noise& noise) {
  v.resize(n);
  for (auto& x : v) x = __float2bfloat16(noise());
}

// Random q/k/v rows for `tokens` tokens, then random K and V caches of `blocks` pages.
inline void fill_qkv_and_cache(const Shape& s, size_t tokens, size_t blocks, std::vector<bf16>& qkv,
                               std::vector<bf16>& k, std::vector<bf16>& v, Noise& noise) {
  fill(qkv, tokens * (s.nh + 2 * s.nkv) * s.hd, noise);
  size_t kv = blocks * s.bs * s.nkv * s.hd;
  fill(k, kv, noise);
  fill(v, kv, noise);
}

template <typename T>
T* upload(const std::vector<T>& v) {
  T* d;
  CK(cudaMalloc(&d, std::max<size_t>(1, v.size()) * sizeof(T)));
  CK(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

// n bf16 values from the device, as floats.
inline std::vector<float> download(const bf16* d, size_t n) {
  std::vector<bf16> h(n);
  CK(cudaMemcpy(h.data(), d, n * sizeof(bf16), cudaMemcpyDeviceToHost));
  std::vector<float> f(n);
  for (size_t i = 0; i < n; i++) f[i] = __bfloat162float(h[i]);
  return f;
}

// Sets n bf16 values to NaN, so a kernel that skips one cannot pass on stale output.
inline void poison(bf16* d, size_t n) { CK(cudaMemset(d, 0xff, n * sizeof(bf16))); }

// out[0, hd) += softmax(scale · q·kⱼ) · vⱼ over keys j < n of kv head kh, whose slots come from
// one sequence's block-table row (K/V laid out [slot][nkv][hd]).
inline void attend(const bf16* q, const std::vector<bf16>& k, const std::vector<bf16>& v,
                   const int* table, int bs, int nkv, int kh, int hd, int n, double* out) {
  double scale = 1.0 / std::sqrt((double)hd);
  std::vector<double> sc(n);
  std::vector<size_t> at(n);
  double mx = -1e300;
  for (int j = 0; j < n; j++) {
    at[j] = (((size_t)table[j / bs] * bs + j % bs) * nkv + kh) * hd;
    double d = 0;
    for (int x = 0; x < hd; x++) d += (double)__bfloat162float(q[x]) * __bfloat162float(k[at[j] + x]);
    sc[j] = d * scale;
    mx = std::max(mx, sc[j]);
  }
  double sum = 0;
  for (double& x : sc) sum += (x = std::exp(x - mx));
  for (int j = 0; j < n; j++)
    for (int x = 0; x < hd; x++) out[x] += sc[j] / sum * __bfloat162float(v[at[j] + x]);
}

// Median of 20 timed launches of `run` on the default stream, after 3 untimed ones.
template <typename F>
float median_ms(F&& run) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; i++) run();
  std::vector<float> t;
  for (int i = 0; i < 20; i++) {
    CK(cudaEventRecord(e0));
    run();
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    t.push_back(ms);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace check
