import type { Command } from './main.ts';

export const command: Command = {
  summary: '(build-native: not yet implemented)',
  async run() {
    console.error('edgeserve build-native: not yet implemented');
    return 1;
  },
};
