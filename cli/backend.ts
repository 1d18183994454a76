import { backendOptionSpecs, parseBackendOptions } from '../backend/config.ts';
import { startBackend } from '../backend/serve.ts';
import { createLogger } from '../shared/log.ts';
import type { Command } from './command.ts';
import { wantsHelp } from './help.ts';
import { untilSignal } from './signals.ts';

const USAGE = `Usage: edgeserve backend --model DIR [options]

Serves a Hugging Face model folder over the OpenAI API (/v1/chat/completions, /v1/completions,
/v1/models), plus /tokenize, /detokenize, /health, /metrics and /version.`;

export const command: Command = {
  summary: 'serve a model over the OpenAI API (paged KV, continuous batching; cuda | cpu)',
  async run(argv) {
    if (
      wantsHelp(
        argv,
        USAGE,
        backendOptionSpecs,
        'SIGTERM/SIGINT drain: new requests get 503, in-flight ones finish, then exit 0.',
      )
    )
      return 0;
    const opts = parseBackendOptions(argv, process.env);
    const log = createLogger('backend', opts.logLevel as never);
    const backend = await startBackend(opts, log);
    // Before the line that says it is up (see untilSignal).
    const stopped = untilSignal();
    console.log(`edgeserve backend: ${backend.url} (model ${backend.context.modelName})`);
    const signal = await stopped;
    log.info('draining', { signal });
    await backend.close();
    log.info('stopped');
    return 0;
  },
};
