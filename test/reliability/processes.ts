/**
 * Real `edgeserve` processes for the reliability and security suites: a backend or an edge
 * started through bin/edgeserve.js as a user would, with their URL, pid, output and exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'edgeserve.js');

export interface Proc {
  child: ChildProcess;
  url: string;
  pid: number;
  /** Everything it wrote so far (stdout + stderr). */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Kills every process these helpers started that is still alive (for afterAll). */
export function killAll(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

function start(
  args: string[],
  env: NodeJS.ProcessEnv,
  findUrl: (out: string) => string | undefined,
  timeoutMs = 60_000,
): Promise<Proc> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edgeserve ${args[0]} did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d;
      const url = findUrl(out);
      if (!url) return;
      clearTimeout(timer);
      resolve({
        child,
        url,
        pid: child.pid!,
        output: () => out,
        exited,
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`edgeserve ${args[0]} exited ${code} before listening:\n${out}`));
    });
  });
}

/** `edgeserve edge --port 0 …` with only the given env (plus PATH/HOME). */
export function spawnEdge(args: string[], env: Record<string, string>): Promise<Proc> {
  const base = { PATH: process.env.PATH, HOME: process.env.HOME };
  return start(['edge', '--port', '0', ...args], { ...base, ...env }, (out) => {
    const line = out.split('\n').find((l) => l.includes('"listening"'));
    return line ? (JSON.parse(line).url as string) : undefined;
  });
}

/** `edgeserve backend --model DIR --port 0 --log-level error …`. */
export function spawnBackend(model: string, args: string[] = []): Promise<Proc> {
  const base = { PATH: process.env.PATH, HOME: process.env.HOME };
  return start(
    ['backend', '--model', model, '--port', '0', '--log-level', 'error', ...args],
    base,
    (out) => /edgeserve backend: (http:\/\/\S+)/.exec(out)?.[1],
  );
}

/** Resident set size of a live process, in bytes, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (!kib) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kib) * 1024;
}

/** A number from Prometheus text: the first sample of `name` (any labels). */
export function metric(text: string, name: string): number {
  const escaped = name.replace(/[.*+?^${}()|[\]\\:]/g, '\\$&');
  const m = new RegExp(`^${escaped}(?:_total)?(?:\\{[^}]*\\})? ([-+\\d.eE]+|NaN)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} not found`);
  return Number(m[1]);
}
