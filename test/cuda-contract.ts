/**
 * The runner contract, wired to the CUDA runner: bf16 fixtures, a fixed KV pool (the contract
 * asserts its size), and a logit tolerance for bf16 arithmetic — logits computed through
 * different kernels (one-shot vs chunked prefill, decode vs prefill, other batch neighbours) may
 * differ by a few bf16 rounding steps.
 */
import { loadModelSpec } from '../backend/model/config.ts';
import { describeRunnerContract } from '../backend/runner/contract.ts';
import { createCudaRunner } from '../backend/runner/cuda/cuda-runner.ts';

export const cudaLogitTolerance = 0.05;

export function describeCudaContract(): void {
  describeRunnerContract(
    'cuda',
    async (modelDir, { numBlocks, blockSize }) => {
      const spec = await loadModelSpec(modelDir);
      return createCudaRunner({
        modelDir,
        spec,
        loadFormat: 'auto',
        blockSize,
        gpuMemoryUtilization: 0.5,
        maxNumSeqs: 16,
        maxNumBatchedTokens: 256,
        maxModelLen: 256,
        seed: 0,
        numGpuBlocksOverride: numBlocks,
      });
    },
    { dtype: 'BF16', logitTolerance: cudaLogitTolerance },
  );
}
