// Memory planning and weights: one arena for the weights, one for activations, then the KV pool
// from what cudaMemGetInfo says is left under --gpu-memory-utilization.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include "kernels.h"
#include "model.h"

namespace es {
namespace {

constexpr size_t kAlign = 256;
constexpr size_t kUploadChunkBytes = 64ull << 20;

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Bump allocation inside an arena; first pass (base == nullptr) only measures.
struct Bump {
  char* base;
  size_t used = 0;
  template <typename T>
  T* take(size_t count) {
    T* p = base ? reinterpret_cast<T*>(base + used) : nullptr;
    used += align_up(count * sizeof(T));
    return p;
  }
};

void lay_out_weights(Model& m, Bump& b) {
  const es_model_config& c = m.config;
  size_t h = c.hidden_size, inter = c.intermediate_size, hd = c.head_dim;
  size_t q = c.num_heads * hd, qkv = m.qkv_dim();
  m.embed = b.take<bf16>((size_t)c.vocab_size * h);
  m.final_norm = b.take<bf16>(h);
  m.lm_head = c.tie_word_embeddings ? m.embed : b.take<bf16>((size_t)c.vocab_size * h);
  m.layers.resize(c.num_layers);
  for (LayerWeights& l : m.layers) {
    l.input_norm = b.take<bf16>(h);
    l.post_norm = b.take<bf16>(h);
    l.qkv = b.take<bf16>(qkv * h);
    l.qkv_bias = c.attention_bias ? b.take<bf16>(qkv) : nullptr;
    l.q_norm = c.qk_norm ? b.take<bf16>(hd) : nullptr;
    l.k_norm = c.qk_norm ? b.take<bf16>(hd) : nullptr;
    l.o = b.take<bf16>(h * q);
    l.gate_up = b.take<bf16>(2 * inter * h);
    l.down = b.take<bf16>(h * inter);
  }
}

void lay_out_workspace(Model& m, Bump& b) {
  const es_model_config& c = m.config;
  size_t t = c.max_num_batched_tokens, h = c.hidden_size, inter = c.intermediate_size;
  Workspace& w = m.ws;
  w.row_capacity = std::max(c.max_num_seqs, 64);
  size_t rows = w.row_capacity;
  w.residual = b.take<bf16>(t * h);
  w.normed = b.take<bf16>(t * h);
  w.qkv = b.take<bf16>(t * m.qkv_dim());
  w.attn = b.take<bf16>(t * c.num_heads * c.head_dim);
  w.tmp = b.take<bf16>(t * h);
  w.gate_up = b.take<bf16>(t * 2 * inter);
  w.act = b.take<bf16>(t * inter);
  w.row_hidden = b.take<bf16>(rows * h);
  w.logits = b.take<float>(rows * c.vocab_size);
  w.work = b.take<float>(rows * c.vocab_size);
  w.probs = b.take<float>(rows * c.vocab_size);
  w.partial_capacity = 8u << 20;
  w.partial_out = b.take<float>(w.partial_capacity);
  w.partial_ml = b.take<float>(w.partial_capacity / 16 * 2);
  w.out_token = b.take<int32_t>(rows);
  w.out_logprob = b.take<float>(rows);
  w.out_top_ids = b.take<int32_t>(rows * ES_MAX_TOP_LOGPROBS);
  w.out_top_logprobs = b.take<float>(rows * ES_MAX_TOP_LOGPROBS);
}

// Where an upload of `kind` lands and how many elements it must have.
bf16* destination(Model& m, int kind, int layer, size_t* expect) {
  const es_model_config& c = m.config;
  size_t h = c.hidden_size, inter = c.intermediate_size, hd = c.head_dim;
  size_t q = c.num_heads * hd, kv = c.num_kv_heads * hd;
  if (kind == ES_W_EMBED) return *expect = (size_t)c.vocab_size * h, m.embed;
  if (kind == ES_W_FINAL_NORM) return *expect = h, m.final_norm;
  if (kind == ES_W_LM_HEAD) {
    require(!c.tie_word_embeddings, "lm_head upload for a model with tied embeddings");
    return *expect = (size_t)c.vocab_size * h, m.lm_head;
  }
  require(layer >= 0 && layer < c.num_layers, "weight upload: layer out of range");
  LayerWeights& l = m.layers[layer];
  switch (kind) {
    case ES_W_INPUT_NORM: return *expect = h, l.input_norm;
    case ES_W_POST_NORM: return *expect = h, l.post_norm;
    case ES_W_Q: return *expect = q * h, l.qkv;
    case ES_W_K: return *expect = kv * h, l.qkv + q * h;
    case ES_W_V: return *expect = kv * h, l.qkv + (q + kv) * h;
    case ES_W_Q_BIAS: case ES_W_K_BIAS: case ES_W_V_BIAS:
      require(l.qkv_bias != nullptr, "bias upload for a model without attention bias");
      *expect = kind == ES_W_Q_BIAS ? q : kv;
      return l.qkv_bias + (kind == ES_W_Q_BIAS ? 0 : kind == ES_W_K_BIAS ? q : q + kv);
    case ES_W_Q_NORM: case ES_W_K_NORM:
      require(l.q_norm != nullptr, "q/k norm upload for a model without qk_norm");
      return *expect = hd, kind == ES_W_Q_NORM ? l.q_norm : l.k_norm;
    case ES_W_O: return *expect = h * q, l.o;
    case ES_W_GATE: return *expect = inter * h, l.gate_up;
    case ES_W_UP: return *expect = inter * h, l.gate_up + inter * h;
    case ES_W_DOWN: return *expect = h * inter, l.down;
    default: throw Error("weight upload: unknown kind " + std::to_string(kind));
  }
}

}  // namespace

void model_init(Model& m, const es_model_config& config) {
  m.config = config;
  const es_model_config& c = m.config;
  require(c.num_heads % c.num_kv_heads == 0, "num_heads must be a multiple of num_kv_heads");
  require(c.hidden_size % 8 == 0, "hidden_size must be a multiple of 8");
  m.inv_freq_host.assign(config.inv_freq, config.inv_freq + c.head_dim / 2);
  m.config.inv_freq = nullptr;
  CK(cudaSetDevice(0));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  m.num_sms = prop.multiProcessorCount;
  CK(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking));
  CKB(cublasCreate(&m.cublas));
  CKB(cublasSetStream(m.cublas, m.stream));
  CK(cudaMalloc(&m.cublas_workspace, kCublasWorkspaceBytes));
  CKB(cublasSetWorkspace(m.cublas, m.cublas_workspace, kCublasWorkspaceBytes));
  CKB(cublasLtCreate(&m.lt));
  CK(cudaMalloc(&m.inv_freq, m.inv_freq_host.size() * sizeof(float)));
  CK(cudaMemcpy(m.inv_freq, m.inv_freq_host.data(), m.inv_freq_host.size() * sizeof(float),
                cudaMemcpyHostToDevice));
  Bump measure{nullptr};
  lay_out_weights(m, measure);
  m.weight_bytes = measure.used;
  CK(cudaMalloc(&m.weight_arena, m.weight_bytes));
  Bump weights{m.weight_arena};
  lay_out_weights(m, weights);
  Bump measure_ws{nullptr};
  lay_out_workspace(m, measure_ws);
  m.workspace_bytes = measure_ws.used;
  CK(cudaMalloc(&m.workspace_arena, m.workspace_bytes));
  Bump ws{m.workspace_arena};
  lay_out_workspace(m, ws);
  // Padded graph slots never get attention written; keep their rows finite from the start.
  CK(cudaMemset(m.ws.attn, 0, (size_t)c.max_num_batched_tokens * c.num_heads * c.head_dim * 2));
  const char* att = std::getenv("EDGESERVE_CUDA_DECODE_ATTENTION");
  m.decode_v2 = !(att && std::strcmp(att, "v1") == 0);
  const char* graphs = std::getenv("EDGESERVE_CUDA_GRAPHS");
  m.graphs_enabled = m.decode_v2 && !(graphs && std::strcmp(graphs, "0") == 0);
  const char* sampling = std::getenv("EDGESERVE_CUDA_SAMPLING");
  m.sampling_fast = !(sampling && std::strcmp(sampling, "v1") == 0);
  const char* pointwise = std::getenv("EDGESERVE_CUDA_POINTWISE");
  m.pointwise_v2 = !(pointwise && std::strcmp(pointwise, "v1") == 0);
  const char* prefill = std::getenv("EDGESERVE_CUDA_PREFILL");
  m.prefill_tc = !(prefill && std::strcmp(prefill, "v1") == 0);
  const char* partition = std::getenv("EDGESERVE_CUDA_DECODE_PARTITION");
  if (partition) m.decode_max_partition = std::max(0, std::atoi(partition));
  const char* gemv = std::getenv("EDGESERVE_CUDA_GEMV");
  m.gemv = !(gemv && std::strcmp(gemv, "0") == 0);
  const char* tune = std::getenv("EDGESERVE_CUDA_GEMM_TUNE");
  m.gemm_tune = !tune ? 1 : std::strcmp(tune, "0") == 0 ? 0 : std::strcmp(tune, "log") == 0 ? 2 : 1;
  const char* buckets = std::getenv("EDGESERVE_CUDA_GRAPH_BUCKETS");
  m.graph_bucket_step = buckets && std::strcmp(buckets, "pow2") == 0 ? 0 : 16;
  const char* profile = std::getenv("EDGESERVE_CUDA_PROFILE");
  m.profile.on = profile && (std::strcmp(profile, "1") == 0 || std::strcmp(profile, "all") == 0);
  m.profile.all_steps = profile && std::strcmp(profile, "all") == 0;
  if (m.profile.on) m.graphs_enabled = false;
  int rows = m.ws.row_capacity;
  CK(cudaMallocHost(&m.host_token, rows * sizeof(int32_t)));
  CK(cudaMallocHost(&m.host_logprob, rows * sizeof(float)));
  CK(cudaMallocHost(&m.host_top_ids, rows * ES_MAX_TOP_LOGPROBS * sizeof(int32_t)));
  CK(cudaMallocHost(&m.host_top_logprobs, rows * ES_MAX_TOP_LOGPROBS * sizeof(float)));
  if (m.graphs_enabled) graphs_init(m);
}

void model_free(Model& m) {
  // Teardown: report nothing, free everything that exists.
  if (m.stream) cudaStreamSynchronize(m.stream);
  m.profile.report();
  m.profile.release();
  graphs_free(m);
  gemm_plans_free(m);
  if (m.cublas) cublasDestroy(m.cublas);
  for (void* p : {(void*)m.weight_arena, (void*)m.workspace_arena, (void*)m.kv_cache,
                  (void*)m.inv_freq, m.cublas_workspace, (void*)m.staging.device,
                  m.upload_scratch})
    if (p) cudaFree(p);
  for (void* p : {(void*)m.staging.host, (void*)m.host_token, (void*)m.host_logprob,
                  (void*)m.host_top_ids, (void*)m.host_top_logprobs})
    if (p) cudaFreeHost(p);
  if (m.stream) cudaStreamDestroy(m.stream);
}

void model_upload(Model& m, int kind, int layer, const void* data, int dtype, size_t numel) {
  size_t expect = 0;
  bf16* dst = destination(m, kind, layer, &expect);
  require(numel == expect, "weight upload: kind " + std::to_string(kind) + " layer " +
                               std::to_string(layer) + " has " + std::to_string(numel) +
                               " elements, expected " + std::to_string(expect));
  if (dtype == ES_BF16) {
    CK(cudaMemcpyAsync(dst, data, numel * 2, cudaMemcpyHostToDevice, m.stream));
    CK(cudaStreamSynchronize(m.stream));
    return;
  }
  require(dtype == ES_F32 || dtype == ES_F16, "weight upload: dtype must be f32, f16 or bf16");
  if (!m.upload_scratch) CK(cudaMalloc(&m.upload_scratch, kUploadChunkBytes));
  size_t item = dtype == ES_F32 ? 4 : 2;
  size_t per_chunk = kUploadChunkBytes / item;
  for (size_t off = 0; off < numel; off += per_chunk) {
    size_t n = std::min(per_chunk, numel - off);
    CK(cudaMemcpyAsync(m.upload_scratch, static_cast<const char*>(data) + off * item, n * item,
                       cudaMemcpyHostToDevice, m.stream));
    launch_to_bf16(m.upload_scratch, dtype == ES_F32 ? 0 : 1, dst + off, n, m.stream);
    CK(cudaStreamSynchronize(m.stream));
  }
}

void model_dummy(Model& m, uint64_t seed) {
  const es_model_config& c = m.config;
  size_t h = c.hidden_size, inter = c.intermediate_size, hd = c.head_dim;
  size_t q = c.num_heads * hd;
  uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
  auto fill = [&](bf16* p, size_t n, float center, float range) {
    if (p) launch_dummy_fill(p, n, s++, center, range, m.stream);
  };
  auto matrix = [&](bf16* p, size_t rows, size_t fan_in) {
    fill(p, rows * fan_in, 0.f, std::sqrt(3.f / fan_in));
  };
  fill(m.embed, (size_t)c.vocab_size * h, 0.f, 1.f);
  fill(m.final_norm, h, 1.f, 0.1f);
  if (!c.tie_word_embeddings) matrix(m.lm_head, c.vocab_size, h);
  for (LayerWeights& l : m.layers) {
    fill(l.input_norm, h, 1.f, 0.1f);
    fill(l.post_norm, h, 1.f, 0.1f);
    matrix(l.qkv, m.qkv_dim(), h);
    fill(l.qkv_bias, m.qkv_dim(), 0.f, 0.1f);
    fill(l.q_norm, hd, 1.f, 0.1f);
    fill(l.k_norm, hd, 1.f, 0.1f);
    matrix(l.o, h, q);
    matrix(l.gate_up, 2 * inter, h);
    matrix(l.down, h, inter);
  }
  CK(cudaStreamSynchronize(m.stream));
}

void model_allocate_kv(Model& m, double utilization, int override_blocks, es_kv_info* out) {
  require(m.kv_cache == nullptr, "the KV cache is already allocated");
  const es_model_config& c = m.config;
  size_t free_bytes = 0, total_bytes = 0;
  CK(cudaMemGetInfo(&free_bytes, &total_bytes));
  size_t block_bytes =
      2ull * c.num_layers * c.block_size * c.num_kv_heads * c.head_dim * sizeof(bf16);
  double used = (double)(total_bytes - free_bytes);
  double budget = utilization * (double)total_bytes - used;
  long long blocks = budget > 0 ? (long long)(budget / (double)block_bytes) : 0;
  if (override_blocks > 0) blocks = override_blocks;
  require(blocks >= 1, "no GPU memory left for the KV cache: " +
                           std::to_string(free_bytes >> 20) + " MiB free of " +
                           std::to_string(total_bytes >> 20) + " MiB after weights (" +
                           std::to_string(m.weight_bytes >> 20) +
                           " MiB); raise --gpu-memory-utilization");
  m.num_blocks = (int)std::min<long long>(blocks, 0x7fffffffll / c.block_size);
  CK(cudaMalloc(&m.kv_cache, (size_t)m.num_blocks * block_bytes));
  out->num_blocks = m.num_blocks;
  out->kv_bytes = (size_t)m.num_blocks * block_bytes;
  out->weight_bytes = m.weight_bytes;
  out->workspace_bytes = m.workspace_bytes;
  out->free_bytes = free_bytes;
  out->total_bytes = total_bytes;
  if (m.graphs_enabled) graphs_prepare(m);
}

}  // namespace es
