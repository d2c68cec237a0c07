/** Structured fields attached to a log line; values must be JSON-serialisable. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * The logger every library takes by injection. Libraries never write to the console: the
 * daemon adapts pino to this interface, tests pass a recording logger.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ignore = (): void => {};

/** A logger that drops everything: the default when none is injected. */
export const silentLogger: Logger = Object.freeze({
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
});
