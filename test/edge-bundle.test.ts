import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/** The bundle, made by Node itself (vitest's module runner has no `import.meta.resolve`). */
async function bundleEdge(): Promise<string> {
  const script = `import(${JSON.stringify(join(import.meta.dirname, '..', 'bin', 'edge-bundle.js'))})
    .then((m) => m.bundleEdge()).then((source) => process.stdout.write(source))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

describe('the edge bundle `edgeserve edge` runs from (bin/edge-bundle.js)', () => {
  it('holds the edge sources without name-keeping helpers, packages imported by absolute URL', async () => {
    const source = await bundleEdge();
    // Our own code is in it: the Node entry and the pipeline.
    expect(source).toContain('async function startNodeEdge(');
    expect(source).toContain('var StreamMasker = class');
    // tsx compiles with keepNames; the bundle must not (a `name` property per closure).
    expect(source).not.toMatch(/\b__name\(/);
    // Packages stay outside, loaded from node_modules by file URL (a data: URL module can import
    // nothing else but built-ins).
    const imports = [...source.matchAll(/ from "([^"]+)";$/gm)].map((m) => m[1]!);
    const packages = imports.filter((p) => !p.startsWith('node:'));
    expect(packages.length).toBeGreaterThan(3);
    for (const p of packages) expect(p, p).toMatch(/^file:\/\/.*\/node_modules\//);
    expect(packages.some((p) => p.includes('/node_modules/undici/'))).toBe(true);
    expect(source).not.toContain('class Agent extends DispatcherBase');
  });
});
