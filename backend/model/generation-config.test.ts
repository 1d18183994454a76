import { describe, expect, it } from 'vitest';
import { samplingDefaults, withSamplingDefaults } from './generation-config.ts';

describe('generation_config sampling defaults', () => {
  it('takes the sampling fields a model ships with', () => {
    expect(
      samplingDefaults({
        do_sample: true,
        temperature: 0.8,
        top_p: 0.95,
        max_new_tokens: 256,
        eos_token_id: [2],
      }),
    ).toEqual({ temperature: 0.8, top_p: 0.95 });
  });

  it('ignores them when the model asks for greedy decoding', () => {
    expect(samplingDefaults({ do_sample: false, temperature: 0.6 })).toEqual({});
  });

  it('fills only the fields a request leaves out or sets to null', () => {
    const body = withSamplingDefaults(
      { temperature: 0, top_p: null },
      { temperature: 0.8, top_p: 0.95, top_k: 40 },
    );
    expect(body).toEqual({ temperature: 0, top_p: 0.95, top_k: 40 });
  });
});
