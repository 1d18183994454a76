import type { Command } from './main.ts';

export const command: Command = {
  summary: '(bench: not yet implemented)',
  async run() {
    console.error('edgeserve bench: not yet implemented');
    return 1;
  },
};
