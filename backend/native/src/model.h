// The model object behind the C ABI: weights, workspace, KV pool and the forward pass.
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>
#include <vector>
#include "../edgeserve-cuda.h"
#include "common.cuh"
#include "step-profile.h"

namespace es {

struct LayerWeights {
  bf16 *input_norm, *post_norm, *qkv, *qkv_bias, *q_norm, *k_norm, *o, *gate_up, *down;
};

// Device buffers sized once from the config (`max_num_batched_tokens` rows of activations).
struct Workspace {
  bf16 *residual, *normed, *qkv, *attn, *tmp, *gate_up, *act, *row_hidden;
  float *logits, *work, *probs, *partial_out, *partial_ml;
  size_t partial_capacity;
  int row_capacity;
  int32_t *out_token, *out_top_ids;
  float *out_logprob, *out_top_logprobs;
};

// Host-pinned and device copies of one step's metadata, uploaded with one copy.
struct Staging {
  char* host = nullptr;
  char* device = nullptr;
  size_t capacity = 0;
  size_t used = 0;
};

// Captured pure-decode steps (decode-graph.cuh): one graph per batch-size bucket, all reading
// their per-step inputs from one fixed pinned/device arena pair that is refilled before replay.
struct DecodeGraph {
  int bucket = 0;
  cudaGraphExec_t exec = nullptr;
};
struct GraphInputs {
  char* host = nullptr;
  char* device = nullptr;
  size_t bytes = 0;
  int max_bucket = 0, blocks_per_row = 0, pen_capacity = 0, ban_capacity = 0;
};

constexpr size_t kCublasWorkspaceBytes = 32u << 20;  // shared by cuBLAS and cuBLASLt (one stream)

// How one projection shape runs at one decode-graph bucket (gemm.cu): cuBLASLt with a measured
// algorithm when one clearly beat cublasGemmEx's default, else the default.
struct GemmPlan {
  int out = 0, tokens = 0, in = 0;
  bool f32_out = false;
  bool use_lt = false;
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  int candidates = 0;
  float default_us = 0, best_us = 0;
};

struct Model {
  es_model_config config;
  std::vector<float> inv_freq_host;
  float* inv_freq = nullptr;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cublasLtHandle_t lt = nullptr;
  std::vector<GemmPlan> gemm_plans;
  void* cublas_workspace = nullptr;
  int num_sms = 0;
  char* weight_arena = nullptr;
  size_t weight_bytes = 0;
  bf16 *embed = nullptr, *final_norm = nullptr, *lm_head = nullptr;
  std::vector<LayerWeights> layers;
  char* workspace_arena = nullptr;
  size_t workspace_bytes = 0;
  Workspace ws{};
  bf16* kv_cache = nullptr;
  int num_blocks = 0;
  int last_rows_begin = 0, last_rows_count = 0;  // rows whose logits ws.logits holds
  Staging staging;
  void* upload_scratch = nullptr;
  // Pinned mirrors of the sampling outputs.
  int32_t *host_token = nullptr, *host_top_ids = nullptr;
  float *host_logprob = nullptr, *host_top_logprobs = nullptr;
  // Switches read once from the environment (A/B and fallback): EDGESERVE_CUDA_DECODE_ATTENTION
  // (v2 default, v1 the first kernel) and EDGESERVE_CUDA_GRAPHS (1 default, 0 eager only).
  // EDGESERVE_CUDA_SAMPLING (fast default, v1 the first sampler) and EDGESERVE_CUDA_GRAPH_BUCKETS
  // (16: 1, 2, 4, 8, then multiples of 16, the default; pow2: powers of two as in run 4).
  bool decode_v2 = true;
  bool graphs_enabled = true;
  bool sampling_fast = true;
  bool pointwise_v2 = true;  // qkv_post, add + RMSNorm, silu × up (EDGESERVE_CUDA_POINTWISE=v1)
  bool prefill_tc = true;    // tensor-core prefill attention (EDGESERVE_CUDA_PREFILL=v1: CUDA cores)
  // Keys one decode-attention split walks at most (EDGESERVE_CUDA_DECODE_PARTITION; 0: no cap).
  int decode_max_partition = 512;
  bool gemv = true;  // projections of <= kGemvMaxTokens tokens by gemv.cu (EDGESERVE_CUDA_GEMV=0)
  int gemm_tune = 1;  // per-bucket GEMM choice (EDGESERVE_CUDA_GEMM_TUNE: 0 off, log: print it)
  int graph_bucket_step = 16;  // 0: powers of two all the way
  StepProfile profile;         // EDGESERVE_CUDA_PROFILE=1|all (turns graphs off)
  GraphInputs graph_inputs;
  std::vector<DecodeGraph> graphs;

  int qkv_dim() const {
    return (config.num_heads + 2 * config.num_kv_heads) * config.head_dim;
  }
  size_t kv_layer_elems() const {
    return (size_t)num_blocks * config.block_size * config.num_kv_heads * config.head_dim;
  }
  bf16* k_cache(int layer) const { return kv_cache + 2 * (size_t)layer * kv_layer_elems(); }
  bf16* v_cache(int layer) const { return k_cache(layer) + kv_layer_elems(); }
};

void model_init(Model& m, const es_model_config& config);
void model_free(Model& m);
void model_upload(Model& m, int kind, int layer, const void* data, int dtype, size_t numel);
void model_dummy(Model& m, uint64_t seed);
void model_allocate_kv(Model& m, double utilization, int override_blocks, es_kv_info* out);
void model_execute(Model& m, const es_batch& batch, es_result& result);
void model_last_logits(Model& m, const int32_t* rows, int n, float* out);
// gemm.cu: y[tokens, out] = x[tokens, in] · w[out, in]ᵀ, and the per-bucket choice behind it.
void gemm(Model& m, const bf16* w, const bf16* x, void* y, int out, int tokens, int in,
          bool f32_out);
void tune_gemms(Model& m, int tokens);  // outside any capture: it times on the stream
void gemm_plans_free(Model& m);
void graphs_init(Model& m);  // decode-graph.cuh
// Chooses every decode bucket's GEMMs (tune_gemms) up front, so no step pays for it later.
void graphs_prepare(Model& m);
void graphs_free(Model& m);

}  // namespace es
