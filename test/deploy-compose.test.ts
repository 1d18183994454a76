/**
 * deploy/compose.yaml read as Compose reads it (no Docker engine in CI): every service builds
 * from a real Dockerfile target, runs a real subcommand with real flags, health-checks the port it
 * listens on, and the `cpu` profile is a complete stack that needs no GPU.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  choicesFor,
  flagValues,
  helpFor,
  interpolate,
  loadYaml,
  parseDockerfile,
  repoPath,
  resolveImagePath,
  type Yaml,
} from './deploy-helpers.ts';

const compose = loadYaml('deploy/compose.yaml');
const services: Record<string, Yaml> = compose.services;
const inProfile = (profile: string) =>
  Object.entries(services).filter(([, s]) => !s.profiles || s.profiles.includes(profile));
const env = { JWT_SECRET: 'x'.repeat(32) };
/** A service's environment after interpolation with only JWT_SECRET set (the documented minimum). */
const envOf = (service: Yaml): Record<string, string> =>
  Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), env)]),
  );

describe('interpolate (the Compose variable syntax the file relies on)', () => {
  // Written with % for $ so no one reads these as template literals.
  const compose = (text: string) => text.replaceAll('%', '$');
  it('substitutes defaults, errors on required, keeps set values', () => {
    expect(interpolate(compose('%{A:-x}/%{B-y}/%%'), { B: '' })).toBe('x//$');
    expect(interpolate(compose('%{A:-x}'), { A: 'set' })).toBe('set');
    expect(() => interpolate(compose('%{A:?needed}'), {})).toThrow('A: needed');
  });
});

describe('deploy/compose.yaml', () => {
  it('builds every service from an existing Dockerfile target', () => {
    for (const [name, service] of Object.entries(services)) {
      const { context, dockerfile, target } = service.build;
      const root = join(repoPath('deploy'), context);
      expect(root, name).toBe(repoPath());
      expect(existsSync(join(root, dockerfile)), name).toBe(true);
      const stages = parseDockerfile(dockerfile).stages.map((s) => s.name);
      expect(stages, name).toContain(target ?? stages.at(-1));
    }
  });

  it('runs real subcommands with real flags and valid choices', () => {
    for (const [name, service] of Object.entries(services)) {
      const [sub, ...args] = service.command as string[];
      const { flags } = helpFor(sub!);
      for (const arg of args.filter((a) => a.startsWith('--')))
        expect(flags.has(arg), `${name}: ${sub} ${arg}`).toBe(true);
      const values = flagValues(args);
      const device = values.get('--device');
      if (device) expect(choicesFor(sub!, '--device'), name).toContain(device);
      expect(values.get('--host'), `${name} listens beyond loopback`).toBe('0.0.0.0');
    }
  });

  it('health-checks each service on the port its command listens on', () => {
    for (const [name, service] of Object.entries(services)) {
      const port = flagValues(service.command).get('--port');
      const check = service.healthcheck.test as string[];
      expect(check.slice(0, 2), name).toEqual(['CMD', 'node']);
      // The probe script reads PORT: it must agree with --port, and be in the image.
      expect(envOf(service).PORT, name).toBe(port);
      const file = parseDockerfile(service.build.dockerfile);
      const target = service.build.target ?? file.stages.at(-1)!.name;
      expect(resolveImagePath(file, target, check[2]!)).toEqual({ repo: 'deploy/healthcheck.mjs' });
      const exposed = [...(service.expose ?? []), ...(service.ports ?? [])].map(String);
      expect(
        exposed.some((p) => p === port || p.endsWith(`:${port}`)),
        name,
      ).toBe(true);
    }
  });

  it('gives backends a drain window longer than a health-check failure', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.command[0] !== 'backend') continue;
      expect(service.stop_signal, name).toBe('SIGTERM');
      expect(service.stop_grace_period, name).toMatch(/^\d+m$/);
    }
  });

  it('has a cpu profile that is a whole stack on the demo model with no GPU', () => {
    const cpu = inProfile('cpu');
    const backends = cpu.filter(([, s]) => s.command[0] === 'backend');
    expect(cpu.map(([n]) => n)).toContain('edge');
    expect(backends.length).toBeGreaterThan(0);
    for (const [name, service] of cpu) {
      expect(service.deploy?.resources?.reservations?.devices, name).toBeUndefined();
      expect(service.build.target ?? '', name).not.toBe('cuda');
    }
    for (const [name, service] of backends) {
      const values = flagValues(service.command);
      expect(values.get('--device'), name).toBe('cpu');
      const file = parseDockerfile(service.build.dockerfile);
      const model = values.get('--model')!;
      expect(resolveImagePath(file, service.build.target, `${model}/config.json`)).toEqual({
        repo: 'models/demo/config.json',
      });
    }
  });

  it('reserves an NVIDIA GPU for every cuda backend, one device each', () => {
    const gpu = Object.entries(services).filter(
      ([, s]) => flagValues(s.command).get('--device') === 'cuda',
    );
    expect(gpu.length).toBeGreaterThan(0);
    const ids = new Set<string>();
    for (const [name, service] of gpu) {
      const [device] = service.deploy.resources.reservations.devices;
      expect(device.driver, name).toBe('nvidia');
      expect(device.capabilities, name).toContain('gpu');
      expect(device.device_ids, name).toHaveLength(1);
      expect(ids.has(device.device_ids[0]), `${name} shares a GPU`).toBe(false);
      ids.add(device.device_ids[0]);
      expect(service.build.target, name).toBe('cuda');
      const model = flagValues(service.command).get('--model')!;
      const mount = (service.volumes as string[]).map((v) => interpolate(v, env).split(':'));
      const [hostDir] = mount.find(([, inside]) => inside === model)!;
      expect(existsSync(join(repoPath('deploy'), hostDir!, 'config.json')), name).toBe(true);
    }
  });

  it('points the edge at backends of every profile it runs in, on their ports', () => {
    const edge = services.edge;
    const edgeEnv = envOf(edge);
    const documented = helpFor('edge').text;
    for (const key of Object.keys(edgeEnv).filter((k) => k !== 'PORT'))
      expect(documented, `edge --help documents ${key}`).toContain(key);
    for (const profile of edge.profiles as string[]) {
      const reachable = new Map<string, string>();
      for (const [name, service] of inProfile(profile)) {
        const port = flagValues(service.command).get('--port')!;
        for (const alias of [name, ...(service.networks?.default?.aliases ?? [])])
          reachable.set(alias, port);
      }
      for (const url of edgeEnv.BACKEND_URLS!.split(',')) {
        const { hostname, port } = new URL(url);
        expect(reachable.get(hostname), `${profile}: ${url}`).toBe(port);
      }
    }
    for (const dep of Object.keys(edge.depends_on)) expect(services[dep], dep).toBeDefined();
  });

  it('refuses to start the edge without a JWT secret and binds it to loopback by default', () => {
    expect(() => interpolate(services.edge.environment.JWT_SECRET, {})).toThrow(/JWT_SECRET/);
    expect(interpolate(services.edge.ports[0], env)).toBe('127.0.0.1:8787:8787');
  });
});
