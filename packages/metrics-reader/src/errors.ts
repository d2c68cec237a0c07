import { QscaleError } from '@qscale/contracts';

/**
 * Codes of the errors the metrics reader throws or reports in a snapshot's `error`:
 * - `INVALID_OPTIONS`: `createMetricsReader` was given options it cannot use (thrown);
 * - `REDIS_UNREACHABLE`: the connection is down or refused (reconnection continues with backoff);
 * - `REDIS_TIMEOUT`: Redis did not answer within `commandTimeoutMs`;
 * - `REDIS_AUTH`: the user name or password was refused;
 * - `REDIS_NO_PERMISSION`: the ACL user may not run a read the driver needs;
 * - `REDIS_TLS`: the TLS set-up failed (CA file unreadable, certificate refused);
 * - `REDIS_ERROR`: any other error reply;
 * - `WRONG_TYPE`: a key holds another type than the queue system uses (e.g. a hash for a list);
 * - `BAD_PAYLOAD`: a job payload or field is not what the queue system writes;
 * - `PAYLOAD_TOO_LARGE`: a payload is larger than `maxPayloadBytes`;
 * - `MISSING_TIMESTAMP`: a job carries no time it became ready, so its age is unknown;
 * - `CLOSED`: `snapshot()` or `discover()` was called after `close()` (thrown).
 */
export type MetricsReaderErrorCode =
  | 'INVALID_OPTIONS'
  | 'REDIS_UNREACHABLE'
  | 'REDIS_TIMEOUT'
  | 'REDIS_AUTH'
  | 'REDIS_NO_PERMISSION'
  | 'REDIS_TLS'
  | 'REDIS_ERROR'
  | 'WRONG_TYPE'
  | 'BAD_PAYLOAD'
  | 'PAYLOAD_TOO_LARGE'
  | 'MISSING_TIMESTAMP'
  | 'CLOSED';

/** The error `createMetricsReader` throws; snapshots carry the same codes as data. */
export class MetricsReaderError extends QscaleError<MetricsReaderErrorCode> {}

Object.defineProperty(MetricsReaderError.prototype, 'name', {
  value: 'MetricsReaderError',
  writable: true,
  configurable: true,
});
