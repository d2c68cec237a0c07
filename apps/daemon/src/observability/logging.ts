import type { LogFields, Logger } from '@qscale/contracts';
import { type DestinationStream, pino } from 'pino';
import pretty from 'pino-pretty';

export interface DaemonLoggerOptions {
  level: 'debug' | 'info' | 'warn' | 'error';
  /** `auto`: human-readable when the destination is a TTY, JSON lines otherwise. */
  format: 'auto' | 'json' | 'pretty';
  /** Where lines go. @defaultValue process.stdout */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface DaemonLogger extends Logger {
  /** Values never to print (passwords, tokens, worker env values); replaced by the reload. */
  setSecrets(values: Iterable<string>): void;
  /** Writes what is buffered; call before exiting. */
  flush(): void;
}

// Keys whose values are never logged, wherever they appear in the fields.
const SECRET_KEYS = /pass(word)?|token|secret|authorization|cookie|api[_-]?key/i;
// Credentials inside URLs: redis://user:password@host -> redis://user:***@host
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]*:)[^@\s/]+@/gi;
const MIN_SECRET_LENGTH = 4;

/**
 * The daemon's logger: pino JSON lines (pretty on a TTY), with three layers of redaction:
 * known secret values, secret-looking keys, and credentials inside URLs.
 */
export function createDaemonLogger(options: DaemonLoggerOptions): DaemonLogger {
  const destination = options.destination ?? process.stdout;
  const usePretty =
    options.format === 'pretty' || (options.format === 'auto' && destination.isTTY === true);
  const stream: DestinationStream = usePretty
    ? pretty({
        destination,
        colorize: destination.isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        sync: true,
      })
    : (destination as DestinationStream);
  const base = pino({ level: options.level, base: null }, stream);
  let secrets: string[] = [];

  const scrubText = (text: string): string => {
    let out = text.replace(URL_CREDENTIALS, '$1***@');
    for (const secret of secrets) out = out.split(secret).join('[redacted]');
    return out;
  };
  const scrub = (value: unknown, key = '', depth = 0): unknown => {
    if (SECRET_KEYS.test(key) && value !== null && value !== undefined) return '[redacted]';
    if (typeof value === 'string') return scrubText(value);
    if (value instanceof Error) return { type: value.name, message: scrubText(value.message) };
    if (depth > 6 || typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) return value.map((item) => scrub(item, '', depth + 1));
    return Object.fromEntries(
      Object.entries(value).map(([name, item]) => [name, scrub(item, name, depth + 1)]),
    );
  };
  const write =
    (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => {
      if (!base.isLevelEnabled(level)) return;
      base[level]((fields ? scrub(fields) : {}) as object, scrubText(message));
    };

  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    setSecrets(values) {
      // Longest first, so a secret containing another is replaced whole.
      secrets = [...new Set(values)]
        .filter((value) => value.length >= MIN_SECRET_LENGTH)
        .sort((a, b) => b.length - a.length);
    },
    flush() {
      base.flush();
    },
  };
}
