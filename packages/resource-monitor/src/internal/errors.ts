import { QscaleError } from '@qscale/contracts';

/**
 * - `RESOURCE_OPTIONS_INVALID`: an option of `createResourceMonitor` or an input of `capacity`
 *   is out of range (the message names it, the value found and the value expected).
 * - `RESOURCE_MONITOR_CLOSED`: `snapshot` or `limits` was called after `close`.
 */
export type ResourceMonitorErrorCode = 'RESOURCE_OPTIONS_INVALID' | 'RESOURCE_MONITOR_CLOSED';

/** Thrown for misuse only: unreadable files never throw, they become `errors` entries. */
export class ResourceMonitorError extends QscaleError<ResourceMonitorErrorCode> {}

Object.defineProperty(ResourceMonitorError.prototype, 'name', {
  value: 'ResourceMonitorError',
  writable: true,
  configurable: true,
});
