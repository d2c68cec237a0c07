import { QscaleError } from '@qscale/contracts';

export type AuditErrorCode =
  /** `path` does not exist or is not a directory. */
  | 'AUDIT_PATH_INVALID'
  /** The config object does not have the shape the audit reads. */
  | 'AUDIT_CONFIG_INVALID'
  /** The baseline file is unreadable or malformed. */
  | 'AUDIT_BASELINE_INVALID'
  /** The manual-review answers file is unreadable or malformed. */
  | 'AUDIT_MANUAL_INVALID'
  /** An option has a value outside its range. */
  | 'AUDIT_OPTION_INVALID';

/** Bad input to the audit; the message names what was wrong and where. */
export class AuditError extends QscaleError<AuditErrorCode> {}
Object.defineProperty(AuditError.prototype, 'name', {
  value: 'AuditError',
  writable: true,
  configurable: true,
});
