/** deploy/systemd units: ExecStart runs the real CLI with real flags; stops drain on SIGTERM. */
import { describe, expect, it } from 'vitest';
import { EDGE_NODE_OPTIONS } from '../bench/edge/processes.ts';
import { choicesFor, flagValues, helpFor, readRepo, splitNodeArgv } from './deploy-helpers.ts';

function unit(name: string): Map<string, string> {
  const entries = readRepo(`deploy/systemd/${name}`)
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
  return new Map(entries);
}

const units = ['edgeserve-backend.service', 'edgeserve-edge.service'];

describe.each(units)('deploy/systemd/%s', (name) => {
  const u = unit(name);
  const [node, ...argv] = u.get('ExecStart')!.split(/\s+/);
  // Node options before the script (the edge's --single-threaded-gc) must be ones Node takes.
  const { nodeOptions, rest } = splitNodeArgv(argv);
  const [bin, sub, ...args] = rest;

  it('starts the real CLI with a real subcommand, flags and choices', () => {
    expect(node).toBe('/usr/bin/node');
    // The edge's are the ones bench:edge measures it with.
    expect(nodeOptions).toEqual(name === 'edgeserve-edge.service' ? EDGE_NODE_OPTIONS : []);
    expect(bin).toBe(`${u.get('WorkingDirectory')}/bin/edgeserve.js`);
    const { flags } = helpFor(sub!);
    for (const arg of args.filter((a) => a.startsWith('--')))
      expect(flags.has(arg), `${sub} ${arg}`).toBe(true);
    const device = flagValues(args).get('--device');
    if (device) expect(choicesFor(sub!, '--device')).toContain(device);
  });

  it('stops with SIGTERM and runs unprivileged', () => {
    expect(u.get('KillSignal')).toBe('SIGTERM');
    expect(u.get('User')).not.toBe('root');
    expect(u.get('NoNewPrivileges')).toBe('true');
  });
});

describe('the pair', () => {
  it('keeps the backend on loopback, gives it time to drain, and serves the edge over TLS', () => {
    const backend = flagValues(unit(units[0]!).get('ExecStart')!.split(/\s+/));
    const edge = flagValues(unit(units[1]!).get('ExecStart')!.split(/\s+/));
    expect(backend.get('--host')).toBe('127.0.0.1');
    expect(Number(unit(units[0]!).get('TimeoutStopSec'))).toBeGreaterThanOrEqual(300);
    expect(edge.get('--tls-cert')).toBeDefined();
    expect(edge.get('--tls-key')).toBeDefined();
  });
});
