// execute(model, batch) → Promise: the step runs on a libuv worker thread (napi_async_work).
// The batch's typed arrays are copied first, so JS may reuse them while the GPU works.
#include <cstring>
#include "napi-util.h"

using namespace binding;

namespace {

struct Step {
  Handle* handle;
  napi_ref handle_ref;
  napi_deferred deferred;
  napi_async_work work;
  int num_tokens, num_seqs, max_blocks_per_seq, num_rows, keep_logits, vocab;
  std::vector<int32_t> token_ids, positions, slot_mapping, query_start, context_lens,
      block_tables, row_token, row_target, row_num_top, row_top_k, row_penalty_offsets,
      penalty_tokens, penalty_output_counts, penalty_in_prompt, row_ban_offsets, ban_tokens;
  std::vector<float> row_temperature, row_top_p, row_min_p, row_uniform, row_repetition_penalty,
      row_frequency_penalty, row_presence_penalty;
  std::vector<int32_t> out_token, out_top_ids;
  std::vector<float> out_logprob, out_top_logprobs, out_logits;
  int rc = 0;
  std::string error;
};

bool read_batch(napi_env env, napi_value b, Step& s) {
  bool ok = true;
  s.num_tokens = (int)num_prop(env, b, "numTokens", &ok);
  s.num_seqs = (int)num_prop(env, b, "numSeqs", &ok);
  s.max_blocks_per_seq = (int)num_prop(env, b, "maxBlocksPerSeq", &ok);
  s.num_rows = (int)num_prop(env, b, "numRows", &ok);
  s.keep_logits = (int)num_prop(env, b, "keepLogits", &ok);
  s.vocab = (int)num_prop(env, b, "vocabSize", &ok);
  if (!ok) return false;
  const auto i32 = napi_int32_array;
  const auto f32 = napi_float32_array;
  return array_prop(env, b, "tokenIds", i32, s.token_ids) &&
         array_prop(env, b, "positions", i32, s.positions) &&
         array_prop(env, b, "slotMapping", i32, s.slot_mapping) &&
         array_prop(env, b, "queryStart", i32, s.query_start) &&
         array_prop(env, b, "contextLens", i32, s.context_lens) &&
         array_prop(env, b, "blockTables", i32, s.block_tables) &&
         array_prop(env, b, "rowToken", i32, s.row_token) &&
         array_prop(env, b, "rowTarget", i32, s.row_target) &&
         array_prop(env, b, "rowNumTop", i32, s.row_num_top) &&
         array_prop(env, b, "rowTopK", i32, s.row_top_k) &&
         array_prop(env, b, "rowPenaltyOffsets", i32, s.row_penalty_offsets) &&
         array_prop(env, b, "penaltyTokens", i32, s.penalty_tokens) &&
         array_prop(env, b, "penaltyOutputCounts", i32, s.penalty_output_counts) &&
         array_prop(env, b, "penaltyInPrompt", i32, s.penalty_in_prompt) &&
         array_prop(env, b, "rowBanOffsets", i32, s.row_ban_offsets) &&
         array_prop(env, b, "banTokens", i32, s.ban_tokens) &&
         array_prop(env, b, "rowTemperature", f32, s.row_temperature) &&
         array_prop(env, b, "rowTopP", f32, s.row_top_p) &&
         array_prop(env, b, "rowMinP", f32, s.row_min_p) &&
         array_prop(env, b, "rowUniform", f32, s.row_uniform) &&
         array_prop(env, b, "rowRepetitionPenalty", f32, s.row_repetition_penalty) &&
         array_prop(env, b, "rowFrequencyPenalty", f32, s.row_frequency_penalty) &&
         array_prop(env, b, "rowPresencePenalty", f32, s.row_presence_penalty);
}

// The last line of defence before native code indexes these arrays (TS checks first).
const char* check_lengths(const Step& s) {
  size_t t = s.num_tokens, q = s.num_seqs, r = s.num_rows;
  if (s.token_ids.size() != t || s.positions.size() != t || s.slot_mapping.size() != t)
    return "tokenIds, positions and slotMapping must have numTokens entries";
  if (s.query_start.size() != q + 1 || s.context_lens.size() != q)
    return "queryStart needs numSeqs + 1 entries and contextLens numSeqs";
  if (s.block_tables.size() != q * (size_t)s.max_blocks_per_seq)
    return "blockTables must hold numSeqs * maxBlocksPerSeq entries";
  for (auto* v : {&s.row_token, &s.row_target, &s.row_num_top, &s.row_top_k})
    if (v->size() != r) return "every row array must have numRows entries";
  for (auto* v : {&s.row_temperature, &s.row_top_p, &s.row_min_p, &s.row_uniform,
                  &s.row_repetition_penalty, &s.row_frequency_penalty, &s.row_presence_penalty})
    if (v->size() != r) return "every row array must have numRows entries";
  if (s.row_penalty_offsets.size() != r + 1 || s.row_ban_offsets.size() != r + 1)
    return "rowPenaltyOffsets and rowBanOffsets need numRows + 1 entries";
  size_t pen = s.row_penalty_offsets[r], ban = s.row_ban_offsets[r];
  if (s.penalty_tokens.size() != pen || s.penalty_output_counts.size() != pen ||
      s.penalty_in_prompt.size() != pen || s.ban_tokens.size() != ban)
    return "penalty and ban lists must match their offsets";
  return nullptr;
}

void run(napi_env, void* data) {
  Step& s = *static_cast<Step*>(data);
  size_t k = ES_MAX_TOP_LOGPROBS;
  s.out_token.assign(s.num_rows, 0);
  s.out_logprob.assign(s.num_rows, 0.f);
  s.out_top_ids.assign(s.num_rows * k, -1);
  s.out_top_logprobs.assign(s.num_rows * k, 0.f);
  if (s.keep_logits) s.out_logits.assign((size_t)s.num_rows * s.vocab, 0.f);
  es_batch b{s.num_tokens, s.num_seqs, s.max_blocks_per_seq, s.token_ids.data(),
             s.positions.data(), s.slot_mapping.data(), s.query_start.data(),
             s.context_lens.data(), s.block_tables.data(), s.num_rows, s.row_token.data(),
             s.row_target.data(), s.row_num_top.data(), s.row_temperature.data(),
             s.row_top_p.data(), s.row_top_k.data(), s.row_min_p.data(), s.row_uniform.data(),
             s.row_repetition_penalty.data(), s.row_frequency_penalty.data(),
             s.row_presence_penalty.data(), s.row_penalty_offsets.data(),
             s.penalty_tokens.data(), s.penalty_output_counts.data(),
             s.penalty_in_prompt.data(), s.row_ban_offsets.data(), s.ban_tokens.data(),
             s.keep_logits};
  es_result r{s.out_token.data(), s.out_logprob.data(), s.out_top_ids.data(),
              s.out_top_logprobs.data(), s.keep_logits ? s.out_logits.data() : nullptr};
  s.rc = es_model_execute(s.handle->model, &b, &r);
  if (s.rc != 0) s.error = es_last_error();
}

template <typename T>
napi_value copy_out(napi_env env, const std::vector<T>& v, napi_typedarray_type type) {
  void* data;
  napi_value ab, ta;
  napi_create_arraybuffer(env, v.size() * sizeof(T), &data, &ab);
  if (!v.empty()) std::memcpy(data, v.data(), v.size() * sizeof(T));
  napi_create_typedarray(env, type, v.size(), ab, 0, &ta);
  return ta;
}

void complete(napi_env env, napi_status, void* data) {
  Step* s = static_cast<Step*>(data);
  s->handle->busy = false;
  if (s->rc != 0) {
    napi_value msg, err;
    napi_create_string_utf8(env, s->error.c_str(), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, nullptr, msg, &err);
    napi_reject_deferred(env, s->deferred, err);
  } else {
    napi_value obj, logits;
    napi_create_object(env, &obj);
    napi_set_named_property(env, obj, "token", copy_out(env, s->out_token, napi_int32_array));
    napi_set_named_property(env, obj, "logprob",
                            copy_out(env, s->out_logprob, napi_float32_array));
    napi_set_named_property(env, obj, "topIds", copy_out(env, s->out_top_ids, napi_int32_array));
    napi_set_named_property(env, obj, "topLogprobs",
                            copy_out(env, s->out_top_logprobs, napi_float32_array));
    if (s->keep_logits) logits = copy_out(env, s->out_logits, napi_float32_array);
    else napi_get_null(env, &logits);
    napi_set_named_property(env, obj, "logits", logits);
    napi_resolve_deferred(env, s->deferred, obj);
  }
  napi_delete_reference(env, s->handle_ref);
  napi_delete_async_work(env, s->work);
  delete s;
}

}  // namespace

napi_value Execute(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Handle* h = get_handle(env, argv[0]);
  if (!h) return nullptr;
  if (h->busy) return throw_error(env, "execute: a step is already running on this model");
  Step* s = new Step();
  s->handle = h;
  if (!read_batch(env, argv[1], *s)) {
    delete s;
    return nullptr;
  }
  if (const char* bad = check_lengths(*s)) {
    delete s;
    return throw_error(env, std::string("execute: ") + bad);
  }
  napi_value promise, name;
  NAPI(napi_create_promise(env, &s->deferred, &promise));
  NAPI(napi_create_reference(env, argv[0], 1, &s->handle_ref));
  NAPI(napi_create_string_utf8(env, "edgeserve.cuda.execute", NAPI_AUTO_LENGTH, &name));
  NAPI(napi_create_async_work(env, nullptr, name, run, complete, s, &s->work));
  h->busy = true;
  NAPI(napi_queue_async_work(env, s->work));
  return promise;
}
