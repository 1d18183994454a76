// The model's projections, y[tokens, out] = x[tokens, in] · w[out, in]ᵀ, by shape:
//  - up to kGemvMaxTokens tokens: our GEMV (gemv.cu);
//  - a decode-graph bucket: the fastest of cublasGemmEx's default and cuBLASLt's heuristic
//    candidates, timed on this GPU with the model's own weights right after the KV pool is
//    allocated (graphs_prepare), so no step pays for it. At 16-256 tokens the default kernels
//    of Qwen3-0.6B's projections took a median 1.27x (up to 4x) the best candidate's time on an
//    H100; which candidate wins depends on the card and the shape, so it is measured;
//  - anything else (prefill, mixed steps): cublasGemmEx.
// EDGESERVE_CUDA_GEMM_TUNE=0 keeps cublasGemmEx for every bucket; =log prints each choice.
#include <cstdio>
#include <vector>
#include "kernels.h"
#include "model.h"

namespace es {
namespace {

void gemm_default(Model& m, const bf16* w, const bf16* x, void* y, int out, int tokens, int in,
                  bool f32_out) {
  const float one = 1.f, zero = 0.f;
  CKB(cublasGemmEx(m.cublas, CUBLAS_OP_T, CUBLAS_OP_N, out, tokens, in, &one, w, CUDA_R_16BF, in,
                   x, CUDA_R_16BF, in, &zero, y, f32_out ? CUDA_R_32F : CUDA_R_16BF, out,
                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void gemm_lt(Model& m, const GemmPlan& p, const bf16* w, const bf16* x, void* y) {
  const float one = 1.f, zero = 0.f;
  CKB(cublasLtMatmul(m.lt, p.op, &one, w, p.a, x, p.b, &zero, y, p.d, y, p.d, &p.algo,
                     m.cublas_workspace, p.workspace, m.stream));
}

void destroy(GemmPlan& p) {
  if (p.op) cublasLtMatmulDescDestroy(p.op);
  for (cublasLtMatrixLayout_t l : {p.a, p.b, p.d})
    if (l) cublasLtMatrixLayoutDestroy(l);
  p.op = nullptr;
  p.a = p.b = p.d = nullptr;
}

// Mean microseconds of `run` over a few launches after one warm-up (the stream is otherwise idle).
template <typename F>
float time_us(Model& m, F&& run) {
  cudaEvent_t start, stop;
  CK(cudaEventCreate(&start));
  CK(cudaEventCreate(&stop));
  run();
  constexpr int kReps = 10;
  CK(cudaEventRecord(start, m.stream));
  for (int i = 0; i < kReps; i++) run();
  CK(cudaEventRecord(stop, m.stream));
  CK(cudaEventSynchronize(stop));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms * 1000.f / kReps;
}

GemmPlan tune(Model& m, const bf16* w, const bf16* x, void* y, int out, int tokens, int in,
              bool f32_out) {
  GemmPlan p;
  p.out = out;
  p.tokens = tokens;
  p.in = in;
  p.f32_out = f32_out;
  p.default_us = time_us(m, [&] { gemm_default(m, w, x, y, out, tokens, in, f32_out); });
  CKB(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  CKB(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  CKB(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  CKB(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, in, out, in));
  CKB(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, in, tokens, in));
  CKB(cublasLtMatrixLayoutCreate(&p.d, f32_out ? CUDA_R_32F : CUDA_R_16BF, out, tokens, out));
  cublasLtMatmulPreference_t pref;
  CKB(cublasLtMatmulPreferenceCreate(&pref));
  size_t max_ws = kCublasWorkspaceBytes;
  CKB(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                           &max_ws, sizeof(max_ws)));
  constexpr int kCandidates = 8;
  cublasLtMatmulHeuristicResult_t found[kCandidates];
  int n = 0;
  cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(m.lt, p.op, p.a, p.b, p.d, p.d, pref,
                                                     kCandidates, found, &n);
  cublasLtMatmulPreferenceDestroy(pref);
  p.best_us = p.default_us;
  p.candidates = st == CUBLAS_STATUS_SUCCESS ? n : 0;
  for (int i = 0; i < p.candidates; i++) {
    if (found[i].state != CUBLAS_STATUS_SUCCESS) continue;
    GemmPlan c = p;
    c.algo = found[i].algo;
    c.workspace = found[i].workspaceSize;
    float us = time_us(m, [&] { gemm_lt(m, c, w, x, y); });
    // Only a clear win replaces the default (timing noise is a few percent).
    if (us < p.best_us && us < 0.97f * p.default_us) {
      p.best_us = us;
      p.algo = c.algo;
      p.workspace = c.workspace;
      p.use_lt = true;
    }
  }
  if (!p.use_lt) destroy(p);
  if (m.gemm_tune == 2)
    std::fprintf(stderr,
                 "edgeserve cuda gemm-tune: tokens %d out %d in %d %s: default %.2f us, "
                 "best %.2f us of %d candidates -> %s\n",
                 tokens, out, in, f32_out ? "f32" : "bf16", p.default_us, p.best_us, p.candidates,
                 p.use_lt ? "cublasLt" : "default");
  return p;
}

const GemmPlan* find_plan(const Model& m, int out, int tokens, int in, bool f32_out) {
  for (const GemmPlan& p : m.gemm_plans)
    if (p.out == out && p.tokens == tokens && p.in == in && p.f32_out == f32_out) return &p;
  return nullptr;
}

}  // namespace

void gemm(Model& m, const bf16* w, const bf16* x, void* y, int out, int tokens, int in,
          bool f32_out) {
  if (m.gemv && gemv_fits(w, x, tokens, in))
    return launch_gemv(w, x, y, out, tokens, in, f32_out, m.stream);
  const GemmPlan* plan = find_plan(m, out, tokens, in, f32_out);
  if (plan && plan->use_lt) return gemm_lt(m, *plan, w, x, y);
  gemm_default(m, w, x, y, out, tokens, in, f32_out);
}

void tune_gemms(Model& m, int tokens) {
  if (m.gemm_tune == 0 || tokens > m.ws.row_capacity) return;
  if (m.gemv && tokens <= kGemvMaxTokens) return;
  const es_model_config& c = m.config;
  const LayerWeights& l = m.layers[0];
  Workspace& w = m.ws;
  int h = c.hidden_size, inter = c.intermediate_size, qd = c.num_heads * c.head_dim;
  struct Shape {
    const bf16 *w, *x;
    void* y;
    int out, in;
    bool f32_out;
  };
  const Shape shapes[] = {
      {l.qkv, w.normed, w.qkv, m.qkv_dim(), h, false},
      {l.o, w.attn, w.tmp, h, qd, false},
      {l.gate_up, w.normed, w.gate_up, 2 * inter, h, false},
      {l.down, w.act, w.tmp, h, inter, false},
      {m.lm_head, w.row_hidden, w.logits, c.vocab_size, h, true},
  };
  for (const Shape& s : shapes)
    if (!find_plan(m, s.out, tokens, s.in, s.f32_out))
      m.gemm_plans.push_back(tune(m, s.w, s.x, s.y, s.out, tokens, s.in, s.f32_out));
}

void gemm_plans_free(Model& m) {
  for (GemmPlan& p : m.gemm_plans) destroy(p);
  m.gemm_plans.clear();
  if (m.lt) cublasLtDestroy(m.lt);
  m.lt = nullptr;
}

}  // namespace es
