import { describe, expect, it } from 'vitest';
import { ConfigError, formatHelp, parseDuration, parseOptions } from './config.ts';

const specs = {
  model: { type: 'string', help: 'model dir', env: 'MODEL' },
  port: { type: 'int', default: 8000, min: 0, max: 65535, help: 'port' },
  device: { type: 'string', default: 'cpu', choices: ['cpu', 'cuda'], help: 'device' },
  prefixCaching: { type: 'bool', default: true, help: 'prefix caching' },
  backends: { type: 'list', help: 'urls' },
  ttl: { type: 'duration', default: 60, help: 'ttl' },
} as const;

describe('parseOptions', () => {
  it('takes flag over env over default', () => {
    expect(parseOptions(specs, [], {}).port).toBe(8000);
    expect(parseOptions(specs, [], { MODEL: '/env' }).model).toBe('/env');
    expect(parseOptions(specs, ['--model', '/flag'], { MODEL: '/env' }).model).toBe('/flag');
    expect(parseOptions(specs, ['--port=9'], {}).port).toBe(9);
  });

  it('parses lists, durations and booleans, including --no-<flag>', () => {
    const o = parseOptions(
      specs,
      ['--backends', 'a, b,', '--ttl', '2h', '--no-prefix-caching'],
      {},
    );
    expect(o.backends).toEqual(['a', 'b']);
    expect(o.ttl).toBe(7200);
    expect(o.prefixCaching).toBe(false);
    expect(parseOptions(specs, ['--prefix-caching'], {}).prefixCaching).toBe(true);
  });

  it.each([
    [['--prot', '1'], /unknown option --prot/],
    [['--port', 'x'], /--port: 'x' is not an integer/],
    [['--port', '70000'], /--port: 70000 is above 65535/],
    [['--device', 'tpu'], /--device: 'tpu' is not one of cpu, cuda/],
    [['--model'], /--model needs a value/],
    [['stray'], /unexpected argument 'stray'/],
    [['--ttl', 'soon'], /--ttl: invalid duration/],
  ])('fails loudly naming the flag: %j', (argv, message) => {
    expect(() => parseOptions(specs, argv as string[], {})).toThrow(ConfigError);
    expect(() => parseOptions(specs, argv as string[], {})).toThrow(message);
  });

  it('names the env var when an env value is bad', () => {
    expect(() =>
      parseOptions({ port: { type: 'int', env: 'PORT', help: '' } }, [], { PORT: 'eighty' }),
    ).toThrow(/PORT/);
  });
});

describe('parseDuration', () => {
  it.each([
    ['90', 90],
    ['15m', 900],
    ['1.5h', 5400],
    ['7d', 604800],
    ['250ms', 0.25],
  ])('%s → %d s', (text, seconds) => expect(parseDuration(text)).toBe(seconds));
});

describe('formatHelp', () => {
  it('lists each flag with its default, env var and choices', () => {
    const help = formatHelp(specs);
    expect(help).toMatch(/--port INT\s+port \(default: 8000\)/);
    expect(help).toContain('env: MODEL');
    expect(help).toContain('one of: cpu, cuda');
    expect(help).toContain('--prefix-caching | --no-prefix-caching');
  });
});
