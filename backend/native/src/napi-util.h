// Helpers shared by the binding's files: the model handle, argument and typed-array reading.
#pragma once
#include <node_api.h>
#include <string>
#include <vector>
#include "../edgeserve-cuda.h"

namespace binding {

struct Handle {
  es_model* model = nullptr;
  bool busy = false;
};

#define NAPI(call)                                                   \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error(env, nullptr, "N-API call failed: " #call); \
      return nullptr;                                                \
    }                                                                \
  } while (0)

inline napi_value throw_error(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, msg.c_str());
  return nullptr;
}

inline bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want) {
    napi_throw_type_error(env, nullptr, "missing arguments");
    return false;
  }
  return true;
}

inline double num_prop(napi_env env, napi_value obj, const char* name, bool* ok) {
  napi_value v;
  double d = 0;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok ||
      napi_get_value_double(env, v, &d) != napi_ok) {
    napi_throw_type_error(env, nullptr, (std::string("expected number field ") + name).c_str());
    *ok = false;
  }
  return d;
}

// Copies a typed-array field into `out`, checking its element type.
template <typename T>
bool array_prop(napi_env env, napi_value obj, const char* name, napi_typedarray_type type,
                std::vector<T>& out) {
  napi_value v;
  bool is_ta = false;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok ||
      napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    napi_throw_type_error(env, nullptr, (std::string("expected typed array ") + name).c_str());
    return false;
  }
  napi_typedarray_type t;
  size_t len;
  void* data;
  napi_get_typedarray_info(env, v, &t, &len, &data, nullptr, nullptr);
  if (t != type) {
    napi_throw_type_error(env, nullptr, (std::string("wrong element type for ") + name).c_str());
    return false;
  }
  out.assign(static_cast<T*>(data), static_cast<T*>(data) + len);
  return true;
}

inline Handle* get_handle(napi_env env, napi_value v) {
  Handle* h = nullptr;
  if (napi_get_value_external(env, v, reinterpret_cast<void**>(&h)) != napi_ok || !h ||
      !h->model) {
    napi_throw_error(env, nullptr, "model handle is closed or invalid");
    return nullptr;
  }
  return h;
}

inline napi_value set_num(napi_env env, napi_value obj, const char* name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, name, v);
  return obj;
}

}  // namespace binding
