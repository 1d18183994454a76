// One engine step: stage the batch's metadata (one host-to-device copy), run the layers over the
// flattened tokens, compute logits only for the rows that are sampled or scored, sample on the
// GPU, and copy back token ids and logprobs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include "kernels.h"
#include "model.h"

namespace es {
namespace {

// Reserves `count` items of T in the step's staging area; copies `src` when given.
template <typename T>
T* stage(Staging& s, size_t count, const T* src) {
  size_t bytes = (count * sizeof(T) + 15) / 16 * 16;
  require(s.used + bytes <= s.capacity, "internal: staging overflow");
  T* host = reinterpret_cast<T*>(s.host + s.used);
  if (src && count) std::memcpy(host, src, count * sizeof(T));
  T* dev = reinterpret_cast<T*>(s.device + s.used);
  s.used += bytes;
  return dev;
}

template <typename T>
T* host_of(Staging& s, T* dev) {
  return reinterpret_cast<T*>(s.host + (reinterpret_cast<char*>(dev) - s.device));
}

void ensure_staging(Staging& s, size_t bytes) {
  if (bytes <= s.capacity) return;
  if (s.host) CK(cudaFreeHost(s.host));
  if (s.device) CK(cudaFree(s.device));
  s.host = nullptr;
  s.device = nullptr;
  size_t cap = std::max(bytes, s.capacity * 2);
  CK(cudaMallocHost(&s.host, cap));
  CK(cudaMalloc(&s.device, cap));
  s.capacity = cap;
}

struct Plan {
  const int32_t *tokens, *positions, *slots, *query_start, *context_lens, *block_tables;
  const int32_t *item_token, *item_seq, *tile_seq, *tile_qbegin, *rows;
  const int32_t* table_stride = nullptr;  // graphs: the block-table stride, on the device
  int num_items = 0, num_tiles = 0, max_context = 0, max_blocks_per_seq = 0;
  SampleArgs sampling{};  // device pointers for every row; sample_rows offsets them per chunk
};

void check_batch(const Model& m, const es_batch& b) {
  const es_model_config& c = m.config;
  require(b.num_tokens >= 1 && b.num_tokens <= c.max_num_batched_tokens,
          "execute: num_tokens " + std::to_string(b.num_tokens) + " outside [1, " +
              std::to_string(c.max_num_batched_tokens) + "]");
  require(b.num_seqs >= 1 && b.query_start[0] == 0 && b.query_start[b.num_seqs] == b.num_tokens,
          "execute: query_start must run from 0 to num_tokens");
  require(m.kv_cache != nullptr, "execute: the KV cache is not allocated");
}

void stage_sampling(Staging& s, const es_batch& b, SampleArgs& a) {
  int n = b.num_rows;
  a.row_target = stage(s, n, b.row_target);
  a.row_num_top = stage(s, n, b.row_num_top);
  a.temperature = stage(s, n, b.row_temperature);
  a.top_p = stage(s, n, b.row_top_p);
  a.top_k = stage(s, n, b.row_top_k);
  a.min_p = stage(s, n, b.row_min_p);
  a.uniform = stage(s, n, b.row_uniform);
  a.repetition_penalty = stage(s, n, b.row_repetition_penalty);
  a.frequency_penalty = stage(s, n, b.row_frequency_penalty);
  a.presence_penalty = stage(s, n, b.row_presence_penalty);
  a.penalty_offsets = stage(s, n + 1, b.row_penalty_offsets);
  a.ban_offsets = stage(s, n + 1, b.row_ban_offsets);
  size_t pen = b.row_penalty_offsets[n], ban = b.row_ban_offsets[n];
  a.penalty_tokens = stage(s, pen, b.penalty_tokens);
  a.penalty_output_counts = stage(s, pen, b.penalty_output_counts);
  a.penalty_in_prompt = stage(s, pen, b.penalty_in_prompt);
  a.ban_tokens = stage(s, ban, b.ban_tokens);
}

Plan stage_batch(Model& m, const es_batch& b) {
  int max_tiles = b.num_tokens / kPrefillTile + b.num_seqs;
  size_t pen = b.row_penalty_offsets[b.num_rows], ban = b.row_ban_offsets[b.num_rows];
  size_t ints = 5ull * b.num_tokens + 4ull * b.num_seqs + 2 * max_tiles +
                (size_t)b.num_seqs * b.max_blocks_per_seq + 8ull * b.num_rows + 3 * pen + ban;
  ensure_staging(m.staging, ints * 4 + 16ull * b.num_rows * 4 + 64 * 16);
  Staging& s = m.staging;
  s.used = 0;
  Plan p;
  p.tokens = stage(s, b.num_tokens, b.token_ids);
  p.positions = stage(s, b.num_tokens, b.positions);
  p.slots = stage(s, b.num_tokens, b.slot_mapping);
  p.query_start = stage(s, b.num_seqs + 1, b.query_start);
  p.context_lens = stage(s, b.num_seqs, b.context_lens);
  p.max_blocks_per_seq = b.max_blocks_per_seq;
  p.block_tables = stage(s, (size_t)b.num_seqs * b.max_blocks_per_seq, b.block_tables);
  int32_t* item_token = stage<int32_t>(s, b.num_seqs, nullptr);
  int32_t* item_seq = stage<int32_t>(s, b.num_seqs, nullptr);
  int32_t* tile_seq = stage<int32_t>(s, max_tiles, nullptr);
  int32_t* tile_qbegin = stage<int32_t>(s, max_tiles, nullptr);
  int32_t *it = host_of(s, item_token), *is = host_of(s, item_seq);
  int32_t *ts = host_of(s, tile_seq), *tq = host_of(s, tile_qbegin);
  for (int q = 0; q < b.num_seqs; q++) {
    int len = b.query_start[q + 1] - b.query_start[q];
    require(len >= 1, "execute: every sequence needs at least one token");
    p.max_context = std::max(p.max_context, b.context_lens[q]);
    if (len == 1) {
      it[p.num_items] = b.query_start[q];
      is[p.num_items++] = q;
      continue;
    }
    for (int begin = 0; begin < len; begin += kPrefillTile) {
      ts[p.num_tiles] = q;
      tq[p.num_tiles++] = begin;
    }
  }
  p.item_token = item_token;
  p.item_seq = item_seq;
  p.tile_seq = tile_seq;
  p.tile_qbegin = tile_qbegin;
  p.rows = stage(s, b.num_rows, b.row_token);
  stage_sampling(s, b, p.sampling);
  return p;
}

void run_layers(Model& m, const Plan& p, int num_tokens) {
  const es_model_config& c = m.config;
  Workspace& w = m.ws;
  cudaStream_t st = m.stream;
  int h = c.hidden_size, inter = c.intermediate_size;
  StepProfile& prof = m.profile;
  bool v1 = !m.pointwise_v2;
  launch_embedding(p.tokens, m.embed, w.residual, num_tokens, h, c.vocab_size, st);
  prof.mark(st, "embed");
  AttentionArgs att{w.qkv, nullptr, nullptr, p.query_start, p.positions, p.context_lens,
                    p.block_tables, p.max_blocks_per_seq, c.block_size, c.num_heads, c.num_kv_heads, c.head_dim,
                    1.f / std::sqrt((float)c.head_dim), w.attn, p.table_stride};
  DecodeSplit split = plan_decode_split(att, p.num_items, p.max_context, w.partial_capacity,
                                        m.num_sms, m.decode_max_partition);
  for (int l = 0; l < c.num_layers; l++) {
    const LayerWeights& lw = m.layers[l];
    launch_add_rmsnorm(w.residual, l == 0 ? nullptr : w.tmp, lw.input_norm, w.normed, num_tokens,
                       h, c.rms_norm_eps, st, v1);
    prof.mark(st, "norm");
    gemm(m, lw.qkv, w.normed, w.qkv, m.qkv_dim(), num_tokens, h, false);
    prof.mark(st, "gemm_qkv");
    QkvPostArgs qa{w.qkv, lw.qkv_bias, lw.q_norm, lw.k_norm, p.positions, p.slots, m.inv_freq,
                   c.rope_attention_scaling, m.k_cache(l), m.v_cache(l), num_tokens,
                   c.num_heads, c.num_kv_heads, c.head_dim, c.rms_norm_eps};
    launch_qkv_post(qa, st, v1);
    prof.mark(st, "qkv_post");
    att.k_cache = m.k_cache(l);
    att.v_cache = m.v_cache(l);
    if (m.decode_v2)
      launch_decode_attention_v2(att, p.item_token, p.item_seq, p.num_items, split,
                                 w.partial_out, w.partial_ml, st);
    else
      launch_decode_attention(att, p.item_token, p.item_seq, p.num_items, p.max_context,
                              w.partial_out, w.partial_ml, w.partial_capacity, m.num_sms, st);
    prof.mark(st, "attn_decode");
    launch_prefill_attention(att, p.tile_seq, p.tile_qbegin, p.num_tiles, !m.prefill_tc, st);
    prof.mark(st, "attn_prefill");
    gemm(m, lw.o, w.attn, w.tmp, h, num_tokens, c.num_heads * c.head_dim, false);
    prof.mark(st, "gemm_o");
    launch_add_rmsnorm(w.residual, w.tmp, lw.post_norm, w.normed, num_tokens, h, c.rms_norm_eps,
                       st, v1);
    prof.mark(st, "norm");
    gemm(m, lw.gate_up, w.normed, w.gate_up, 2 * inter, num_tokens, h, false);
    prof.mark(st, "gemm_gate_up");
    launch_silu_mul(w.gate_up, w.act, num_tokens, inter, st, v1);
    prof.mark(st, "silu_mul");
    gemm(m, lw.down, w.act, w.tmp, h, num_tokens, inter, false);
    prof.mark(st, "gemm_down");
  }
  launch_add_rmsnorm(w.residual, w.tmp, m.final_norm, w.normed, num_tokens, h, c.rms_norm_eps,
                     st, v1);
  prof.mark(st, "norm");
}

// Logits and sampling for rows [r0, r0 + n), queued up to the copies into the pinned host
// mirrors (no synchronisation: a captured graph holds exactly this).
void enqueue_rows(Model& m, const Plan& p, int r0, int n) {
  const es_model_config& c = m.config;
  Workspace& w = m.ws;
  StepProfile& prof = m.profile;
  launch_gather_rows(w.normed, p.rows + r0, w.row_hidden, n, c.hidden_size, m.stream);
  prof.mark(m.stream, "gather_rows");
  gemm(m, m.lm_head, w.row_hidden, w.logits, c.vocab_size, n, c.hidden_size, true);
  prof.mark(m.stream, "lm_head");
  SampleArgs a = p.sampling;
  a.raw_logits = w.logits;
  a.work = w.work;
  a.probs = w.probs;
  a.num_rows = n;
  a.vocab = c.vocab_size;
  a.row_target += r0;
  a.row_num_top += r0;
  a.temperature += r0;
  a.top_p += r0;
  a.top_k += r0;
  a.min_p += r0;
  a.uniform += r0;
  a.repetition_penalty += r0;
  a.frequency_penalty += r0;
  a.presence_penalty += r0;
  a.penalty_offsets += r0;
  a.ban_offsets += r0;
  a.out_token = w.out_token;
  a.out_logprob = w.out_logprob;
  a.out_top_ids = w.out_top_ids;
  a.out_top_logprobs = w.out_top_logprobs;
  if (m.sampling_fast) launch_sampling_fast(a, m.stream);
  else launch_sampling(a, m.stream);
  prof.mark(m.stream, "sampling");
  cudaStream_t st = m.stream;
  constexpr int k = ES_MAX_TOP_LOGPROBS;
  CK(cudaMemcpyAsync(m.host_token, w.out_token, n * 4, cudaMemcpyDeviceToHost, st));
  CK(cudaMemcpyAsync(m.host_logprob, w.out_logprob, n * 4, cudaMemcpyDeviceToHost, st));
  CK(cudaMemcpyAsync(m.host_top_ids, w.out_top_ids, n * k * 4, cudaMemcpyDeviceToHost, st));
  CK(cudaMemcpyAsync(m.host_top_logprobs, w.out_top_logprobs, n * k * 4, cudaMemcpyDeviceToHost,
                     st));
  prof.mark(st, "copy_out");
}

// Waits for the step and moves rows [r0, r0 + n) from the pinned mirrors into the result.
void finish_rows(Model& m, int r0, int n, es_result& out) {
  constexpr int k = ES_MAX_TOP_LOGPROBS;
  m.profile.enqueued();
  CK(cudaStreamSynchronize(m.stream));
  m.profile.end();
  m.last_rows_begin = r0;
  m.last_rows_count = n;
  std::memcpy(out.token + r0, m.host_token, n * 4);
  std::memcpy(out.logprob + r0, m.host_logprob, n * 4);
  std::memcpy(out.top_ids + (size_t)r0 * k, m.host_top_ids, (size_t)n * k * 4);
  std::memcpy(out.top_logprobs + (size_t)r0 * k, m.host_top_logprobs, (size_t)n * k * 4);
}

void sample_rows(Model& m, const es_batch& b, const Plan& p, int r0, int n, es_result& out) {
  enqueue_rows(m, p, r0, n);
  if (b.keep_logits && out.logits)
    CK(cudaMemcpyAsync(out.logits + (size_t)r0 * m.config.vocab_size, m.ws.logits,
                       (size_t)n * m.config.vocab_size * 4, cudaMemcpyDeviceToHost, m.stream));
  finish_rows(m, r0, n, out);
}

}  // namespace

}  // namespace es

#include "decode-graph.cuh"

namespace es {

void model_execute(Model& m, const es_batch& b, es_result& out) {
  CK(cudaSetDevice(0));
  check_batch(m, b);
  if (graph_step(m, b, out)) return;
  m.profile.begin(m.stream, b.num_tokens == b.num_seqs, b.num_rows);
  Plan p = stage_batch(m, b);
  CK(cudaMemcpyAsync(m.staging.device, m.staging.host, m.staging.used, cudaMemcpyHostToDevice,
                     m.stream));
  m.profile.mark(m.stream, "stage_upload");
  run_layers(m, p, b.num_tokens);
  // The first chunk takes the remainder, so the last chunk (whose logits stay for lastLogits)
  // is always the final row_capacity rows: the sampled rows, which the caller puts last.
  int cap = m.ws.row_capacity;
  for (int r0 = 0; r0 < b.num_rows;) {
    int n = r0 == 0 && b.num_rows % cap ? b.num_rows % cap : cap;
    sample_rows(m, b, p, r0, n, out);
    r0 += n;
  }
  if (b.num_rows == 0) CK(cudaStreamSynchronize(m.stream));
}

void model_last_logits(Model& m, const int32_t* rows, int n, float* out) {
  size_t v = m.config.vocab_size;
  for (int i = 0; i < n; i++) {
    int r = rows[i] - m.last_rows_begin;
    require(r >= 0 && r < m.last_rows_count, "lastLogits: row is not in the last step's logits");
    CK(cudaMemcpy(out + i * v, m.ws.logits + r * v, v * sizeof(float), cudaMemcpyDeviceToHost));
  }
}

}  // namespace es
