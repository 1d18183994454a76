import { describe, expect, it } from 'vitest';
import { ConfigError } from '../shared/config.ts';
import { configFromEnv, defaultConfig, validateConfig } from './config.ts';

const withUrls = (urls: string[]) => {
  const config = defaultConfig();
  config.auth.jwtSecret = 's'.repeat(32);
  config.routing.urls = urls;
  return config;
};

describe('backend discovery specs in the config', () => {
  it('accepts dns+ and srv+ specs beside plain URLs on Node', () => {
    const urls = [
      'http://10.0.0.5:8000',
      'dns+http://backend.ns.svc:8000',
      'srv+https://_h._tcp.b',
    ];
    expect(validateConfig(withUrls(urls)).routing.urls).toEqual(urls);
  });

  it('rejects a malformed spec as a ConfigError naming it', () => {
    expect(() => validateConfig(withUrls(['srv+http://_http._tcp.b:8000']))).toThrow(ConfigError);
    expect(() => validateConfig(withUrls(['dns+http://bad host:80']))).toThrow(/bad host/);
  });

  it('rejects discovery on Workers, which has no DNS API', () => {
    const env = { JWT_SECRET: 's'.repeat(32), BACKEND_URLS: 'http://a, dns+http://b.svc:8000' };
    expect(() => configFromEnv(env)).toThrow(ConfigError);
    expect(() => configFromEnv(env)).toThrow(/dns\+http:\/\/b\.svc:8000.*Workers/);
    expect(configFromEnv({ ...env, BACKEND_URLS: 'http://a' }).routing.urls).toEqual(['http://a']);
  });
});
