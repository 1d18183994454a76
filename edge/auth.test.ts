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

  it('accepts a remembered token exactly as long as a fresh verification would, never past exp', async () => {
    const startMs = Date.UTC(2030, 0, 1);
    let nowMs = startMs;
    const config = { ...defaultConfig().auth, jwtSecret: 'k'.repeat(32) };
    const token = await mintDevToken(config.jwtSecret, {
      sub: 'alice',
      ttlSeconds: 10,
      issuedAt: startMs / 1000,
    });
    const headers = new Headers({ authorization: `Bearer ${token}` });
    const remembering = new Authenticator(config, DEFAULT_LIMITS, () => nowMs);
    await remembering.authenticate(headers);
    const accepted = (auth: Authenticator) =>
      auth.authenticate(headers).then(
        () => true,
        () => false,
      );
    // Last accepted second (exp + tolerance - 1 ms) and the first refused one, well within the
    // cache's own 60 s lifetime: the remembered answer must match a fresh verification at both.
    const limitMs = startMs + (10 + config.clockToleranceSeconds) * 1000;
    for (const at of [limitMs - 1, limitMs, limitMs + 1]) {
      nowMs = at;
      const fresh = new Authenticator(config, DEFAULT_LIMITS, () => nowMs);
      const expected = await accepted(fresh);
      expect(expected).toBe(at < limitMs);
      expect(await accepted(remembering)).toBe(expected);
    }
  });
});
