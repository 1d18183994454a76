/** `edgeserve build-native` says exactly what is missing instead of failing inside nvcc. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planNativeBuild } from '../cli/build-native.ts';

describe('build-native toolchain check', () => {
  it('names nvcc, the CUDA and cuBLAS headers and node_api.h when none can be found', () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-cuda-'));
    const plan = planNativeBuild(
      { PATH: empty, CUDA_HOME: empty, EDGESERVE_NAPI_INCLUDE: empty },
      join(empty, 'bin', 'node'),
    );
    expect(plan.nvcc).toBeNull();
    const text = plan.missing.join('\n');
    for (const what of ['nvcc', 'cuda_runtime.h', 'cublas_v2.h']) expect(text).toContain(what);
    expect(plan.missing.some((m) => m.includes(empty))).toBe(true);
  });
});
