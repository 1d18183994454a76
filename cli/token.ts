/** `edgeserve token`: mints a dev HS256 JWT for the configured JWT_SECRET. */

import { mintDevToken } from '../edge/dev-token.ts';
import { ConfigError, type OptionSpecs, parseOptions } from '../shared/config.ts';
import type { Command } from './command.ts';
import { wantsHelp } from './help.ts';

const specs = {
  sub: {
    type: 'string',
    default: 'dev',
    help: "The token's subject (rate-limit key, cache scope)",
  },
  ttl: { type: 'duration', default: 3600, help: 'Lifetime, e.g. 15m, 1h, 7d' },
  secret: { type: 'string', env: 'JWT_SECRET', help: 'HS256 secret (prefer the env var)' },
  issuer: { type: 'string', env: 'JWT_ISSUER', help: 'iss claim' },
  audience: { type: 'string', env: 'JWT_AUDIENCE', help: 'aud claim' },
} satisfies OptionSpecs;

export const command: Command = {
  summary: 'Mint a dev JWT for the configured JWT_SECRET',
  async run(argv) {
    if (wantsHelp(argv, 'Usage: edgeserve token [--sub NAME] [--ttl 1h]', specs)) return 0;
    const opts = parseOptions(specs, argv, process.env);
    if (!opts.secret) throw new ConfigError('JWT_SECRET is not set (or pass --secret)');
    if (opts.ttl <= 0) throw new ConfigError('--ttl must be positive');
    const token = await mintDevToken(opts.secret, {
      sub: opts.sub,
      ttlSeconds: opts.ttl,
      issuer: opts.issuer,
      audience: opts.audience,
    });
    console.log(token);
    return 0;
  },
};
