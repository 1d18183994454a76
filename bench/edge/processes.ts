/** Starts the benchmark's servers as child processes and waits until each is ready. */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

export interface Server {
  url: string;
  /** The server's process: its CPU time is read from /proc (cpu-time.ts). */
  pid: number | undefined;
  stop(): Promise<void>;
  /** The first error line the process wrote, if it says why requests fail. */
  firstError?: () => string | undefined;
}

function track(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

/** Resolves with the first stdout line that `pick` accepts. */
function firstLine(
  child: ChildProcess,
  pick: (line: string) => string | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let err = '';
    child.stderr?.on('data', (d) => (err += d));
    const onData = (d: Buffer) => {
      buffer += d;
      for (const line of buffer.split('\n')) {
        const found = pick(line);
        if (!found) continue;
        // From here on (request logs) stdout is drained and dropped, not kept.
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        return resolve(found);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`process exited ${code}: ${err.slice(-2000)}`)));
  });
}

/** A child that prints `{"url": …}` on its first line of stdout: a TS entry of this folder. */
async function startUrlPrinter(script: string, args: string[]): Promise<Server> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, script), ...args],
    { cwd: root },
  );
  const url = await firstLine(child, (l) =>
    l.startsWith('{"url"') ? JSON.parse(l).url : undefined,
  );
  return { url, pid: child.pid, stop: track(child) };
}

export const startStub = (chunks: number, chunkDelayMs = 0): Promise<Server> =>
  startUrlPrinter('stub-main.ts', [String(chunks), String(chunkDelayMs)]);

/** The pass-through proxy of bare-proxy.ts in front of `upstream`: the floor of any gateway. */
export const startBareProxy = (upstream: string): Promise<Server> =>
  startUrlPrinter('bare-proxy.ts', [upstream]);

/** Node options the edge is deployed with (deploy/edge.Dockerfile, the systemd unit: GC tuning). */
export const EDGE_NODE_OPTIONS = [
  '--single-threaded-gc',
  '--max-semi-space-size=64',
  '--min-semi-space-size=64',
  '--no-memory-reducer',
];

/**
 * The edge, with `nodeOptions` (as deployed unless told otherwise) and `nodeArgs` before the
 * script (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow); `checkout` runs the edge of
 * another copy of the repo (a baseline to compare against).
 */
export async function startEdge(
  backend: string,
  secret: string,
  nodeArgs: string[] = [],
  checkout = root,
  nodeOptions = EDGE_NODE_OPTIONS,
): Promise<Server> {
  const configFile = join(tmpdir(), `edge-bench-${process.pid}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      limits: { requestsPerMinute: 1e9, tokensPerMinute: 1e12 },
      routing: { maxOutstandingPerBackend: 100_000 },
    }),
  );
  // Its log (a JSON line per request) goes to a file: through a pipe, every request would wake
  // the load generator to drain a line, on the edge's side of the comparison only.
  const logFile = join(tmpdir(), `edge-bench-${process.pid}-${++edges}.log`);
  const logFd = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    [
      ...nodeOptions,
      ...nodeArgs,
      join(checkout, 'bin', 'edgeserve.js'),
      'edge',
      '--backend',
      backend,
      '--port',
      '0',
      '--config',
      configFile,
    ],
    {
      cwd: checkout,
      env: { ...process.env, JWT_SECRET: secret, BACKEND_URLS: '', EDGE_CONFIG: '' },
      stdio: ['ignore', logFd, 'pipe'],
    },
  );
  closeSync(logFd);
  const url = await lineInFile(child, logFile, (l) =>
    l.includes('"listening"') ? JSON.parse(l).url : undefined,
  );
  const stop = track(child);
  return { url, pid: child.pid, stop: () => stop().then(() => rmSync(logFile, { force: true })) };
}

let edges = 0;

/** Resolves with the first line of `file` that `pick` accepts, polling while the child runs. */
async function lineInFile(
  child: ChildProcess,
  file: string,
  pick: (line: string) => string | undefined,
): Promise<string> {
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  for (;;) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const found = pick(line);
      if (found) return found;
    }
    if (child.exitCode !== null)
      throw new Error(`process exited ${child.exitCode}: ${err.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const hasPortkey = () =>
  existsSync(join(root, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js'));

/**
 * Portkey's open-source gateway (Node build), proxying to the stub as an OpenAI custom host, with
 * portkey-fetch-shim.mjs preloaded: without it, Portkey fails every streamed request on Node 20.
 */
export async function startPortkey(): Promise<Server> {
  const port = await freePort();
  const script = join(root, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  const shim = join(import.meta.dirname, 'portkey-fetch-shim.mjs');
  const child = spawn(
    process.execPath,
    ['--import', shim, script, `--port=${port}`, '--headless'],
    {
      cwd: root,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let firstError: string | undefined;
  child.stderr?.on('data', (d: Buffer) => {
    firstError ??= String(d)
      .split('\n')
      .find((l) => /error/i.test(l));
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('portkey gateway exited during start');
    try {
      if ((await fetch(`${url}/`)).ok) break;
    } catch {
      if (Date.now() > deadline) throw new Error('portkey gateway did not start');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, pid: child.pid, stop: track(child), firstError: () => firstError };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
