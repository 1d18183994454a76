/**
 * The compose `cpu` stack without Docker: the backend and edge commands are taken from
 * deploy/compose.yaml (with its environment, interpolated as Compose would), run as processes on
 * loopback and free ports, and a streamed chat completion goes through the edge with a token
 * from `edgeserve token`. Only what a container would change is rewritten: the model folder (a
 * tiny fixture instead of the demo model, for speed), the host and the ports.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, flagValues, interpolate, loadYaml, repoPath, type Yaml } from './deploy-helpers.ts';
import { fixtureModelCache } from './fixtures/models.ts';

const run = promisify(execFile);
const services: Record<string, Yaml> = loadYaml('deploy/compose.yaml').services;
/** What an operator exports before `docker compose up`, plus the URL the edge must use here. */
const hostEnv: Record<string, string> = {
  JWT_SECRET: randomBytes(32).toString('base64'),
  BACKEND_API_KEY: randomBytes(16).toString('hex'),
};

function serviceEnv(service: Yaml, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const vars = { ...hostEnv, ...extra };
  const own = Object.entries(service.environment ?? {}).map(([k, v]) => [
    k,
    interpolate(String(v), vars),
  ]);
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...Object.fromEntries(own) };
}

/** The service's command with the container-only parts swapped for local ones. */
function localCommand(service: Yaml, replace: Record<string, string>): string[] {
  const argv = [...(service.command as string[])];
  for (const [flag, value] of Object.entries(replace)) {
    const i = argv.indexOf(flag);
    expect(i, `compose command has ${flag}`).toBeGreaterThan(-1);
    argv[i + 1] = value;
  }
  return argv;
}

const children: ChildProcess[] = [];

/** Starts `edgeserve …argv` and resolves with the first http URL it prints on stdout. */
function start(
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, ...argv], { env, cwd: repoPath() });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const url = /https?:\/\/127\.0\.0\.1:\d+/.exec(out)?.[0];
      if (url) resolve({ child, url });
    });
    child.on('exit', (code) => reject(new Error(`${argv[0]} exited ${code}: ${err.slice(-2000)}`)));
  });
}

const exitCode = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });

let backend: { child: ChildProcess; url: string };
let edge: { child: ChildProcess; url: string };
let token: string;

beforeAll(async () => {
  const cpuBackend = localCommand(services['backend-cpu'], {
    '--model': fixtureModelCache('llama', 1),
    '--host': '127.0.0.1',
    '--port': '0',
  });
  backend = await start(cpuBackend, serviceEnv(services['backend-cpu']));
  const edgeEnv = serviceEnv(services.edge, { BACKEND_URLS: backend.url });
  edge = await start(
    localCommand(services.edge, { '--host': '127.0.0.1', '--port': '0' }),
    edgeEnv,
  );
  // As smoke.sh does with `docker compose run edge token`: the edge's own environment.
  const minted = await run(process.execPath, [BIN, 'token', '--sub', 'smoke', '--ttl', '10m'], {
    env: edgeEnv,
  });
  token = minted.stdout.trim();
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('compose cpu stack as processes', () => {
  it('streams a chat completion through the edge to the cpu backend, ending in [DONE]', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const models = await fetch(`${edge.url}/v1/models`, { headers: auth });
    expect(models.status).toBe(200);
    const model = ((await models.json()) as { data: { id: string }[] }).data[0]!.id;
    const res = await fetch(`${edge.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        model,
        stream: true,
        max_tokens: 8,
        temperature: 0,
        messages: [{ role: 'user', content: 'In the beginning' }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split('\n').filter((l) => l.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === model)).toBe(
      true,
    );
    expect(chunks.at(-1).choices[0].finish_reason).toMatch(/^(length|stop)$/);
  });

  it('refuses the backend without the shared BACKEND_API_KEY the edge sends', async () => {
    const res = await fetch(`${backend.url}/v1/models`);
    expect(res.status).toBe(401);
    const keyed = await fetch(`${backend.url}/v1/models`, {
      headers: { authorization: `Bearer ${hostEnv.BACKEND_API_KEY}` },
    });
    expect(keyed.status).toBe(200);
  });

  it('passes the image health check script on both services and fails it on a closed port', async () => {
    const script = repoPath('deploy', 'healthcheck.mjs');
    const probe = (env: Record<string, string>) =>
      run(process.execPath, [script], { env: { PATH: process.env.PATH, ...env } }).then(
        () => 0,
        (e: { code: number }) => e.code,
      );
    expect(await probe({ PORT: new URL(backend.url).port })).toBe(0);
    expect(await probe({ HEALTHCHECK_URL: `${edge.url}/health` })).toBe(0);
    expect(await probe({ HEALTHCHECK_URL: `${edge.url}/no-such-route` })).toBe(1);
    expect(await probe({ PORT: '1' })).toBe(1);
  });

  const hasCurl = (() => {
    try {
      execFileSync('curl', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasCurl)('passes deploy/smoke.sh probe pointed at the running edge', async () => {
    const { stdout } = await run('bash', [repoPath('deploy', 'smoke.sh')], {
      env: { PATH: process.env.PATH, EDGE_URL: edge.url, TOKEN: token },
    });
    expect(stdout).toMatch(/^smoke: ok \(model .+, \d+ chunks via http:\/\/127\.0\.0\.1:\d+\)/m);
    const bad = await run('bash', [repoPath('deploy', 'smoke.sh')], {
      env: { PATH: process.env.PATH, EDGE_URL: edge.url, TOKEN: 'not-a-token' },
    }).catch((e: { code: number }) => e);
    expect((bad as { code: number }).code).not.toBe(0);
  });

  it('drains and exits 0 on SIGTERM, as the containers stop', async () => {
    expect(await exitCode(edge.child)).toBe(0);
    expect(await exitCode(backend.child)).toBe(0);
    expect(flagValues(services['backend-cpu'].command).get('--device')).toBe('cpu');
  });
});
