import type { Command } from './main.ts';

export const command: Command = {
  summary: '(token: not yet implemented)',
  async run() {
    console.error('edgeserve token: not yet implemented');
    return 1;
  },
};
