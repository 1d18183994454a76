/** `edgeserve bench serve|latency|throughput`: the benchmarks (see docs/benchmarks.md). */

import type { Command } from './command.ts';
import { wantsHelp } from './help.ts';

const USAGE = `Usage: edgeserve bench <serve|latency|throughput> [options]

  serve       stream a workload at an OpenAI-compatible server (ours, the edge, or a peer)
  latency     offline: one batch through the in-process engine, end to end, no HTTP
  throughput  offline: a whole workload through the in-process engine, no HTTP

Run 'edgeserve bench <mode> --help' for a mode's options.`;

async function serve(argv: string[]): Promise<number> {
  const { serveOptionSpecs, parseServeOptions, runServeCommand } = await import(
    '../bench/serve-command.ts'
  );
  if (wantsHelp(argv, 'Usage: edgeserve bench serve --base-url URL [options]', serveOptionSpecs))
    return 0;
  const result = await runServeCommand(parseServeOptions(argv, process.env));
  return result.metrics.completed > 0 ? 0 : 1;
}

async function offline(mode: 'latency' | 'throughput', argv: string[]): Promise<number> {
  const { offlineOptionSpecs, parseOfflineOptions, runOfflineCommand } = await import(
    '../bench/offline-command.ts'
  );
  if (wantsHelp(argv, `Usage: edgeserve bench ${mode} --model DIR [options]`, offlineOptionSpecs))
    return 0;
  await runOfflineCommand(mode, parseOfflineOptions(argv, process.env));
  return 0;
}

export const command: Command = {
  summary: 'serving (HTTP) and offline (engine) benchmarks',
  async run(argv) {
    const [mode, ...rest] = argv;
    if (mode === 'serve') return serve(rest);
    if (mode === 'latency' || mode === 'throughput') return offline(mode, rest);
    console.log(USAGE);
    return mode === undefined || mode === '--help' || mode === '-h' ? 0 : 2;
  },
};
