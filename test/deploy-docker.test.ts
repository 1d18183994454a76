/**
 * Lint-level checks of the Dockerfiles and .dockerignore (no Docker engine runs in CI): every COPY
 * source exists and survives .dockerignore, stages and build args are declared before use, the
 * final images run as a non-root user with a health check, and ENTRYPOINT/CMD name files the image
 * really holds and subcommands/flags the CLI really accepts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { EDGE_NODE_OPTIONS } from '../bench/edge/processes.ts';
import {
  choicesFor,
  type Dockerfile,
  execForm,
  flagValues,
  helpFor,
  isIgnored,
  listFiles,
  parseDockerfile,
  parseDockerignore,
  readRepo,
  repoPath,
  resolveImagePath,
  splitNodeArgv,
} from './deploy-helpers.ts';

const BACKEND = 'deploy/backend.Dockerfile';
const EDGE = 'deploy/edge.Dockerfile';
const ignoreRules = parseDockerignore(readRepo('.dockerignore'));
const files: Record<string, Dockerfile> = {
  [BACKEND]: parseDockerfile(BACKEND),
  [EDGE]: parseDockerfile(EDGE),
};
/** The images people run: `--target cpu`, `--target cuda` and the edge's last stage. */
const finals: [string, string][] = [
  [BACKEND, 'cpu'],
  [BACKEND, 'cuda'],
  [EDGE, 'edge'],
];

/** What the images leave out on purpose: tests, build outputs, results, the Python peers. */
const notNeededAtRunTime =
  /\.test\.ts$|^backend\/native\/build\/|^bench\/(results|peers)\/|__pycache__|node_modules/;

const stage = (file: string, name: string) => files[file]!.stages.find((s) => s.name === name)!;
const lastOf = (file: string, name: string, op: string) =>
  stage(file, name)
    .instructions.filter((i) => i.op === op)
    .at(-1);

describe('.dockerignore', () => {
  it('keeps the repository heavy and secret parts out of the build context', () => {
    for (const path of [
      'node_modules/itty-router/package.json',
      '.git/HEAD',
      'backend/native/build/edgeserve_cuda.node',
      'bench/results/run.json',
      'test/fixtures/models.ts',
      'edge/mask.test.ts',
      '.env',
      'tmp/scratch.txt',
    ])
      expect(isIgnored(ignoreRules, path), path).toBe(true);
  });
});

describe.each(Object.keys(files))('%s', (path) => {
  const file = files[path]!;

  it('declares every build arg used in FROM before the first stage, with a default', () => {
    for (const s of file.stages) {
      expect(s.base, `${s.name} FROM`).not.toMatch(/\$\{/);
      expect(s.base).toMatch(/^[a-z0-9./_-]+(:[\w.-]+)?$|^scratch$/);
    }
    for (const [name, value] of file.globalArgs) expect(value, name).not.toBe('');
  });

  it('copies only sources that exist and that .dockerignore lets into the context', () => {
    const names = new Set(file.stages.map((s) => s.name));
    for (const s of file.stages)
      for (const copy of s.copies) {
        if (copy.from !== undefined) {
          // A stage copied from is defined earlier (Docker would pull an image of that name).
          const index = file.stages.findIndex((t) => t.name === copy.from);
          expect(names.has(copy.from), `${s.name}: --from=${copy.from}`).toBe(true);
          expect(index).toBeLessThan(file.stages.indexOf(s));
          continue;
        }
        for (const src of copy.sources) {
          const local = src.replace(/\/+$/, '');
          expect(existsSync(repoPath(local)), `${s.name}: COPY ${src}`).toBe(true);
          const needed = listFiles(local).filter((f) => !notNeededAtRunTime.test(f));
          expect(needed.length, `${src} has tracked files`).toBeGreaterThan(0);
          for (const f of needed)
            expect(isIgnored(ignoreRules, f), `${f} reaches the context`).toBe(false);
        }
      }
  });

  it('installs production dependencies only, from the lockfile', () => {
    const runs = file.stages.flatMap((s) => s.instructions.filter((i) => i.op === 'RUN'));
    const install = runs.find((r) => /\bnpm (ci|install)\b/.test(r.args));
    expect(install?.args).toMatch(/\bnpm ci\b.*--omit=dev/);
  });
});

describe.each(finals)('%s --target %s', (path, name) => {
  const file = files[path]!;

  it('runs as a non-root user', () => {
    const user = lastOf(path, name, 'USER')?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
  });

  it('has an exec-form health check whose script the image holds', () => {
    const check = lastOf(path, name, 'HEALTHCHECK')!.args;
    const argv = execForm(check.replace(/^.*?CMD\s+/, ''))!;
    expect(argv[0]).toBe('node');
    expect(resolveImagePath(file, name, argv[1]!)).toEqual({ repo: 'deploy/healthcheck.mjs' });
  });

  it('starts the real CLI with a real subcommand and real flags', () => {
    const [node, ...entry] = execForm(lastOf(path, name, 'ENTRYPOINT')!.args)!;
    const cmd = execForm(lastOf(path, name, 'CMD')!.args)!;
    expect(node).toBe('node');
    // Node options before the script (the edge's --single-threaded-gc) must be ones Node takes,
    // and the ones bench:edge measures the edge with.
    const { nodeOptions, rest } = splitNodeArgv(entry);
    expect(nodeOptions).toEqual(path === EDGE ? EDGE_NODE_OPTIONS : []);
    expect(resolveImagePath(file, name, rest[0]!)).toEqual({ repo: 'bin/edgeserve.js' });
    // Node comes from the official image, whatever the base.
    expect(resolveImagePath(file, name, '/usr/local/bin/node')).toEqual({
      external: expect.stringMatching(/^node:20-bookworm-slim:/),
    });
    const [sub, ...args] = cmd;
    const { flags } = helpFor(sub!);
    for (const arg of args.filter((a) => a.startsWith('--')))
      expect(flags.has(arg.split('=')[0]!), `${sub} ${arg}`).toBe(true);
    const device = flagValues(args).get('--device');
    if (device) expect(choicesFor(sub!, '--device')).toContain(device);
  });

  it('holds every source file the CLI loads at run time', () => {
    const wanted = ['cli/main.ts', 'shared/config.ts', 'package.json'];
    wanted.push(...(name === 'edge' ? ['edge/node.ts', 'cli/token.ts'] : ['backend/serve.ts']));
    for (const f of wanted)
      expect(resolveImagePath(file, name, `/app/${f}`), f).toEqual({ repo: f });
    expect(resolveImagePath(file, name, '/app/node_modules')).not.toBeNull();
  });
});

/** The modules and packages reachable from entry points, as esbuild resolves them. */
async function moduleGraph(entries: string[]): Promise<{ files: string[]; packages: Set<string> }> {
  const result = await build({
    entryPoints: entries.map((f) => repoPath(f)),
    absWorkingDir: repoPath(),
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    write: false,
    metafile: true,
    outdir: 'unused',
    logLevel: 'silent',
  });
  const inputs = Object.entries(result.metafile.inputs);
  const packages = new Set<string>();
  for (const [, input] of inputs)
    for (const imp of input.imports)
      if (imp.external && !imp.path.startsWith('node:'))
        packages.add(
          imp.path
            .split('/')
            .slice(0, imp.path.startsWith('@') ? 2 : 1)
            .join('/'),
        );
  return { files: inputs.map(([f]) => f), packages };
}

describe('runtime module graph (what the images and `npm ci --omit=dev` must satisfy)', () => {
  const pkg = JSON.parse(readRepo('package.json'));

  it('backend: every module the CLI and its workers load is in the image; packages are production deps', async () => {
    const workers = listFiles('backend').filter((f) => /-worker\.ts$/.test(f));
    const { files: modules, packages } = await moduleGraph(['bin/edgeserve.js', ...workers]);
    for (const f of modules) {
      expect(resolveImagePath(files[BACKEND]!, 'cpu', `/app/${f}`), f).toEqual({ repo: f });
      expect(isIgnored(ignoreRules, f), `${f} is in .dockerignore`).toBe(false);
    }
    expect(modules.filter((f) => /^(test|tools)\//.test(f))).toEqual([]);
    for (const name of packages) expect(Object.keys(pkg.dependencies), name).toContain(name);
    expect(packages).toContain('onnxruntime-node');
  });

  it('edge: `edge` and `token` load only what the edge image holds, and no onnxruntime', async () => {
    // `edge` runs from the bundle bin/edge-bundle.js makes of cli/edge.ts and cli/command.ts.
    const { files: modules, packages } = await moduleGraph([
      'bin/edge-bundle.js',
      'cli/command.ts',
      'cli/edge.ts',
      'cli/token.ts',
    ]);
    for (const f of modules) {
      expect(resolveImagePath(files[EDGE]!, 'edge', `/app/${f}`), f).toEqual({ repo: f });
      expect(isIgnored(ignoreRules, f), `${f} is in .dockerignore`).toBe(false);
    }
    for (const name of packages) expect(Object.keys(pkg.dependencies), name).toContain(name);
    expect([...packages].filter((p) => p.startsWith('onnxruntime'))).toEqual([]);
    expect(packages).toContain('esbuild');
  });
});

describe('backend image', () => {
  const file = files[BACKEND]!;

  it('builds the addon on the CUDA devel image and ships it on the runtime image', () => {
    const build = file.stages.find((s) =>
      s.instructions.some((i) => i.op === 'RUN' && i.args.includes('build-native')),
    )!;
    expect(build.base).toMatch(/^nvidia\/cuda:[\d.]+-devel-/);
    expect(stage(BACKEND, 'cuda').base).toMatch(/^nvidia\/cuda:[\d.]+-runtime-/);
    const addon = '/app/backend/native/build/edgeserve_cuda.node';
    const shipped = stage(BACKEND, 'cuda').copies.find((c) => c.from === build.name);
    expect(shipped?.sources).toEqual([addon]);
    // The addon lands where the loader looks for it.
    const loader = readFileSync(repoPath('backend/native/loader.ts'), 'utf8');
    expect(loader).toMatch(/'build',\s*'edgeserve_cuda\.node'/);
    expect(shipped?.dest).toBe('/app/backend/native/build/');
  });

  it('gives the cpu target no CUDA anywhere in its ancestry', () => {
    let s = stage(BACKEND, 'cpu');
    const chain = [s.base];
    for (let parent = stage(BACKEND, s.base); parent; parent = stage(BACKEND, parent.base))
      chain.push(parent.base);
    expect(chain.join(' ')).not.toMatch(/cuda/);
    const copiedFrom = s.copies.map((c) => c.from).filter(Boolean);
    expect(copiedFrom).not.toContain('cuda-build');
    s = stage(BACKEND, 'cuda');
    expect(s.copies.some((c) => c.from === 'cuda-build')).toBe(true);
  });

  it('serves the demo model by default (EDGESERVE_MODEL points at a model folder in the image)', () => {
    for (const name of ['cpu', 'cuda']) {
      const env = stage(BACKEND, name)
        .instructions.filter((i) => i.op === 'ENV')
        .map((i) => i.args)
        .join(' ');
      const model = /EDGESERVE_MODEL=(\S+)/.exec(env)![1]!;
      expect(resolveImagePath(file, name, `${model}/config.json`), name).toEqual({
        repo: 'models/demo/config.json',
      });
    }
  });
});
