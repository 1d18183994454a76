/** The `edgeserve` command as a user runs it: help, bad flags, and a backend that drains on SIGTERM. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { readSse } from '../shared/sse.ts';
import { fixtureModelCache } from './fixtures/models.ts';

const run = promisify(execFile);
const BIN = new URL('../bin/edgeserve.js', import.meta.url).pathname;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('edgeserve CLI', () => {
  it('lists every subcommand in --help', async () => {
    const { stdout } = await run('node', [BIN, '--help']);
    for (const cmd of ['start', 'backend', 'edge', 'token', 'bench'])
      expect(stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
  });

  it("documents the backend's vLLM-named flags", async () => {
    const { stdout } = await run('node', [BIN, 'backend', '--help']);
    for (const flag of [
      '--model',
      '--device',
      '--max-num-seqs',
      '--max-num-batched-tokens',
      '--block-size',
      '--gpu-memory-utilization',
      '--max-model-len',
      '--max-queue-len',
      '--served-model-name',
      '--api-key',
    ])
      expect(stdout).toContain(flag);
  });

  it('rejects an unknown flag by name with exit code 2', async () => {
    const err = await run('node', [BIN, 'backend', '--modle', 'x']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('--modle');
  });

  // Flags the chosen runner cannot honour stop the backend (exit 2) instead of being ignored.
  it.each([
    [['--dtype', 'bfloat16'], '--dtype bfloat16: the reference runner computes in float32'],
    [
      ['--cpu-threads', '4'],
      "--cpu-threads sets the cpu runner's threads; the runner is reference",
    ],
  ])('refuses %j on the reference runner', async (flags, message) => {
    const model = fixtureModelCache('llama', 11);
    const args = [BIN, 'backend', '--model', model, '--device', 'reference', ...flags];
    const err = await run('node', [...args, '--port', '0']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain(message);
  });

  it('drains on SIGTERM: the in-flight request finishes, new ones are refused, exit code 0', async () => {
    const model = fixtureModelCache('llama', 11);
    const child = spawn(
      'node',
      [
        BIN,
        'backend',
        '--model',
        model,
        '--device',
        'reference',
        '--port',
        '0',
        '--log-level',
        'error',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    while (!/http:\/\/\S+/.test(out)) await once(child.stdout!, 'data');
    const url = /(http:\/\/\S+)/.exec(out)![1]!;
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: basename(model),
        prompt: 'drain me',
        max_tokens: 120,
        ignore_eos: true,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    expect(res.status).toBe(200);
    const events = readSse(res.body!);
    await events.next(); // generation has started
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    let usage: { completion_tokens: number } | undefined;
    for await (const data of events) usage = JSON.parse(data).usage ?? usage;
    expect(usage?.completion_tokens).toBe(120);
    const late = await fetch(`${url}/health`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    const [code] = await exited;
    expect(code).toBe(0);
  });

  // A supervisor may stop a server the moment it reads that it is up: the handler must be there.
  it.each([
    ['backend', ['--port', '0'], /http:\/\/\S+/],
    ['start', ['--backend-port', '0', '--edge-port', '0'], /edgeserve is up/],
  ])('%s exits 0 on a SIGTERM sent the moment it says it is up', async (cmd, ports, up) => {
    const model = fixtureModelCache('llama', 11);
    const args = [BIN, cmd, '--model', model, '--device', 'reference', ...ports];
    const child = spawn('node', [...args, '--log-level', 'error'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    while (!up.test(out)) await once(child.stdout!, 'data');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
