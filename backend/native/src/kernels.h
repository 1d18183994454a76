// Host-side launchers, one family per .cu file. Each asserts its shapes and checks its launch.
#pragma once
#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

typedef __nv_bfloat16 bf16;

namespace es {

// `v1` on the three per-token kernels below (norm, activation, rope-qkv) picks the first
// version, kept for A/B (EDGESERVE_CUDA_POINTWISE=v1); both versions give bit-identical outputs.

// norm.cu: res += delta (when delta != nullptr), out = rmsnorm(res) * weight, per row.
void launch_add_rmsnorm(bf16* res, const bf16* delta, const bf16* weight, bf16* out, int rows,
                        int hidden, float eps, cudaStream_t stream, bool v1 = false);

// embedding.cu
void launch_embedding(const int32_t* token_ids, const bf16* table, bf16* out, int num_tokens,
                      int hidden, int vocab, cudaStream_t stream);
void launch_gather_rows(const bf16* src, const int32_t* rows, bf16* out, int num_rows, int hidden,
                        cudaStream_t stream);

// activation.cu: out[t] = silu(gate_up[t, :I]) * gate_up[t, I:]
void launch_silu_mul(const bf16* gate_up, bf16* out, int num_tokens, int intermediate,
                     cudaStream_t stream, bool v1 = false);

// rope-qkv.cu: bias, per-head q/k RMSNorm (qwen3), RoPE on q and k, then k/v into the cache.
struct QkvPostArgs {
  bf16* qkv;
  const bf16* bias;    // [(nh + 2 nkv) * hd] or nullptr
  const bf16* q_norm;  // [hd] or nullptr
  const bf16* k_norm;
  const int32_t* positions;
  const int32_t* slot_mapping;
  const float* inv_freq;  // [hd / 2]
  float rope_scaling;
  bf16* k_cache;
  bf16* v_cache;
  int num_tokens, num_heads, num_kv_heads, head_dim;
  float eps;
};
void launch_qkv_post(const QkvPostArgs& a, cudaStream_t stream, bool v1 = false);

// gemv.cu: y[t, o] = sum_k w[o, k] x[t, k] (w row-major [out, in], x [tokens, in], y [tokens,
// out], bf16 or f32) for 1..kGemvMaxTokens tokens; gemv_fits says whether the shapes and pointers
// allow it (else cuBLAS runs the projection).
constexpr int kGemvMaxTokens = 8;
bool gemv_fits(const void* w, const void* x, int tokens, int in);
void launch_gemv(const bf16* w, const bf16* x, void* y, int out, int tokens, int in, bool f32_out,
                 cudaStream_t stream);

// attention-decode.cu / attention-prefill.cu: paged attention over block tables.
struct AttentionArgs {
  const bf16* qkv;  // q read from here, row stride (nh + 2 nkv) * hd
  const bf16* k_cache;
  const bf16* v_cache;
  const int32_t* query_start;
  const int32_t* positions;
  const int32_t* context_lens;
  const int32_t* block_tables;
  int max_blocks_per_seq, block_size;
  int num_heads, num_kv_heads, head_dim;
  float scale;
  bf16* out;  // [num_tokens, nh * hd]
  // Decode v2 only: when set, the block-table row stride is read here on the device (captured
  // graphs, whose host arguments are frozen), else max_blocks_per_seq is used.
  const int32_t* table_stride;
};
// One query token per item (decode); split-K over the context when few items fill the GPU.
void launch_decode_attention(const AttentionArgs& a, const int32_t* item_token,
                             const int32_t* item_seq, int num_items, int max_context,
                             float* partial_out, float* partial_ml, size_t partial_capacity,
                             int num_sms, cudaStream_t stream);
// Version 2 (q in registers, one pass per tile, online softmax). The split plan is separate so a
// captured graph can fix it for the longest context it will ever see.
struct DecodeSplit {
  int splits, partition;
};
// max_partition > 0 caps the keys of one split when that makes at most 4 splits
// (EDGESERVE_CUDA_DECODE_PARTITION).
DecodeSplit plan_decode_split(const AttentionArgs& a, int num_items, int max_context,
                              size_t partial_capacity, int num_sms, int max_partition = 0);
void launch_decode_attention_v2(const AttentionArgs& a, const int32_t* item_token,
                                const int32_t* item_seq, int num_items, const DecodeSplit& split,
                                float* partial_out, float* partial_ml, cudaStream_t stream);
// Tiles of up to 64 query tokens of one sequence (prefill and chunked prefill); tensor cores, or
// with `v1` the first, CUDA-core kernel (EDGESERVE_CUDA_PREFILL=v1).
void launch_prefill_attention(const AttentionArgs& a, const int32_t* tile_seq,
                              const int32_t* tile_qbegin, int num_tiles, bool v1,
                              cudaStream_t stream);
constexpr int kPrefillTile = 64;

// sampling.cu (first sampler, A/B baseline) and sampling-fast.cu: per-row sampling or scoring.
struct SampleArgs {
  const float* raw_logits;  // [rows, vocab]
  float* work;              // [rows, vocab]: penalised logits
  float* probs;             // [rows, vocab]: scratch for the draw
  int num_rows, vocab;
  const int32_t* row_target;
  const int32_t* row_num_top;
  const float* temperature;
  const float* top_p;
  const int32_t* top_k;
  const float* min_p;
  const float* uniform;
  const float* repetition_penalty;
  const float* frequency_penalty;
  const float* presence_penalty;
  const int32_t* penalty_offsets;
  const int32_t* penalty_tokens;
  const int32_t* penalty_output_counts;
  const int32_t* penalty_in_prompt;
  const int32_t* ban_offsets;
  const int32_t* ban_tokens;
  int32_t* out_token;
  float* out_logprob;
  int32_t* out_top_ids;
  float* out_top_logprobs;
  // Fast sampler only: when set, rows at or past *num_live are graph padding and are skipped.
  const int32_t* num_live = nullptr;
};
void launch_sampling(const SampleArgs& a, cudaStream_t stream);
// sampling-fast.cu: the default sampler (no logits copy, one fused pass, id-order draw by ranges).
void launch_sampling_fast(const SampleArgs& a, cudaStream_t stream);

// weights-init.cu
void launch_to_bf16(const void* src, int dtype, bf16* dst, size_t n, cudaStream_t stream);
void launch_dummy_fill(bf16* dst, size_t n, uint64_t seed, float center, float range,
                       cudaStream_t stream);

}  // namespace es
