import { formatHelp, type OptionSpecs } from '../shared/config.ts';

/** True (after printing help) when argv asks for it. */
export function wantsHelp(argv: string[], usage: string, specs: OptionSpecs, footer = ''): boolean {
  if (!argv.includes('--help') && !argv.includes('-h')) return false;
  console.log(`${usage}\n\nOptions:\n${formatHelp(specs)}${footer ? `\n\n${footer}` : ''}`);
  return true;
}
