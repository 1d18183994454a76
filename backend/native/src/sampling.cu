// The first GPU sampler (EDGESERVE_CUDA_SAMPLING=v1, kept as the A/B baseline): penalties and
// bans edit a full copy of the logits, then one block per row takes the max and log-normaliser in
// two passes and draws from a probability row written out in full. sampling-fast.cu is the
// default. Semantics: backend/runner/sampling.ts.
#include "sampling-device.cuh"

namespace {

__global__ void __launch_bounds__(kThreads) sample_kernel(es::SampleArgs a) {
  __shared__ Shared sh;
  __shared__ float sums[kThreads];
  int row = blockIdx.x, n = a.vocab;
  int target = a.row_target[row];
  // Sampled rows report logprobs of the penalised logits, scored (prompt) rows of the raw ones.
  const float* src = (target < 0 ? a.work : a.raw_logits) + (size_t)row * n;
  int num_top = a.row_num_top[row];
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, src[i]);
  mx = block_max(mx, sh.scratch);
  float s = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += __expf(src[i] - mx);
  float lse = mx + logf(block_sum(s, sh.scratch));
  int chosen = target;
  if (target < 0) {
    float temperature = a.temperature[row];
    if (temperature <= 0.f)
      chosen = block_argmax(src, n, sh);
    else
      chosen = sample_row(src, a.probs + (size_t)row * n, n, temperature, a.top_k[row],
                          a.top_p[row], a.min_p[row], a.uniform[row], sh, sums);
  }
  if (threadIdx.x == 0) {
    a.out_token[row] = chosen;
    a.out_logprob[row] = src[chosen] - lse;
  }
  if (num_top > 0)
    top_logprobs(src, n, num_top, lse, a.out_top_ids + (size_t)row * ES_MAX_TOP_LOGPROBS,
                 a.out_top_logprobs + (size_t)row * ES_MAX_TOP_LOGPROBS, sh);
}

__global__ void penalty_kernel(es::SampleArgs a) {
  int row = blockIdx.x;
  apply_penalties_and_bans(a, row, a.work + (size_t)row * a.vocab);
}

}  // namespace

namespace es {

void launch_sampling(const SampleArgs& a, cudaStream_t stream) {
  if (a.num_rows == 0) return;
  CK(cudaMemcpyAsync(a.work, a.raw_logits, (size_t)a.num_rows * a.vocab * sizeof(float),
                     cudaMemcpyDeviceToDevice, stream));
  penalty_kernel<<<a.num_rows, 256, 0, stream>>>(a);
  CK_LAUNCH("penalty_kernel");
  sample_kernel<<<a.num_rows, kThreads, 0, stream>>>(a);
  CK_LAUNCH("sample_kernel");
}

}  // namespace es
