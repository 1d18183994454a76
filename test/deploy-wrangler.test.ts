/**
 * wrangler.toml's environments: each one's bindings pass the edge's own config validation (the
 * same `configFromEnv` the Worker runs at its first request, with a stand-in secret), keep secrets
 * out of [vars], and `wrangler deploy --dry-run` bundles the Worker offline, with no login.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { unstable_readConfig } from 'wrangler';
import { configFromEnv } from '../edge/config.ts';
import { readRepo, repoPath } from './deploy-helpers.ts';

const run = promisify(execFile);
const ENVS = ['dev', 'staging', 'production'] as const;
const SECRETS = ['JWT_SECRET', 'BACKEND_API_KEY'];
const outRoot = mkdtempSync(join(tmpdir(), 'deploy-wrangler-'));
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

const read = (env: string) =>
  unstable_readConfig({ config: repoPath('wrangler.toml'), env }, { hideWarnings: true });
const varsOf = (env: string) => read(env).vars as Record<string, string>;

/** No account, token or telemetry: a dry run must need none of them. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' };
  for (const key of Object.keys(env)) if (/^CLOUDFLARE_|^CF_/.test(key)) delete env[key];
  return env;
}

describe('wrangler.toml environments', () => {
  it.each(ENVS)(
    '%s: bindings pass the edge config validation, secrets stay out of [vars]',
    (env) => {
      const config = read(env);
      const vars = varsOf(env);
      expect(config.main).toBe(repoPath('edge', 'worker.ts'));
      for (const secret of SECRETS) expect(Object.keys(vars)).not.toContain(secret);
      const edge = configFromEnv(
        { ...vars, JWT_SECRET: 'stand-in-for-the-secret' },
        vars.EDGE_CONFIG,
      );
      expect(edge.routing.urls.length).toBeGreaterThan(0);
    },
  );

  it('gives each environment its own Worker name, and production only HTTPS origins', () => {
    const names = ENVS.map((env) => read(env).name);
    expect(new Set(names).size).toBe(ENVS.length);
    const production = read('production');
    expect(production.workers_dev).toBe(false);
    for (const url of varsOf('production').BACKEND_URLS!.split(','))
      expect(new URL(url).protocol).toBe('https:');
  });

  it('documents `wrangler secret put` for every secret, per environment', () => {
    const text = readRepo('wrangler.toml') + readRepo('docs/deploy.md');
    for (const secret of SECRETS)
      expect(text).toMatch(new RegExp(`wrangler secret put ${secret} --env production`));
  });

  // One environment: the bundle is the same code for all; their configs are checked above.
  it('production: `wrangler deploy --dry-run` bundles the Worker offline', async () => {
    const env = 'production';
    const outdir = join(outRoot, env);
    const wrangler = repoPath('node_modules', 'wrangler', 'bin', 'wrangler.js');
    const { stdout } = await run(
      process.execPath,
      [wrangler, 'deploy', '--dry-run', '--outdir', outdir, '--env', env],
      { cwd: repoPath(), env: offlineEnv(), timeout: 60_000 },
    );
    expect(stdout).toContain('--dry-run: exiting now.');
    expect(existsSync(join(outdir, 'worker.js'))).toBe(true);
    for (const name of Object.keys(varsOf(env))) expect(stdout).toContain(`env.${name} (`);
  });
});
