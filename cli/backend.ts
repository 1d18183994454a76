import type { Command } from './main.ts';

export const command: Command = {
  summary: '(backend: not yet implemented)',
  async run() {
    console.error('edgeserve backend: not yet implemented');
    return 1;
  },
};
