/** The CUDA runner under vitest: the shared contract suite, skipped cleanly without a GPU. */
import { describe } from 'vitest';
import { cudaAvailable } from '../backend/runner/cuda/cuda-runner.ts';
import { describeCudaContract } from './cuda-contract.ts';

describe.skipIf(!cudaAvailable().ok)('cuda runner on a GPU', () => {
  describeCudaContract();
});
