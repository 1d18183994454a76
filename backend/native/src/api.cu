// The C ABI: each entry point turns exceptions into -1 plus a thread-local message.
#include <cstring>
#include <string>
#include "model.h"

struct es_model {
  es::Model impl;
};

namespace {

thread_local std::string last_error;

template <typename F>
int guarded(F&& f) {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    last_error = e.what();
  } catch (...) {
    last_error = "unknown native error";
  }
  return -1;
}

}  // namespace

extern "C" {

const char* es_last_error(void) { return last_error.c_str(); }

int es_device_info_get(es_device_info* out) {
  return guarded([&] {
    std::memset(out, 0, sizeof(*out));
    CK(cudaGetDeviceCount(&out->device_count));
    es::require(out->device_count > 0, "no CUDA device is visible");
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    std::strncpy(out->name, prop.name, sizeof(out->name) - 1);
    out->major = prop.major;
    out->minor = prop.minor;
    out->multiprocessors = prop.multiProcessorCount;
    CK(cudaSetDevice(0));
    CK(cudaMemGetInfo(&out->free_bytes, &out->total_bytes));
  });
}

int es_model_create(const es_model_config* config, es_model** out) {
  es_model* m = new es_model();
  int rc = guarded([&] { es::model_init(m->impl, *config); });
  if (rc != 0) {
    es::model_free(m->impl);
    delete m;
    return rc;
  }
  *out = m;
  return 0;
}

int es_model_upload_weight(es_model* model, int kind, int layer, const void* data, int dtype,
                           size_t numel) {
  return guarded([&] { es::model_upload(model->impl, kind, layer, data, dtype, numel); });
}

int es_model_dummy_weights(es_model* model, uint64_t seed) {
  return guarded([&] { es::model_dummy(model->impl, seed); });
}

int es_model_allocate_kv(es_model* model, double gpu_memory_utilization, int num_blocks_override,
                         es_kv_info* out) {
  return guarded([&] {
    es::model_allocate_kv(model->impl, gpu_memory_utilization, num_blocks_override, out);
  });
}

int es_model_execute(es_model* model, const es_batch* batch, es_result* result) {
  return guarded([&] { es::model_execute(model->impl, *batch, *result); });
}

int es_model_last_logits(es_model* model, const int32_t* rows, int n, float* out) {
  return guarded([&] { es::model_last_logits(model->impl, rows, n, out); });
}

void es_model_destroy(es_model* model) {
  if (!model) return;
  es::model_free(model->impl);
  delete model;
}

}  // extern "C"
