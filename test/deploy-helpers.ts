/**
 * What the deployment tests share, since no Docker engine or cluster runs in CI: the compose file
 * read the way Compose reads it (merge keys, `${VAR:-default}` interpolation), Dockerfiles parsed
 * into stages with a map from image paths back to repository files, `.dockerignore` matching, and
 * the flags each `edgeserve` subcommand really accepts (from its `--help`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = join(import.meta.dirname, '..');
export const BIN = join(ROOT, 'bin', 'edgeserve.js');
export const repoPath = (...parts: string[]) => join(ROOT, ...parts);
export const readRepo = (path: string) => readFileSync(repoPath(path), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is checked field by field by the tests
export type Yaml = any;

export function loadYaml(path: string): Yaml {
  return parse(readRepo(path), { merge: true });
}

/** Every document of a multi-document YAML file, failing on any parse error. */
export function loadYamlDocuments(path: string): Yaml[] {
  return parseAllDocuments(readRepo(path), { merge: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    return doc.toJS();
  });
}

/** Compose's interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `$$`. */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])((?:[^}]|\}(?!))*?))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name, colon, op, arg, bare) => {
      if (match === '$$') return '$';
      if (bare) return env[bare] ?? '';
      const value = env[name];
      const missing = colon ? !value : value === undefined;
      if (op === '-' && missing) return interpolate(arg, env);
      if (op === '?' && missing) throw new Error(`${name}: ${arg}`);
      return value ?? '';
    },
  );
}

/** A command's flags, as its `--help` lists them (cached per subcommand). */
const helpCache = new Map<string, { flags: Set<string>; text: string }>();
export function helpFor(subcommand: string): { flags: Set<string>; text: string } {
  let found = helpCache.get(subcommand);
  if (!found) {
    const text = execFileSync(process.execPath, [BIN, subcommand, '--help'], {
      encoding: 'utf8',
      env: { ...process.env, JWT_SECRET: '' },
    });
    const flags = new Set([...text.matchAll(/^\s+(--[a-z0-9-]+)/gm)].map((m) => m[1]!));
    found = { flags, text };
    helpCache.set(subcommand, found);
  }
  return found;
}

/**
 * A `node [options] script args…` argv split at the script: Node's own options (checked to be ones
 * this Node accepts, by running it with them) and the rest.
 */
export function splitNodeArgv(argv: string[]): { nodeOptions: string[]; rest: string[] } {
  const at = argv.findIndex((a) => !a.startsWith('-'));
  const nodeOptions = argv.slice(0, at === -1 ? argv.length : at);
  if (nodeOptions.length > 0)
    execFileSync(process.execPath, [...nodeOptions, '-e', ''], { stdio: 'pipe' });
  return { nodeOptions, rest: at === -1 ? [] : argv.slice(at) };
}

/** The `one of: a, b` choices `--help` prints for a flag, or undefined. */
export function choicesFor(subcommand: string, flag: string): string[] | undefined {
  const line = helpFor(subcommand)
    .text.split('\n')
    .find((l) => l.trimStart().startsWith(`${flag} `));
  const m = line && /one of: ([^)]+)\)/.exec(line);
  return m ? m[1]!.split(',').map((s) => s.trim()) : undefined;
}

/** The `--flag value` pairs of an argv (booleans without a value are left out). */
export function flagValues(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq !== -1) out.set(arg.slice(0, eq), arg.slice(eq + 1));
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) out.set(arg, argv[++i]!);
  }
  return out;
}

// ---- Dockerfiles ---------------------------------------------------------------------------

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface CopyStep {
  from: string | undefined;
  sources: string[];
  dest: string;
}

export interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
  copies: CopyStep[];
  workdir: string;
}

/** Instructions with line continuations joined and comments dropped. */
export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return;
    if (!pending) startLine = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = pending + line;
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!, line: startLine });
  });
  return out;
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string>;
  stages: Stage[];
}

export function parseDockerfile(path: string): Dockerfile {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of parseInstructions(readRepo(path))) {
    const stage = stages.at(-1);
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`${path}:${ins.line}: cannot parse FROM ${ins.args}`);
      const base = m[1]!.replace(/\$\{(\w+)\}/g, (_, n) => globalArgs.get(n) ?? `\${${n}}`);
      const parent = stages.find((s) => s.name === base);
      stages.push({
        name: m[2] ?? String(stages.length),
        base,
        instructions: [],
        copies: [],
        workdir: parent?.workdir ?? '/',
      });
    } else if (!stage) {
      if (ins.op !== 'ARG') throw new Error(`${path}:${ins.line}: ${ins.op} before FROM`);
      const [name, value = ''] = ins.args.split('=');
      globalArgs.set(name!, value);
    } else {
      stage.instructions.push(ins);
      if (ins.op === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, ins.args);
      if (ins.op === 'COPY' || ins.op === 'ADD') stage.copies.push(parseCopy(ins, stage.workdir));
    }
  }
  return { globalArgs, stages };
}

function parseCopy(ins: Instruction, workdir: string): CopyStep {
  const words = ins.args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  const dest = paths.pop()!;
  const absolute = posix.resolve(workdir, dest) + (dest.endsWith('/') || dest === '.' ? '/' : '');
  return { from, sources: paths, dest: absolute.replace(/\/+$/, '/') };
}

export type ImageFile = { repo: string } | { external: string } | null;

/**
 * Where a path inside a stage's image comes from: a repository path, a file of an external base
 * image, or nowhere (null). Later COPYs win over earlier ones, a stage over its base.
 */
export function resolveImagePath(
  file: Dockerfile,
  stageName: string,
  imagePath: string,
): ImageFile {
  const stage = file.stages.find((s) => s.name === stageName);
  if (!stage) return { external: `${stageName}:${imagePath}` };
  for (const copy of [...stage.copies].reverse()) {
    for (const src of copy.sources) {
      for (const rel of mapThrough(copy, src, imagePath)) {
        if (copy.from === undefined) {
          if (existsSync(repoPath(rel))) return { repo: rel.replace(/^\/+/, '') };
          continue;
        }
        const found = resolveImagePath(file, copy.from, rel);
        if (found) return found;
      }
    }
  }
  const parent = file.stages.find((s) => s.name === stage.base);
  if (parent) return resolveImagePath(file, parent.name, imagePath);
  if (stage.base === 'scratch') return null;
  return { external: `${stage.base}:${imagePath}` };
}

/**
 * The source-side paths `imagePath` may have come from through one COPY: as a file copied to
 * `dest` (or into it, when dest ends in '/'), or as something inside a copied directory.
 */
function mapThrough(copy: CopyStep, src: string, imagePath: string): string[] {
  const source = src.replace(/\/+$/, '') || '/';
  const destIsDir = copy.dest.endsWith('/');
  const dest = copy.dest.replace(/\/+$/, '') || '/';
  const candidates: string[] = [];
  const fileTarget = destIsDir ? posix.join(dest, posix.basename(source)) : dest;
  if (imagePath === fileTarget) candidates.push(source);
  if (imagePath === dest) candidates.push(source);
  else if (imagePath.startsWith(dest === '/' ? '/' : `${dest}/`))
    candidates.push(posix.join(source, imagePath.slice(dest === '/' ? 1 : dest.length + 1)));
  return candidates;
}

/** The JSON-array (exec form) arguments of an instruction, or null for the shell form. */
export function execForm(args: string): string[] | null {
  try {
    const parsed = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

// ---- .dockerignore --------------------------------------------------------------------------

interface IgnoreRule {
  negated: boolean;
  regex: RegExp;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = posix.normalize(line.replace(/^!/, '')).replace(/^\/+|\/+$/g, '');
      const body = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '(?:.*)'
            : part
                .replace(/[.+^$()|[\]{}\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
      return { negated, regex: new RegExp(`^${body}$`) };
    });
}

/** Docker's rule: the last matching pattern wins; a pattern matching a directory covers its contents. */
export function isIgnored(rules: IgnoreRule[], path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) if (prefixes.some((p) => rule.regex.test(p))) ignored = !rule.negated;
  return ignored;
}

/** Files under a folder (or the file itself), relative to the repository root. */
export function listFiles(path: string): string[] {
  const full = repoPath(path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => posix.join(relative(ROOT, e.parentPath).split(sep).join('/'), e.name));
}
