// SwiGLU: silu(gate) * up over the fused gate_up projection, rounded like torch's bf16 ops.
// The default kernel gives each thread 8 consecutive elements (16-byte loads of gate and up, one
// 16-byte store) over a flat grid of tokens × chunks; the first one (EDGESERVE_CUDA_POINTWISE=v1,
// and any width not a multiple of 8) does one element per thread. The per-element arithmetic is
// the same, so the outputs are bit-identical.
#include <cstdint>
#include "common.cuh"
#include "kernels.h"

namespace {

__device__ __forceinline__ float silu_times(float g, float u) {
  float s = round_bf16(g / (1.f + expf(-g)));
  return s * u;
}

__global__ void silu_mul_kernel(const bf16* __restrict__ gate_up, bf16* __restrict__ out,
                                int intermediate, size_t chunks) {
  size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= chunks) return;
  int per_row = intermediate / 8;
  size_t t = c / per_row;
  int i = (int)(c % per_row) * 8;
  const bf16* g = gate_up + t * 2 * intermediate + i;
  uint4 gv = *reinterpret_cast<const uint4*>(g);
  uint4 uv = *reinterpret_cast<const uint4*>(g + intermediate);
  const __nv_bfloat162* g2 = reinterpret_cast<const __nv_bfloat162*>(&gv);
  const __nv_bfloat162* u2 = reinterpret_cast<const __nv_bfloat162*>(&uv);
  uint4 ov;
  __nv_bfloat162* o2 = reinterpret_cast<__nv_bfloat162*>(&ov);
#pragma unroll
  for (int k = 0; k < 4; k++) {
    float2 gf = __bfloat1622float2(g2[k]), uf = __bfloat1622float2(u2[k]);
    o2[k] = __floats2bfloat162_rn(silu_times(gf.x, uf.x), silu_times(gf.y, uf.y));
  }
  *reinterpret_cast<uint4*>(out + t * intermediate + i) = ov;
}

__global__ void silu_mul_kernel_v1(const bf16* __restrict__ gate_up, bf16* __restrict__ out,
                                   int intermediate) {
  size_t t = blockIdx.y;
  const bf16* g = gate_up + t * 2 * intermediate;
  const bf16* u = g + intermediate;
  bf16* o = out + t * intermediate;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < intermediate;
       i += gridDim.x * blockDim.x)
    o[i] = __float2bfloat16(silu_times(__bfloat162float(g[i]), __bfloat162float(u[i])));
}

}  // namespace

namespace es {

void launch_silu_mul(const bf16* gate_up, bf16* out, int num_tokens, int intermediate,
                     cudaStream_t stream, bool v1) {
  if (num_tokens == 0) return;
  bool aligned = ((reinterpret_cast<uintptr_t>(gate_up) | reinterpret_cast<uintptr_t>(out)) & 15) == 0;
  if (!v1 && intermediate % 8 == 0 && aligned) {
    size_t chunks = (size_t)num_tokens * (intermediate / 8);
    size_t blocks = (chunks + 255) / 256;
    silu_mul_kernel<<<(unsigned)blocks, 256, 0, stream>>>(gate_up, out, intermediate, chunks);
    CK_LAUNCH("silu_mul_kernel");
    return;
  }
  require(num_tokens <= 65535, "silu_mul: too many tokens for one launch");
  int blocks_x = (intermediate + 255) / 256;
  if (blocks_x > 16) blocks_x = 16;
  silu_mul_kernel_v1<<<dim3(blocks_x, num_tokens), 256, 0, stream>>>(gate_up, out, intermediate);
  CK_LAUNCH("silu_mul_kernel_v1");
}

}  // namespace es
