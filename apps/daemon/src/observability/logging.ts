import {
  isSecretName,
  type LogFields,
  type Logger,
  REDACTED,
  redactSecretShapes,
} from '@qscale/contracts';
import { type DestinationStream, pino } from 'pino';
import pretty from 'pino-pretty';

export interface DaemonLoggerOptions {
  level: 'debug' | 'info' | 'warn' | 'error';
  /** `auto`: human-readable when the destination is a TTY, JSON lines otherwise. */
  format: 'auto' | 'json' | 'pretty';
  /**
   * Where lines go. When it fails (EPIPE: `qscaled | head` after head exits), logging stops
   * and the daemon goes on. @defaultValue process.stdout
   */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface DaemonLogger extends Logger {
  /** Values never to print (passwords, tokens, secret worker env values); replaced by the reload. */
  setSecrets(values: Iterable<string>): void;
  /** Writes what is buffered; call before exiting. */
  flush(): void;
}

const MIN_SECRET_LENGTH = 4;

/** Field keys whose values are never logged, wherever they appear in the fields. */
function isSecretKey(key: string): boolean {
  return key !== '' && (isSecretName(key) || /^(?:authorization|(?:set-)?cookie)$/i.test(key));
}

/**
 * The daemon's logger: pino JSON lines (pretty on a TTY), with three layers of redaction:
 * the configured secret values, secret-looking keys, and secret shapes (credentials inside
 * URLs, bearer tokens, JWTs, well-known API keys). Ordinary values are never redacted.
 */
export function createDaemonLogger(options: DaemonLoggerOptions): DaemonLogger {
  const destination = options.destination ?? process.stdout;
  const output = guarded(destination);
  const usePretty =
    options.format === 'pretty' || (options.format === 'auto' && destination.isTTY === true);
  const prettify = usePretty
    ? pretty.prettyFactory({
        colorize: destination.isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      })
    : null;
  const stream: DestinationStream = {
    write: (line: string) => output(prettify ? prettify(line) : line),
  };
  const base = pino({ level: options.level, base: null }, stream);
  let secrets: string[] = [];

  const scrubText = (text: string): string => {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join(REDACTED);
    return redactSecretShapes(out);
  };
  const scrub = (value: unknown, key = '', depth = 0): unknown => {
    if (isSecretKey(key) && value !== null && value !== undefined) return REDACTED;
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

/**
 * A write function that gives up for good once the destination fails: a closed pipe
 * (`qscaled | head`) must cost the logs, never the daemon and its workers. Without an
 * 'error' listener, the EPIPE would be an uncaught exception.
 */
function guarded(destination: NodeJS.WritableStream): (text: string) => void {
  let broken = false;
  destination.on('error', () => {
    broken = true;
  });
  return (text) => {
    const state = destination as { destroyed?: boolean; writableEnded?: boolean };
    if (broken || state.destroyed === true || state.writableEnded === true) return;
    try {
      destination.write(text);
    } catch {
      // A synchronous failure (a stream already ended): same as EPIPE.
      broken = true;
    }
  };
}
