import { describe, expect, it } from 'vitest';
import { isQscaleError, QscaleError } from './errors.js';

describe('QscaleError', () => {
  it('carries a code, a message and the original cause', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new QscaleError('REDIS_UNREACHABLE', 'Redis at 127.0.0.1:1 refused', { cause });
    expect(error.code).toBe('REDIS_UNREACHABLE');
    expect(error.message).toBe('Redis at 127.0.0.1:1 refused');
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('QscaleError');
    expect(error).toBeInstanceOf(Error);
  });

  it('is recognised with or without a code filter', () => {
    const error = new QscaleError('CONFIG_INVALID', 'bad');
    expect(isQscaleError(error)).toBe(true);
    expect(isQscaleError(error, 'CONFIG_INVALID')).toBe(true);
    expect(isQscaleError(error, 'OTHER')).toBe(false);
    expect(isQscaleError(new Error('plain'))).toBe(false);
    expect(isQscaleError({ code: 'CONFIG_INVALID' })).toBe(false);
    expect(isQscaleError(null)).toBe(false);
  });

  it('recognises errors thrown by a second copy of the package, where instanceof fails', async () => {
    // A query string makes the module loader evaluate the file again: a duplicate install.
    const specifier = './errors.js?duplicate-install';
    const copy = (await import(specifier)) as typeof import('./errors.js');
    expect(copy.QscaleError).not.toBe(QscaleError);
    const foreign = new copy.QscaleError('X', 'from the other copy');
    expect(foreign instanceof QscaleError).toBe(false);
    expect(isQscaleError(foreign, 'X')).toBe(true);
  });

  it('subclasses keep the brand and can name themselves', () => {
    class ConfigError extends QscaleError<'CONFIG_INVALID'> {}
    Object.defineProperty(ConfigError.prototype, 'name', { value: 'ConfigError' });
    const error = new ConfigError('CONFIG_INVALID', 'bad');
    expect(isQscaleError(error, 'CONFIG_INVALID')).toBe(true);
    expect(error.name).toBe('ConfigError');
    expect(String(error)).toBe('ConfigError: bad');
  });
});
