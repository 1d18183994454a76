/**
 * `npm start`: the embedded default — a backend (CPU runner, the demo model) and the edge in
 * front of it, both on loopback, with a dev token ready to paste. Ctrl-C drains both.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { backendOptionSpecs } from '../backend/config.ts';
import { startBackend } from '../backend/serve.ts';
import { mintDevToken } from '../edge/dev-token.ts';
import { startNodeEdge } from '../edge/node.ts';
import { type OptionSpecs, parseOptions } from '../shared/config.ts';
import { createLogger } from '../shared/log.ts';
import type { Command } from './command.ts';
import { wantsHelp } from './help.ts';
import { untilSignal } from './signals.ts';

export const DEMO_MODEL_DIR = fileURLToPath(new URL('../models/demo', import.meta.url));

const specs = {
  model: { type: 'string', meta: 'DIR', default: DEMO_MODEL_DIR, help: 'model folder' },
  device: { ...backendOptionSpecs.device, default: 'cpu', env: undefined },
  quantization: backendOptionSpecs.quantization,
  host: {
    type: 'string',
    default: '127.0.0.1',
    env: 'HOST',
    help: 'address both servers listen on',
  },
  backendPort: { type: 'int', default: 8000, min: 0, max: 65535, help: 'backend port' },
  edgePort: { type: 'int', default: 8787, min: 0, max: 65535, help: 'edge port' },
  sub: { type: 'string', default: 'dev', help: "the dev token's subject" },
  ttl: { type: 'duration', default: 86400, help: "the dev token's lifetime" },
  logLevel: backendOptionSpecs.logLevel,
} satisfies OptionSpecs;

export const command: Command = {
  summary: 'run the embedded default: backend (cpu, demo model) + edge, with a dev token',
  async run(argv) {
    if (wantsHelp(argv, 'Usage: edgeserve start [options]   (what `npm start` runs)', specs))
      return 0;
    const opts = parseOptions(specs, argv, process.env);
    if (!existsSync(opts.model)) throw new Error(`model folder not found: ${opts.model}`);
    const log = createLogger('start', opts.logLevel as never);
    const backendOpts = parseOptions(backendOptionSpecs, [], {});
    const backend = await startBackend(
      {
        ...backendOpts,
        model: opts.model,
        device: opts.device,
        quantization: opts.quantization,
        host: opts.host,
        port: opts.backendPort,
        logLevel: opts.logLevel,
      },
      createLogger('backend', opts.logLevel as never),
    );
    // A secret from the environment keeps tokens valid across restarts; otherwise one per run.
    const secret = process.env.JWT_SECRET || randomBytes(32).toString('base64url');
    const edge = await startNodeEdge({
      env: { ...process.env, JWT_SECRET: secret },
      backendUrls: [backend.url],
      host: opts.host,
      port: opts.edgePort,
    });
    const token = await mintDevToken(secret, { sub: opts.sub, ttlSeconds: opts.ttl });
    const model = backend.context.modelName;
    // Before the line that says it is up (see untilSignal).
    const stopped = untilSignal();
    console.log(
      [
        '',
        `edgeserve is up — model '${model}' on ${String(backend.context.runnerInfo.device)}`,
        `  backend  ${backend.url}   (OpenAI API, no auth on loopback)`,
        `  edge     ${edge.url}   (JWT auth, filters, masking, cache, rate limits)`,
        `  open     ${edge.url}/   (playground; dashboard at ${edge.url}/dashboard — paste the token below)`,
        '',
        `  Authorization: Bearer ${token}`,
        '',
        `  curl ${edge.url}/v1/chat/completions -H "Authorization: Bearer ${token}" \\`,
        `    -H 'content-type: application/json' \\`,
        `    -d '{"model":"${model}","messages":[{"role":"user","content":"In the beginning"}],"max_tokens":48}'`,
        '',
        'Ctrl-C drains and stops both.',
      ].join('\n'),
    );
    const signal = await stopped;
    log.info('draining', { signal });
    await edge.close();
    await backend.close();
    return 0;
  },
};
