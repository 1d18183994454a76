#!/usr/bin/env node
// The `edgeserve` command. Sources are TypeScript, and there is no build step between a clone and
// a running server: `edgeserve edge` bundles its own code with esbuild as it starts
// (edge-bundle.js says why), and every other command runs through tsx's loader.
const argv = process.argv.slice(2);
if (argv[0] === 'edge') {
  const { runEdge } = await import('./edge-bundle.js');
  await runEdge();
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(argv);
}
