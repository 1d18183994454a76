import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ASSETS_MODULE, buildPlaygroundModule } from '../../tools/build-playground.ts';

describe('edge/playground/assets.ts', () => {
  it('is what tools/build-playground.ts builds from the sources (run it after editing src/)', async () => {
    expect(readFileSync(ASSETS_MODULE, 'utf8')).toBe(await buildPlaygroundModule());
  });
});
