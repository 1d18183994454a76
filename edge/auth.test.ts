import { describe, expect, it } from 'vitest';
import { HttpError } from '../shared/errors.ts';
import { Authenticator } from './auth.ts';
import { DEFAULT_LIMITS, defaultConfig } from './config.ts';
import { mintDevToken } from './dev-token.ts';

describe('Authenticator', () => {
  it('still rejects a remembered token once it has expired', async () => {
    let nowMs = Date.UTC(2030, 0, 1);
    const config = { ...defaultConfig().auth, jwtSecret: 'k'.repeat(32) };
    const auth = new Authenticator(config, DEFAULT_LIMITS, () => nowMs);
    const token = await mintDevToken(config.jwtSecret, {
      sub: 'alice',
      ttlSeconds: 60,
      issuedAt: nowMs / 1000,
    });
    const headers = new Headers({ authorization: `Bearer ${token}` });
    expect((await auth.authenticate(headers)).sub).toBe('alice');
    expect((await auth.authenticate(headers)).sub).toBe('alice');
    nowMs += 120_000;
    const err = await auth.authenticate(headers).catch((e) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/expired/);
  });
});
