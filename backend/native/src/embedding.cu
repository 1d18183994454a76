// Token embedding lookup and row gathers (the rows whose logits a step needs).
#include "common.cuh"
#include "kernels.h"

namespace {

// Copies rows of `hidden` bf16 values in 16-byte pieces when aligned, else element-wise.
__global__ void gather_kernel(const bf16* __restrict__ src, const int32_t* __restrict__ index,
                              bf16* __restrict__ out, int hidden, int limit) {
  int row = blockIdx.x;
  int from = index[row];
  if (from < 0 || from >= limit) from = 0;  // TS validates ids; never read out of bounds
  const bf16* s = src + (size_t)from * hidden;
  bf16* o = out + (size_t)row * hidden;
  if (hidden % 8 == 0) {
    const uint4* s4 = reinterpret_cast<const uint4*>(s);
    uint4* o4 = reinterpret_cast<uint4*>(o);
    for (int i = threadIdx.x; i < hidden / 8; i += blockDim.x) o4[i] = s4[i];
  } else {
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) o[i] = s[i];
  }
}

}  // namespace

namespace es {

void launch_embedding(const int32_t* token_ids, const bf16* table, bf16* out, int num_tokens,
                      int hidden, int vocab, cudaStream_t stream) {
  if (num_tokens == 0) return;
  gather_kernel<<<num_tokens, 128, 0, stream>>>(table, token_ids, out, hidden, vocab);
  CK_LAUNCH("embedding gather_kernel");
}

void launch_gather_rows(const bf16* src, const int32_t* rows, bf16* out, int num_rows, int hidden,
                        cudaStream_t stream) {
  if (num_rows == 0) return;
  gather_kernel<<<num_rows, 128, 0, stream>>>(src, rows, out, hidden, 1 << 30);
  CK_LAUNCH("gather_rows gather_kernel");
}

}  // namespace es
