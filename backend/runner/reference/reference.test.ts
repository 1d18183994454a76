import { loadModelSpec } from '../../model/config.ts';
import { loadWeights } from '../../model/loader.ts';
import { describeRunnerContract } from '../contract.ts';
import { createReferenceRunner } from './reference-runner.ts';

describeRunnerContract('reference', async (dir, { numBlocks, blockSize }) => {
  const spec = await loadModelSpec(dir);
  return createReferenceRunner({
    spec,
    weights: await loadWeights(dir, spec),
    numBlocks,
    blockSize,
  });
});
