// N-API binding over the C ABI. Loading and planning calls are synchronous (startup only);
// execute() copies its typed arrays, runs the step on a libuv worker thread and settles a
// promise, so the JS event loop never waits on the GPU. Errors become JS errors whose message is
// the native one (it names the failing CUDA/cuBLAS call).
#include <cstring>
#include "napi-util.h"

using namespace binding;

namespace {

napi_value DeviceInfo(napi_env env, napi_callback_info) {
  es_device_info info;
  if (es_device_info_get(&info) != 0) return throw_error(env, es_last_error());
  napi_value obj, name;
  NAPI(napi_create_object(env, &obj));
  NAPI(napi_create_string_utf8(env, info.name, NAPI_AUTO_LENGTH, &name));
  NAPI(napi_set_named_property(env, obj, "name", name));
  set_num(env, obj, "deviceCount", info.device_count);
  set_num(env, obj, "totalBytes", (double)info.total_bytes);
  set_num(env, obj, "freeBytes", (double)info.free_bytes);
  set_num(env, obj, "major", info.major);
  set_num(env, obj, "minor", info.minor);
  set_num(env, obj, "multiprocessors", info.multiprocessors);
  return obj;
}

void finalize_handle(napi_env, void* data, void*) {
  Handle* h = static_cast<Handle*>(data);
  if (h->model && !h->busy) es_model_destroy(h->model);
  delete h;
}

napi_value CreateModel(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  bool ok = true;
  es_model_config c{};
  auto n = [&](const char* name) { return (int)num_prop(env, argv[0], name, &ok); };
  c.vocab_size = n("vocabSize");
  c.hidden_size = n("hiddenSize");
  c.intermediate_size = n("intermediateSize");
  c.num_layers = n("numLayers");
  c.num_heads = n("numHeads");
  c.num_kv_heads = n("numKvHeads");
  c.head_dim = n("headDim");
  c.rms_norm_eps = (float)num_prop(env, argv[0], "rmsNormEps", &ok);
  c.attention_bias = n("attentionBias");
  c.qk_norm = n("qkNorm");
  c.tie_word_embeddings = n("tieWordEmbeddings");
  c.max_num_batched_tokens = n("maxNumBatchedTokens");
  c.max_num_seqs = n("maxNumSeqs");
  c.max_model_len = n("maxModelLen");
  c.block_size = n("blockSize");
  c.rope_attention_scaling = (float)num_prop(env, argv[0], "ropeAttentionScaling", &ok);
  std::vector<float> inv_freq;
  if (!ok || !array_prop(env, argv[0], "invFreq", napi_float32_array, inv_freq)) return nullptr;
  if ((int)inv_freq.size() != c.head_dim / 2) return throw_error(env, "invFreq length != headDim/2");
  c.inv_freq = inv_freq.data();
  es_model* model = nullptr;
  if (es_model_create(&c, &model) != 0) return throw_error(env, es_last_error());
  Handle* h = new Handle{model, false};
  napi_value ext;
  NAPI(napi_create_external(env, h, finalize_handle, nullptr, &ext));
  return ext;
}

napi_value UploadWeight(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return nullptr;
  Handle* h = get_handle(env, argv[0]);
  if (!h) return nullptr;
  int32_t kind, layer, dtype;
  NAPI(napi_get_value_int32(env, argv[1], &kind));
  NAPI(napi_get_value_int32(env, argv[2], &layer));
  NAPI(napi_get_value_int32(env, argv[4], &dtype));
  napi_typedarray_type t;
  size_t len;
  void* data;
  NAPI(napi_get_typedarray_info(env, argv[3], &t, &len, &data, nullptr, nullptr));
  if (t != napi_uint8_array) return throw_error(env, "weight data must be a Uint8Array");
  size_t item = dtype == ES_F32 ? 4 : 2;
  if (len % item != 0) return throw_error(env, "weight byte length is not a whole element count");
  if (es_model_upload_weight(h->model, kind, layer, data, dtype, len / item) != 0)
    return throw_error(env, es_last_error());
  return nullptr;
}

napi_value DummyWeights(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Handle* h = get_handle(env, argv[0]);
  if (!h) return nullptr;
  double seed;
  NAPI(napi_get_value_double(env, argv[1], &seed));
  if (es_model_dummy_weights(h->model, (uint64_t)seed) != 0)
    return throw_error(env, es_last_error());
  return nullptr;
}

napi_value AllocateKvCache(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Handle* h = get_handle(env, argv[0]);
  if (!h) return nullptr;
  double util;
  int32_t override_blocks;
  NAPI(napi_get_value_double(env, argv[1], &util));
  NAPI(napi_get_value_int32(env, argv[2], &override_blocks));
  es_kv_info kv{};
  if (es_model_allocate_kv(h->model, util, override_blocks, &kv) != 0)
    return throw_error(env, es_last_error());
  napi_value obj;
  NAPI(napi_create_object(env, &obj));
  set_num(env, obj, "numBlocks", kv.num_blocks);
  set_num(env, obj, "kvBytes", (double)kv.kv_bytes);
  set_num(env, obj, "weightBytes", (double)kv.weight_bytes);
  set_num(env, obj, "workspaceBytes", (double)kv.workspace_bytes);
  set_num(env, obj, "freeBytes", (double)kv.free_bytes);
  set_num(env, obj, "totalBytes", (double)kv.total_bytes);
  return obj;
}

napi_value LastLogits(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Handle* h = get_handle(env, argv[0]);
  if (!h) return nullptr;
  if (h->busy) return throw_error(env, "lastLogits: a step is running");
  std::vector<int32_t> rows;
  if (!array_prop(env, argv[1], "rows", napi_int32_array, rows)) return nullptr;
  int32_t vocab;
  NAPI(napi_get_value_int32(env, argv[2], &vocab));
  std::vector<float> out(rows.size() * (size_t)vocab);
  if (es_model_last_logits(h->model, rows.data(), (int)rows.size(), out.data()) != 0)
    return throw_error(env, es_last_error());
  void* data;
  napi_value ab, ta;
  NAPI(napi_create_arraybuffer(env, out.size() * 4, &data, &ab));
  if (!out.empty()) std::memcpy(data, out.data(), out.size() * 4);
  NAPI(napi_create_typedarray(env, napi_float32_array, out.size(), ab, 0, &ta));
  return ta;
}

napi_value Destroy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  Handle* h = nullptr;
  NAPI(napi_get_value_external(env, argv[0], reinterpret_cast<void**>(&h)));
  if (h && h->busy) return throw_error(env, "cannot close the model while a step is running");
  if (h && h->model) es_model_destroy(h->model);
  if (h) h->model = nullptr;
  return nullptr;
}

}  // namespace

napi_value Execute(napi_env env, napi_callback_info info);  // execute.cc

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"deviceInfo", nullptr, DeviceInfo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"createModel", nullptr, CreateModel, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"uploadWeight", nullptr, UploadWeight, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"dummyWeights", nullptr, DummyWeights, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allocateKvCache", nullptr, AllocateKvCache, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"execute", nullptr, Execute, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lastLogits", nullptr, LastLogits, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"destroy", nullptr, Destroy, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
