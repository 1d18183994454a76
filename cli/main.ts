/** `edgeserve <command>`: one entry point, one module per subcommand. */
import { type Command, runCommand } from './command.ts';

const commands: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./start.ts')).command,
  backend: async () => (await import('./backend.ts')).command,
  edge: async () => (await import('./edge.ts')).command,
  token: async () => (await import('./token.ts')).command,
  bench: async () => (await import('./bench.ts')).command,
  'build-native': async () => (await import('./build-native.ts')).command,
};

async function usage(): Promise<string> {
  const lines = ['Usage: edgeserve <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(commands))
    lines.push(`  ${name.padEnd(14)}${(await load()).summary}`);
  lines.push('', "Run 'edgeserve <command> --help' for a command's options.");
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return 0;
  }
  if (name === '--version') {
    const pkg = await import('../package.json', { with: { type: 'json' } });
    console.log(pkg.default.version);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`edgeserve: unknown command '${name}'\n\n${await usage()}`);
    return 2;
  }
  return runCommand(name, await load(), rest);
}
