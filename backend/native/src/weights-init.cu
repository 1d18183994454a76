// Weight preparation on the GPU: checkpoint dtypes to bf16, and random weights generated in
// place (`--load-format dummy`) so large shapes need no files and no host-side generation.
#include "common.cuh"
#include "kernels.h"
#include <cuda_fp16.h>

namespace {

__global__ void to_bf16_kernel(const void* src, int dtype, bf16* dst, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    float v = dtype == 0 ? static_cast<const float*>(src)[i]
                         : __half2float(static_cast<const __half*>(src)[i]);
    dst[i] = __float2bfloat16(v);
  }
}

__device__ __forceinline__ uint32_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return (uint32_t)x;
}

__global__ void dummy_fill_kernel(bf16* dst, size_t n, uint64_t seed, float center, float range) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    float u = mix(seed ^ (i * 0x9e3779b97f4a7c15ull)) * (2.f / 4294967296.f) - 1.f;
    dst[i] = __float2bfloat16(center + range * u);
  }
}

}  // namespace

namespace es {

void launch_to_bf16(const void* src, int dtype, bf16* dst, size_t n, cudaStream_t stream) {
  require(dtype == 0 || dtype == 1, "to_bf16: source must be f32 or f16");
  if (n == 0) return;
  to_bf16_kernel<<<1024, 256, 0, stream>>>(src, dtype, dst, n);
  CK_LAUNCH("to_bf16_kernel");
}

void launch_dummy_fill(bf16* dst, size_t n, uint64_t seed, float center, float range,
                       cudaStream_t stream) {
  if (n == 0) return;
  dummy_fill_kernel<<<2048, 256, 0, stream>>>(dst, n, seed, center, range);
  CK_LAUNCH("dummy_fill_kernel");
}

}  // namespace es
