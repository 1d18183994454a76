/** Where a result came from: the commit that produced it, whether the tree was clean, when. */
import { execFileSync } from 'node:child_process';

export interface Provenance {
  date: string;
  gitCommit: string | null;
  /** Uncommitted changes in the tree when the run started: the commit alone does not reproduce it. */
  gitDirty: boolean | null;
  node: string;
  host: { platform: string; arch: string; cpus: number; cpuModel: string | null };
  /** 1/5/15-minute load averages when the run started: a busy shared host slows CPU results. */
  loadAverage: number[];
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

export async function provenance(): Promise<Provenance> {
  const os = await import('node:os');
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    date: new Date().toISOString(),
    gitCommit: git(['rev-parse', 'HEAD'])?.trim() ?? null,
    gitDirty: status === null ? null : status.trim().length > 0,
    node: process.version,
    host: {
      platform: process.platform,
      arch: process.arch,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? null,
    },
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}
