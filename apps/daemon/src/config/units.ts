// Human-friendly durations and sizes in configuration files. Units are mandatory: a bare
// number would be ambiguous (seconds? milliseconds?) and silently wrong.

const DURATION_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const SIZE_UNITS_BYTES = {
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1_024,
  mib: 1_048_576,
  gib: 1_073_741_824,
} as const;

/** `500ms`, `30s`, `1.5m`, `2h`. */
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
/** `512MB` (10^6), `512MiB` (2^20), `2GiB`, `100B`; the unit is case-insensitive. */
export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s?(b|kb|mb|gb|kib|mib|gib)$/i;

/** Milliseconds for a duration string, or null when it is not one. */
export function parseDurationMs(text: string): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return null;
  const unit = match[2] as keyof typeof DURATION_UNITS_MS;
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[unit]);
}

/** Bytes for a size string, or null when it is not one. */
export function parseSizeBytes(text: string): number | null {
  const match = SIZE_PATTERN.exec(text.trim());
  if (!match) return null;
  const unit = (match[2] ?? '').toLowerCase() as keyof typeof SIZE_UNITS_BYTES;
  return Math.round(Number(match[1]) * SIZE_UNITS_BYTES[unit]);
}
