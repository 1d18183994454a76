/** Structured logs: one JSON object per line on stderr. Never log prompt or completion text. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = Record<LogLevel, (msg: string, fields?: Record<string, unknown>) => void>;

export function createLogger(
  component: string,
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const at =
    (lvl: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[lvl] < ORDER[level]) return;
      write(
        JSON.stringify({ time: new Date().toISOString(), level: lvl, component, msg, ...fields }),
      );
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** An error's message and stack for a log line (never sent to clients). */
export const errorFields = (err: unknown) =>
  err instanceof Error ? { error: err.message, stack: err.stack } : { error: String(err) };
