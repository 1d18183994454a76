/**
 * The shared runner contract suite against the CUDA runner, runnable on the GPU host without
 * vitest (bundled with 'vitest' aliased to vitest-shim.ts). test/cuda-runner.test.ts runs the
 * same suite under vitest where a GPU is present. Usage: node contract.mjs OUT.json
 */
import { writeFileSync } from 'node:fs';
import { describeCudaContract } from '../../test/cuda-contract.ts';
import { runRegistered } from './vitest-shim.ts';

describeCudaContract();
const result = await runRegistered();
console.log(`${result.passed} passed, ${result.failed} failed`);
writeFileSync(
  process.argv[2] ?? 'contract.json',
  JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2),
);
