/**
 * Is the backend's HTTP loop free while the model works? Starts `edgeserve backend` (default: the
 * CPU runner on the demo model) as its own process, keeps N streams generating, and probes
 * /health meanwhile. Prints the probe latency percentiles and writes JSON.
 *
 *   npx tsx bench/responsiveness.ts [--device cpu] [--model models/demo] [--streams 16]
 *        [--probes 100] [--max-tokens 256] [--out bench/results/responsiveness.json]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseOptions } from '../shared/config.ts';
import { readSse } from '../shared/sse.ts';
import { percentile } from './metrics.ts';

const opts = parseOptions(
  {
    device: { type: 'string', default: 'cpu', help: 'backend runner' },
    model: { type: 'string', default: 'models/demo', help: 'model folder' },
    streams: { type: 'int', default: 16, min: 1, help: 'concurrent generating streams' },
    probes: { type: 'int', default: 100, min: 1, help: 'health probes' },
    intervalMs: { type: 'int', default: 50, min: 1, help: 'pause between probes' },
    maxTokens: { type: 'int', default: 256, min: 1, help: 'tokens per stream' },
    out: { type: 'string', help: 'JSON result file' },
  },
  process.argv.slice(2),
);

const child = spawn(
  process.execPath,
  [
    'bin/edgeserve.js',
    'backend',
    '--model',
    opts.model,
    '--device',
    opts.device,
    '--port',
    '0',
    '--log-level',
    'warn',
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let banner = '';
child.stdout.on('data', (d) => {
  banner += d;
});
while (!/http:\/\/\S+/.test(banner)) await once(child.stdout, 'data');
const url = /(http:\/\/\S+)/.exec(banner)![1]!;
const model = /\(model (\S+)\)/.exec(banner)![1]!;

let tokens = 0;
async function stream(i: number): Promise<void> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      prompt: `Stream ${i}: And it came to pass`,
      max_tokens: opts.maxTokens,
      ignore_eos: true,
      stream: true,
    }),
  });
  for await (const _ of readSse(res.body!)) tokens++;
}

const streams = Array.from({ length: opts.streams }, (_, i) => stream(i));
while (tokens < opts.streams) await new Promise((r) => setTimeout(r, 20)); // every stream is generating
const latenciesMs: number[] = [];
let tokensDuringProbes = -tokens;
const probeStart = performance.now();
for (let i = 0; i < opts.probes; i++) {
  const t0 = performance.now();
  const res = await fetch(`${url}/health`);
  await res.arrayBuffer();
  latenciesMs.push(performance.now() - t0);
  await new Promise((r) => setTimeout(r, opts.intervalMs));
}
tokensDuringProbes += tokens;
const probeSeconds = (performance.now() - probeStart) / 1000;
child.kill('SIGTERM');
await Promise.allSettled(streams);
await once(child, 'exit');

latenciesMs.sort((a, b) => a - b);
const result = {
  benchmark: 'responsiveness',
  date: new Date().toISOString(),
  device: opts.device,
  model: opts.model,
  streams: opts.streams,
  loadAverage: loadavg(),
  healthLatencyMs: {
    p50: percentile(latenciesMs, 50),
    p90: percentile(latenciesMs, 90),
    p99: percentile(latenciesMs, 99),
    max: latenciesMs.at(-1)!,
  },
  generationTokensPerSecondDuringProbes: tokensDuringProbes / probeSeconds,
};
const f = (v: number) => v.toFixed(1).padStart(7);
console.log(`/health while ${opts.streams} streams generate (${opts.device}, ${opts.model}):`);
console.log(
  `  p50 ${f(result.healthLatencyMs.p50)} ms  p90 ${f(result.healthLatencyMs.p90)} ms  p99 ${f(result.healthLatencyMs.p99)} ms  max ${f(result.healthLatencyMs.max)} ms`,
);
console.log(
  `  generation meanwhile: ${result.generationTokensPerSecondDuringProbes.toFixed(1)} tokens/s; load average ${result.loadAverage.map((l) => l.toFixed(1)).join(' ')}`,
);
if (opts.out) {
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
}
