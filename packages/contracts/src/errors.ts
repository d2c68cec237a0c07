/**
 * The brand lives under a registered symbol, so `isQscaleError` recognises errors thrown by
 * another copy of this package (duplicate installs, plugins with their own dependency tree),
 * where `instanceof` would say no.
 */
const qscaleErrorBrand = Symbol.for('qscale.error');

/**
 * The one base class for every error qscale throws. `code` is a string literal each package
 * narrows (`'CONFIG_INVALID'`, `'REDIS_UNREACHABLE'`, ...); `cause` keeps the original error.
 * Messages name the thing, the value found and the value expected.
 */
export class QscaleError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

Object.defineProperty(QscaleError.prototype, 'name', {
  value: 'QscaleError',
  writable: true,
  configurable: true,
});
Object.defineProperty(QscaleError.prototype, qscaleErrorBrand, { value: true });

/**
 * True for any qscale error, from any copy of the package; with `code`, only for that code.
 */
export function isQscaleError<Code extends string = string>(
  value: unknown,
  code?: Code,
): value is QscaleError<Code> {
  if (typeof value !== 'object' || value === null || !(qscaleErrorBrand in value)) return false;
  return code === undefined || (value as { code?: unknown }).code === code;
}
