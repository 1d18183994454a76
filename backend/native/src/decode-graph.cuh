// CUDA graphs for pure-decode steps (included by forward.cu, after run_layers/enqueue_rows).
// A step whose every sequence brings one sampled token is padded to a batch-size bucket
// (1, 2, 4, 8, 16, then multiples of 16 up to max; powers of two with
// EDGESERVE_CUDA_GRAPH_BUCKETS=pow2) and replayed from a graph captured the first time that bucket is seen. Every
// per-step input lives at a fixed address of one device arena, refilled from its pinned host twin
// before each replay; host-side launch arguments are frozen at capture, so the attention split is
// planned for max_model_len and the block-table stride is read on the device. Padded slots get
// token 0, slot -1 (no KV write), context 0 (no attention) and greedy sampling, which the fast
// sampler skips (rows at or past num_live); their results are never returned. Anything else (prefill, mixed, prompt logprobs, kept logits) runs eagerly.
#pragma once
#include <cstdio>
#include <cstring>
#include "kernels.h"
#include "model.h"

namespace es {
namespace {

constexpr int kPenaltyCapacity = 1 << 16;
constexpr int kBanCapacity = 1 << 16;

// Typed views of the arena (host or device): the same layout either way.
struct GraphView {
  int32_t *tokens, *positions, *slots, *context_lens, *iota, *row_target, *row_num_top, *top_k;
  int32_t *pen_offsets, *ban_offsets, *table_stride, *num_live;
  float *temperature, *top_p, *min_p, *uniform, *rep, *freq, *pres;
  int32_t *tables, *pen_tokens, *pen_counts, *pen_in_prompt, *ban_tokens;
  size_t head_bytes, bytes;
};

GraphView graph_view(char* base, const GraphInputs& g) {
  size_t used = 0;
  auto take = [&](size_t count) {
    char* p = base ? base + used : nullptr;
    used += (count * 4 + 255) / 256 * 256;
    return p;
  };
  auto i32 = [&](size_t n) { return reinterpret_cast<int32_t*>(take(n)); };
  auto f32 = [&](size_t n) { return reinterpret_cast<float*>(take(n)); };
  size_t B = g.max_bucket;
  GraphView v;
  v.tokens = i32(B);
  v.positions = i32(B);
  v.slots = i32(B);
  v.context_lens = i32(B);
  v.iota = i32(B);
  v.row_target = i32(B);
  v.row_num_top = i32(B);
  v.top_k = i32(B);
  v.pen_offsets = i32(B + 1);
  v.ban_offsets = i32(B + 1);
  v.table_stride = i32(1);
  v.num_live = i32(1);
  v.temperature = f32(B);
  v.top_p = f32(B);
  v.min_p = f32(B);
  v.uniform = f32(B);
  v.rep = f32(B);
  v.freq = f32(B);
  v.pres = f32(B);
  v.head_bytes = used;
  v.tables = i32(B * g.blocks_per_row);
  v.pen_tokens = i32(g.pen_capacity);
  v.pen_counts = i32(g.pen_capacity);
  v.pen_in_prompt = i32(g.pen_capacity);
  v.ban_tokens = i32(g.ban_capacity);
  v.bytes = used;
  return v;
}

// Powers of two up to the bucket step, then multiples of it (padding past 16 sequences stays under
// 16 rows: the GEMMs and the LM head at these sizes cost in proportion to their rows).
int bucket_for(const Model& m, int n) {
  int step = m.graph_bucket_step;
  int b = 1;
  while (b < n && (step == 0 || b < step)) b *= 2;
  if (b < n) b = (n + step - 1) / step * step;
  return b < m.graph_inputs.max_bucket ? b : m.graph_inputs.max_bucket;
}

bool graph_eligible(const Model& m, const es_batch& b) {
  const GraphInputs& g = m.graph_inputs;
  int n = b.num_seqs;
  if (!m.graphs_enabled || b.keep_logits || b.num_tokens != n || b.num_rows != n) return false;
  if (n > g.max_bucket || b.max_blocks_per_seq > g.blocks_per_row) return false;
  if (b.row_penalty_offsets[n] > g.pen_capacity || b.row_ban_offsets[n] > g.ban_capacity)
    return false;
  for (int i = 0; i < n; i++) {
    if (b.query_start[i + 1] != i + 1 || b.row_token[i] != i || b.row_target[i] >= 0) return false;
    if (b.context_lens[i] > m.config.max_model_len) return false;
  }
  return true;
}

// Fills the host arena for n real sequences padded to `bucket` and queues its upload.
void stage_graph_inputs(Model& m, const es_batch& b, int bucket) {
  GraphInputs& g = m.graph_inputs;
  GraphView h = graph_view(g.host, g), d = graph_view(g.device, g);
  int n = b.num_seqs, mb = b.max_blocks_per_seq;
  size_t pen = b.row_penalty_offsets[n], ban = b.row_ban_offsets[n];
  for (int i = 0; i < bucket; i++) {
    bool real = i < n;
    h.tokens[i] = real ? b.token_ids[i] : 0;
    h.positions[i] = real ? b.positions[i] : 0;
    h.slots[i] = real ? b.slot_mapping[i] : -1;
    h.context_lens[i] = real ? b.context_lens[i] : 0;
    h.row_target[i] = -1;
    h.row_num_top[i] = real ? b.row_num_top[i] : 0;
    h.top_k[i] = real ? b.row_top_k[i] : 0;
    h.temperature[i] = real ? b.row_temperature[i] : 0.f;
    h.top_p[i] = real ? b.row_top_p[i] : 1.f;
    h.min_p[i] = real ? b.row_min_p[i] : 0.f;
    h.uniform[i] = real ? b.row_uniform[i] : 0.f;
    h.rep[i] = real ? b.row_repetition_penalty[i] : 1.f;
    h.freq[i] = real ? b.row_frequency_penalty[i] : 0.f;
    h.pres[i] = real ? b.row_presence_penalty[i] : 0.f;
  }
  for (int i = 0; i <= bucket; i++) {
    h.pen_offsets[i] = b.row_penalty_offsets[i < n ? i : n];
    h.ban_offsets[i] = b.row_ban_offsets[i < n ? i : n];
  }
  *h.table_stride = mb;
  *h.num_live = n;
  std::memcpy(h.tables, b.block_tables, (size_t)n * mb * 4);
  std::memcpy(h.pen_tokens, b.penalty_tokens, pen * 4);
  std::memcpy(h.pen_counts, b.penalty_output_counts, pen * 4);
  std::memcpy(h.pen_in_prompt, b.penalty_in_prompt, pen * 4);
  std::memcpy(h.ban_tokens, b.ban_tokens, ban * 4);
  cudaStream_t st = m.stream;
  auto up = [&](void* dst, const void* src, size_t bytes) {
    if (bytes) CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st));
  };
  up(d.tokens, h.tokens, h.head_bytes);
  up(d.tables, h.tables, (size_t)n * mb * 4);
  up(d.pen_tokens, h.pen_tokens, pen * 4);
  up(d.pen_counts, h.pen_counts, pen * 4);
  up(d.pen_in_prompt, h.pen_in_prompt, pen * 4);
  up(d.ban_tokens, h.ban_tokens, ban * 4);
}

// The step for `bucket` sequences over the device arena, as run_layers + enqueue_rows see it.
Plan graph_plan(Model& m, int bucket) {
  GraphView d = graph_view(m.graph_inputs.device, m.graph_inputs);
  Plan p;
  p.tokens = d.tokens;
  p.positions = d.positions;
  p.slots = d.slots;
  p.query_start = d.iota;
  p.context_lens = d.context_lens;
  p.block_tables = d.tables;
  p.table_stride = d.table_stride;
  p.item_token = d.iota;
  p.item_seq = d.iota;
  p.tile_seq = d.iota;
  p.tile_qbegin = d.iota;
  p.rows = d.iota;
  p.num_items = bucket;
  p.num_tiles = 0;
  p.max_context = m.config.max_model_len;
  SampleArgs& a = p.sampling;
  a.row_target = d.row_target;
  a.row_num_top = d.row_num_top;
  a.temperature = d.temperature;
  a.top_p = d.top_p;
  a.top_k = d.top_k;
  a.min_p = d.min_p;
  a.uniform = d.uniform;
  a.repetition_penalty = d.rep;
  a.frequency_penalty = d.freq;
  a.presence_penalty = d.pres;
  a.penalty_offsets = d.pen_offsets;
  a.ban_offsets = d.ban_offsets;
  a.penalty_tokens = d.pen_tokens;
  a.penalty_output_counts = d.pen_counts;
  a.penalty_in_prompt = d.pen_in_prompt;
  a.ban_tokens = d.ban_tokens;
  a.num_live = d.num_live;
  return p;
}

cudaGraphExec_t capture(Model& m, int bucket) {
  Plan p = graph_plan(m, bucket);
  cudaGraph_t graph = nullptr;
  CK(cudaStreamBeginCapture(m.stream, cudaStreamCaptureModeThreadLocal));
  try {
    run_layers(m, p, bucket);
    enqueue_rows(m, p, 0, bucket);
  } catch (...) {
    cudaStreamEndCapture(m.stream, &graph);
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    throw;
  }
  CK(cudaStreamEndCapture(m.stream, &graph));
  cudaGraphExec_t exec = nullptr;
  cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CK(e);
  return exec;
}

// Runs the step from a graph when it qualifies; false leaves it to the eager path.
bool graph_step(Model& m, const es_batch& b, es_result& out) {
  if (!graph_eligible(m, b)) return false;
  int bucket = bucket_for(m, b.num_seqs);
  DecodeGraph* found = nullptr;
  for (DecodeGraph& g : m.graphs)
    if (g.bucket == bucket) found = &g;
  if (!found) {
    cudaGraphExec_t exec;
    try {
      exec = capture(m, bucket);
    } catch (const std::exception& e) {
      // A capture failure costs speed, not correctness: report once and stay eager.
      std::fprintf(stderr, "edgeserve cuda: decode graphs disabled: %s\n", e.what());
      m.graphs_enabled = false;
      return false;
    }
    m.graphs.push_back({bucket, exec});
    found = &m.graphs.back();
  }
  stage_graph_inputs(m, b, bucket);
  CK(cudaGraphLaunch(found->exec, m.stream));
  finish_rows(m, 0, b.num_seqs, out);
  return true;
}

}  // namespace

void graphs_init(Model& m) {
  const es_model_config& c = m.config;
  GraphInputs& g = m.graph_inputs;
  g.max_bucket = std::min(c.max_num_seqs, std::min(c.max_num_batched_tokens, m.ws.row_capacity));
  g.blocks_per_row = (c.max_model_len + c.block_size - 1) / c.block_size;
  g.pen_capacity = kPenaltyCapacity;
  g.ban_capacity = kBanCapacity;
  g.bytes = graph_view(nullptr, g).bytes;
  CK(cudaMallocHost(&g.host, g.bytes));
  CK(cudaMalloc(&g.device, g.bytes));
  std::memset(g.host, 0, g.bytes);
  GraphView h = graph_view(g.host, g);
  for (int i = 0; i < g.max_bucket; i++) h.iota[i] = i;
}

void graphs_prepare(Model& m) {
  int last = 0;
  for (int n = 1; n <= m.graph_inputs.max_bucket; n++) {
    int bucket = bucket_for(m, n);
    if (bucket != last) tune_gemms(m, bucket);
    last = bucket;
  }
}

void graphs_free(Model& m) {
  for (DecodeGraph& g : m.graphs)
    if (g.exec) cudaGraphExecDestroy(g.exec);
  m.graphs.clear();
  if (m.graph_inputs.host) cudaFreeHost(m.graph_inputs.host);
  if (m.graph_inputs.device) cudaFree(m.graph_inputs.device);
  m.graph_inputs = GraphInputs{};
}

}  // namespace es
