import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { arrivalTimes } from './arrivals.ts';
import type { ServeResult } from './report.ts';
import { createRng } from './rng.ts';
import { parseServeOptions, runServeCommand } from './serve-command.ts';
import { type StubOptions, type StubServer, startStubServer } from './stub-openai-server.ts';

let stub: StubServer | null = null;
afterEach(async () => {
  await stub?.close();
  stub = null;
});

async function bench(stubOptions: StubOptions, flags: string[]): Promise<ServeResult> {
  stub = await startStubServer(stubOptions);
  const options = parseServeOptions(['--base-url', stub.url, '--quiet', ...flags], {});
  return runServeCommand(options, () => {});
}

const small = ['--dataset', 'random', '--num-prompts', '12', '--random-input-len', '20'];
const smallOut = ['--random-output-len', '6', '--random-range-ratio', '0.5'];

describe('bench serve against a stub OpenAI server', () => {
  it('sends token-id prompts, counts tokens from usage and writes the JSON result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-serve-'));
    const version = { version: '9.9', device: 'stub-device', vocab_size: 321 };
    const result = await bench({ version }, [
      ...small,
      ...smallOut,
      '--max-concurrency',
      '3',
      '--ignore-eos',
      '--goodput',
      'ttft:60000',
      'tpot:60000',
      '--label',
      'stub',
      '--server-info',
      '{"max_num_seqs":3}',
      '--result-dir',
      dir,
      '--result-file',
      'out.json',
    ]);
    const onDisk = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as ServeResult;
    expect(onDisk.metrics.completed).toBe(12);
    expect(onDisk.schema).toBe('edgeserve.bench.serve/1');
    expect(onDisk.device).toBe('stub-device');
    expect(onDisk.label).toBe('stub');
    expect(onDisk.server).toEqual({ version, info: { max_num_seqs: 3 } });
    expect(onDisk.workload).toMatchObject({
      seed: 0,
      vocabSize: 321,
      requestRate: 'inf',
      maxConcurrency: 3,
    });
    expect(onDisk.target).toMatchObject({
      model: 'stub-model',
      promptFormat: 'tokens',
      ignoreEos: true,
    });
    expect(onDisk.target).not.toHaveProperty('apiKey');
    expect(typeof onDisk.gitCommit === 'string' || onDisk.gitCommit === null).toBe(true);
    expect(Date.parse(onDisk.date)).not.toBeNaN();

    const bodies = stub!.bodies;
    expect(bodies).toHaveLength(12);
    expect(bodies.every((b) => Array.isArray(b.prompt) && b.ignore_eos === true)).toBe(true);
    const promptIds = bodies.flatMap((b) => b.prompt as number[]);
    expect(Math.max(...promptIds)).toBeLessThan(321);
    const sentOutput = bodies.reduce((n, b) => n + Number(b.max_tokens), 0);
    const sentInput = bodies.reduce((n, b) => n + (b.prompt as number[]).length, 0);
    expect(result.metrics.totalOutputTokens).toBe(sentOutput);
    expect(result.metrics.totalInputTokens).toBe(sentInput);
    expect(result.metrics.totalCachedTokens).toBe(0);
    expect(result.metrics.peakConcurrency).toBeLessThanOrEqual(3);
    expect(result.metrics.goodput?.goodRequests).toBe(12);
    expect(result.requests).toHaveLength(12);
    for (const r of result.requests) {
      expect(r.ok).toBe(true);
      expect(r.ttftMs).toBeGreaterThan(0);
      expect(r.e2eMs).toBeGreaterThanOrEqual(r.ttftMs);
      expect(r.itlMs).toBeUndefined();
    }
    // Every token after the first arrives as its own chunk: ITLs number output - 1 per request.
    const detailed = await bench({}, [
      ...small,
      ...smallOut,
      '--save-detailed',
      '--vocab-size',
      '50',
    ]);
    for (const r of detailed.requests) expect(r.itlMs).toHaveLength(r.outputTokens - 1);
  });

  it('falls back to word prompts when the server refuses token ids, and counts chunks without usage', async () => {
    const result = await bench({ rejectTokenPrompts: true, omitUsage: true }, [
      ...small,
      ...smallOut,
    ]);
    expect(result.target.promptFormat).toBe('text');
    expect(stub!.bodies.every((b) => typeof b.prompt === 'string')).toBe(true);
    const sentOutput = stub!.bodies.reduce((n, b) => n + Number(b.max_tokens), 0);
    expect(result.metrics.completed).toBe(12);
    expect(result.metrics.totalOutputTokens).toBe(sentOutput);
    expect(result.metrics.totalCachedTokens).toBeNull();
  });

  it('measures the chat endpoint with a shared system prompt from the prefix dataset', async () => {
    const result = await bench({}, [
      '--endpoint',
      '/v1/chat/completions',
      '--dataset',
      'prefix',
      '--num-prompts',
      '6',
      '--prefix-repetition-num-prefixes',
      '2',
      '--prefix-repetition-prefix-len',
      '8',
      '--prefix-repetition-suffix-len',
      '4',
      '--prefix-repetition-output-len',
      '5',
    ]);
    expect(result.metrics.completed).toBe(6);
    expect(result.metrics.totalOutputTokens).toBe(30);
    const systems = stub!.bodies.map((b) => (b.messages as { content: string }[])[0]!.content);
    expect(new Set(systems).size).toBe(2);
  });

  it('reports failed requests apart from completed ones', async () => {
    const result = await bench({ failIndices: new Set([0, 5]) }, [
      ...small,
      ...smallOut,
      '--max-concurrency',
      '1',
    ]);
    expect(result.metrics.completed).toBe(10);
    expect(result.metrics.failed).toBe(2);
    expect(result.requests.filter((r) => !r.ok).map((r) => r.error)).toEqual([
      expect.stringContaining('HTTP 500'),
      expect.stringContaining('HTTP 500'),
    ]);
  });

  it('sends no request before its Poisson arrival time', async () => {
    const result = await bench({}, [...small, ...smallOut, '--request-rate', '200', '--seed', '3']);
    // The schedule is drawn from seed + 1 (the dataset takes the seed itself).
    const schedule = arrivalTimes(12, 200, 1, createRng(4));
    expect(schedule[11]!).toBeGreaterThan(0.02);
    result.requests.forEach((r, i) => {
      expect(r.startMs).toBeGreaterThanOrEqual(schedule[i]! * 1000 - 2);
    });
    expect(result.workload.requestRate).toBe(200);
  });
});

describe('edgeserve bench serve (CLI)', () => {
  it('takes space-separated goodput SLOs, writes the result file and exits 0', async () => {
    stub = await startStubServer({});
    const dir = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    const { command } = await import('../cli/bench.ts');
    const logs: string[] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => logs.push(args.join(' '));
    try {
      const code = await command.run([
        'serve',
        '--base-url',
        stub.url,
        ...small,
        ...smallOut,
        '--goodput',
        'ttft:60000',
        'tpot:60000',
        '--result-file',
        join(dir, 'cli.json'),
        '--quiet',
      ]);
      expect(code).toBe(0);
    } finally {
      console.log = original;
    }
    const result = JSON.parse(readFileSync(join(dir, 'cli.json'), 'utf8')) as ServeResult;
    expect(result.metrics.goodput?.slo).toEqual({ ttft: 60000, tpot: 60000 });
    expect(logs.join('\n')).toContain('Request goodput (req/s):');
  });
});
