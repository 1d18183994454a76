/**
 * Sampling defaults from a model's generation_config.json (temperature, top_p, top_k, min_p,
 * repetition_penalty), applied to requests that leave those fields out — as vLLM does by default,
 * so a model is served the way its authors tuned it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Request field name → default value. */
export type SamplingDefaults = Record<string, number>;

const FIELDS = ['temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty'] as const;

export function samplingDefaults(generationConfig: unknown): SamplingDefaults {
  const out: SamplingDefaults = {};
  if (!generationConfig || typeof generationConfig !== 'object') return out;
  const config = generationConfig as Record<string, unknown>;
  // do_sample: false means the authors meant greedy; their temperature etc. then do not apply.
  if (config.do_sample === false) return out;
  for (const field of FIELDS) {
    const v = config[field];
    if (typeof v === 'number' && Number.isFinite(v)) out[field] = v;
  }
  return out;
}

export async function loadSamplingDefaults(dir: string): Promise<SamplingDefaults> {
  try {
    return samplingDefaults(
      JSON.parse(await readFile(join(dir, 'generation_config.json'), 'utf8')),
    );
  } catch {
    return {};
  }
}

/** The request body with each absent (or null) sampling field filled from the defaults. */
export function withSamplingDefaults<T extends object>(body: T, defaults: SamplingDefaults): T {
  const out = { ...body } as Record<string, unknown>;
  for (const [field, value] of Object.entries(defaults))
    if (out[field] === undefined || out[field] === null) out[field] = value;
  return out as T;
}
