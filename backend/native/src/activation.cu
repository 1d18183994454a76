// SwiGLU: silu(gate) * up over the fused gate_up projection, rounded like torch's bf16 ops.
#include "common.cuh"
#include "kernels.h"

namespace {

__global__ void silu_mul_kernel(const bf16* __restrict__ gate_up, bf16* __restrict__ out,
                                int intermediate) {
  size_t t = blockIdx.y;
  const bf16* g = gate_up + t * 2 * intermediate;
  const bf16* u = g + intermediate;
  bf16* o = out + t * intermediate;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < intermediate;
       i += gridDim.x * blockDim.x) {
    float x = __bfloat162float(g[i]);
    float s = round_bf16(x / (1.f + expf(-x)));
    o[i] = __float2bfloat16(s * __bfloat162float(u[i]));
  }
}

}  // namespace

namespace es {

void launch_silu_mul(const bf16* gate_up, bf16* out, int num_tokens, int intermediate,
                     cudaStream_t stream) {
  if (num_tokens == 0) return;
  require(num_tokens <= 65535, "silu_mul: too many tokens for one launch");
  int blocks_x = (intermediate + 255) / 256;
  if (blocks_x > 16) blocks_x = 16;
  silu_mul_kernel<<<dim3(blocks_x, num_tokens), 256, 0, stream>>>(gate_up, out, intermediate);
  CK_LAUNCH("silu_mul_kernel");
}

}  // namespace es
