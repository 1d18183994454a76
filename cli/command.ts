/** What every `edgeserve` subcommand is, and how one is run. */
import { ConfigError } from '../shared/config.ts';

export interface Command {
  summary: string;
  /** Returns the process exit code, or never returns for long-running servers. */
  run(argv: string[]): Promise<number>;
}

/** Runs `command`; a configuration error is one line on stderr and exit code 2. */
export async function runCommand(name: string, command: Command, argv: string[]): Promise<number> {
  try {
    return await command.run(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`edgeserve ${name}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
