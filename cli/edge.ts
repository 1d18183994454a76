import type { Command } from './main.ts';

export const command: Command = {
  summary: '(edge: not yet implemented)',
  async run() {
    console.error('edgeserve edge: not yet implemented');
    return 1;
  },
};
