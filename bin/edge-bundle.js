// `edgeserve edge` runs as one ES module that esbuild bundles from the TypeScript sources when
// the process starts (~50 ms here), not through tsx's loader: the edge is the latency-bound process,
// and tsx compiles every module with esbuild's `keepNames`, which wraps each function and class
// in a `__name` call that gives it an own `name` property: for a closure made per request, that
// is a property store per closure, a few KB per open stream for the young-generation collector
// to copy (docs/benchmarks.md, "Edge"). tsx's module hooks also run on a thread of their own.
// Packages stay outside the bundle and load as they always do: each import of one is rewritten to
// the absolute URL Node's resolver gives it from here, so the bundle runs from a `data:` URL and
// nothing is written to disk (a read-only root file system is fine).
import { isBuiltin } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, stop } from 'esbuild';

/** Source of the module that runs `edgeserve edge` with `argv` taken from the process. */
const ENTRY = `import { command } from './edge.ts';
import { runCommand } from './command.ts';
process.exitCode = await runCommand('edge', command, process.argv.slice(3));`;

const cliDir = fileURLToPath(new URL('../cli/', import.meta.url));

/** The edge's bundle, as JavaScript source. */
export async function bundleEdge() {
  try {
    const result = await build({
      stdin: {
        contents: ENTRY,
        resolveDir: cliDir,
        sourcefile: 'edge-main.ts',
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      plugins: [
        {
          name: 'packages-by-url',
          setup(b) {
            // A bare specifier that is not a Node built-in: a package, found from the repo root.
            b.onResolve({ filter: /^[^./]/ }, (args) =>
              isBuiltin(args.path)
                ? { path: args.path, external: true }
                : { path: import.meta.resolve(args.path), external: true },
            );
          },
        },
      ],
    });
    return result.outputFiles[0].text;
  } finally {
    // esbuild's service process would otherwise live as long as the edge.
    await stop();
  }
}

/** Bundles the edge and runs it (its top-level code starts the server). */
export async function runEdge() {
  const source = await bundleEdge();
  await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
}
