// Figures in the words of a decision's reason: short, with their unit.

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** Cores with enough digits to tell 0.012 from 0.02: `1.70 cores`, `0.012 cores`. */
export function cores(value: number): string {
  const digits = Math.abs(value) < 0.1 ? 3 : 2;
  return `${value.toFixed(digits)} cores`;
}

/** Bytes as MiB below a GiB, else GiB with one decimal: `412 MiB`, `19.1 GiB`. */
export function bytes(value: number): string {
  return Math.abs(value) < GiB
    ? `${Math.round(value / MiB)} MiB`
    : `${(value / GiB).toFixed(1)} GiB`;
}

/** `1 worker`, `3 workers`. */
export function count(value: number, noun: string): string {
  return `${value} ${noun}${value === 1 ? '' : 's'}`;
}
