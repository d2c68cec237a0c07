import { QscaleError } from '@qscale/contracts';

/** Every code a {@link SupervisorError} may carry. */
export type SupervisorErrorCode =
  /** An option is missing, of the wrong type or out of range; the message names it. */
  | 'INVALID_OPTIONS'
  /** The worker program is not an executable file (searched on the worker's PATH). */
  | 'COMMAND_NOT_FOUND'
  /** The working directory does not exist or is not a directory. */
  | 'CWD_NOT_FOUND'
  /** The configured user or group has no entry in /etc/passwd or /etc/group. */
  | 'ACCOUNT_NOT_FOUND'
  /** Running workers as another user needs root, and the supervisor is not root. */
  | 'ACCOUNT_SWITCH_NOT_PERMITTED'
  /** `refuseRoot` is set, the supervisor runs as root and the queue names no user. */
  | 'ROOT_REFUSED'
  /** A pool with this queue name already exists in this supervisor. */
  | 'POOL_EXISTS'
  /** The pool or supervisor was stopped; create a new one. */
  | 'STOPPED'
  /** The state file exists but is not a state file this version can read. */
  | 'STATE_FILE_INVALID'
  /** Another live supervisor is using the same state file. */
  | 'STATE_FILE_IN_USE'
  /** The state file (or its folder) cannot be created or written. */
  | 'STATE_FILE_UNWRITABLE'
  /**
   * The state file is not provably ours: a symbolic link, not a regular file, owned by another
   * user, writable by group or others, or in a folder others may write to (see the README).
   */
  | 'STATE_FILE_UNSAFE'
  /**
   * A signal to a process group that can never be a worker's was refused: group 0 or 1, a
   * negative or fractional id, or the supervisor's own process or group (`kill(-1)` would reach
   * every process of the host or PID namespace).
   */
  | 'SIGNAL_REFUSED';

/** The one error class of this package; `code` says what went wrong, `cause` keeps the origin. */
export class SupervisorError extends QscaleError<SupervisorErrorCode> {}

Object.defineProperty(SupervisorError.prototype, 'name', {
  value: 'SupervisorError',
  writable: true,
  configurable: true,
});
