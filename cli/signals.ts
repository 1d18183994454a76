/**
 * Resolves with the first SIGINT/SIGTERM; a second one exits at once (the user means it). Call it
 * before printing that the server is up: a supervisor may stop it the moment it reads that line,
 * and a SIGTERM that finds no listener yet kills the process instead of draining it.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(signal);
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
}
