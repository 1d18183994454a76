/** `edgeserve edge`: the gateway on Node, in front of one or more OpenAI-compatible backends. */

import { startNodeEdge } from '../edge/node.ts';
import { type OptionSpecs, parseOptions } from '../shared/config.ts';
import type { Command } from './command.ts';
import { wantsHelp } from './help.ts';
import { untilSignal } from './signals.ts';

const specs = {
  backend: {
    type: 'list',
    meta: 'URL[,URL…]',
    help: 'Backend base URLs, comma-separated (overrides BACKEND_URLS)',
  },
  host: { type: 'string', env: 'HOST', default: '127.0.0.1', help: 'Address to listen on' },
  port: { type: 'int', env: 'PORT', default: 8787, min: 0, max: 65535, help: 'Port to listen on' },
  config: {
    type: 'string',
    meta: 'FILE',
    help: 'JSON config: filters, maskers, limits, cache, apiKeys (overrides EDGE_CONFIG)',
  },
  tlsCert: { type: 'string', meta: 'FILE', help: 'PEM certificate: serve HTTPS (with --tls-key)' },
  tlsKey: { type: 'string', meta: 'FILE', help: 'PEM private key for --tls-cert' },
} satisfies OptionSpecs;

const FOOTER = `Environment: JWT_SECRET | JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE, BACKEND_URLS,
BACKEND_API_KEY, EDGE_CONFIG (path of the JSON config file).`;

export const command: Command = {
  summary: 'Run the edge gateway (auth, limits, cache, routing) on Node',
  async run(argv) {
    if (wantsHelp(argv, 'Usage: edgeserve edge [options]', specs, FOOTER)) return 0;
    const opts = parseOptions(specs, argv, process.env);
    if (!opts.tlsCert !== !opts.tlsKey) {
      console.error('edgeserve edge: --tls-cert and --tls-key go together');
      return 2;
    }
    const edge = await startNodeEdge({
      env: process.env,
      configFile: opts.config,
      backendUrls: opts.backend,
      host: opts.host,
      port: opts.port,
      tlsCert: opts.tlsCert,
      tlsKey: opts.tlsKey,
    });
    // Before the line that says it is up (see untilSignal).
    const stopped = untilSignal();
    const backends = edge.app.services.config.routing.urls;
    console.log(JSON.stringify({ msg: 'listening', url: edge.url, backends }));
    await stopped;
    await edge.close();
    return 0;
  },
};
