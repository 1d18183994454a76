import type { Command } from './main.ts';

export const command: Command = {
  summary: '(start: not yet implemented)',
  async run() {
    console.error('edgeserve start: not yet implemented');
    return 1;
  },
};
