/*
 * The narrow C ABI between the N-API binding and the CUDA runner. Everything crossing it is a
 * plain struct of sizes and host pointers; device memory never leaves the library. Every
 * function returns 0 on success or -1 with a message (naming the failing CUDA/cuBLAS call) that
 * es_last_error() returns on the same thread.
 */
#ifndef EDGESERVE_CUDA_H
#define EDGESERVE_CUDA_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ES_MAX_TOP_LOGPROBS 20

typedef struct es_model es_model;

typedef struct {
  int device_count;
  char name[256];
  size_t total_bytes;
  size_t free_bytes;
  int major, minor, multiprocessors;
} es_device_info;

typedef struct {
  int vocab_size, hidden_size, intermediate_size, num_layers;
  int num_heads, num_kv_heads, head_dim;
  float rms_norm_eps;
  int attention_bias, qk_norm, tie_word_embeddings;
  int max_num_batched_tokens, max_num_seqs, max_model_len, block_size;
  /* head_dim / 2 inverse frequencies, scaling already applied by the caller. */
  const float* inv_freq;
  /* Multiplies cos/sin (1 except for yarn-style scalings). */
  float rope_attention_scaling;
} es_model_config;

/* Which tensor an upload fills; q/k/v and gate/up land in fused buffers. */
typedef enum {
  ES_W_EMBED = 0, ES_W_FINAL_NORM, ES_W_LM_HEAD,
  ES_W_INPUT_NORM, ES_W_POST_NORM, ES_W_Q, ES_W_K, ES_W_V, ES_W_Q_BIAS, ES_W_K_BIAS,
  ES_W_V_BIAS, ES_W_Q_NORM, ES_W_K_NORM, ES_W_O, ES_W_GATE, ES_W_UP, ES_W_DOWN
} es_weight_kind;

typedef enum { ES_F32 = 0, ES_F16 = 1, ES_BF16 = 2 } es_dtype;

typedef struct {
  int num_blocks;
  size_t kv_bytes, weight_bytes, workspace_bytes, free_bytes, total_bytes;
} es_kv_info;

typedef struct {
  int num_tokens, num_seqs, max_blocks_per_seq;
  const int32_t* token_ids;     /* [num_tokens] */
  const int32_t* positions;     /* [num_tokens] */
  const int32_t* slot_mapping;  /* [num_tokens] */
  const int32_t* query_start;   /* [num_seqs + 1] */
  const int32_t* context_lens;  /* [num_seqs]: tokens in cache after this step */
  const int32_t* block_tables;  /* [num_seqs * max_blocks_per_seq] */
  /* Logit rows: each is one batch token whose logits we sample from or score. */
  int num_rows;
  const int32_t* row_token;     /* index into the batch's tokens */
  const int32_t* row_target;    /* -1: sample; otherwise score this token id */
  const int32_t* row_num_top;   /* -1: no logprobs; 0..ES_MAX_TOP_LOGPROBS alternatives */
  const float* row_temperature; /* 0: greedy */
  const float* row_top_p;
  const int32_t* row_top_k;     /* 0: off */
  const float* row_min_p;
  const float* row_uniform;     /* the row's random number in [0, 1) */
  const float* row_repetition_penalty;
  const float* row_frequency_penalty;
  const float* row_presence_penalty;
  const int32_t* row_penalty_offsets; /* [num_rows + 1] into penalty_* */
  const int32_t* penalty_tokens;      /* unique token ids */
  const int32_t* penalty_output_counts;
  const int32_t* penalty_in_prompt;
  const int32_t* row_ban_offsets;     /* [num_rows + 1] into ban_tokens */
  const int32_t* ban_tokens;
  int keep_logits;
} es_batch;

typedef struct {
  int32_t* token;        /* [num_rows] */
  float* logprob;        /* [num_rows] */
  int32_t* top_ids;      /* [num_rows * ES_MAX_TOP_LOGPROBS] */
  float* top_logprobs;   /* [num_rows * ES_MAX_TOP_LOGPROBS] */
  float* logits;         /* [num_rows * vocab_size] when keep_logits, else NULL */
} es_result;

const char* es_last_error(void);
int es_device_info_get(es_device_info* out);
int es_model_create(const es_model_config* config, es_model** out);
int es_model_upload_weight(es_model* model, int kind, int layer, const void* data, int dtype,
                           size_t numel);
int es_model_dummy_weights(es_model* model, uint64_t seed);
int es_model_allocate_kv(es_model* model, double gpu_memory_utilization, int num_blocks_override,
                         es_kv_info* out);
int es_model_execute(es_model* model, const es_batch* batch, es_result* result);
/* Raw logits of rows of the last execute (rows index that batch's rows; all must lie in the last
 * chunk of row_capacity rows). out holds n * vocab_size floats. */
int es_model_last_logits(es_model* model, const int32_t* rows, int n, float* out);
void es_model_destroy(es_model* model);

#ifdef __cplusplus
}
#endif
#endif
