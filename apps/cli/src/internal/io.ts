/** Where a command writes and what it runs in; injected so tests run commands in-process. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
}

/** Every exit code the CLI uses; `qscale --help` lists them from EXIT_MEANINGS. */
export const EXIT = {
  /** Done, nothing wrong. */
  ok: 0,
  /** The command ran and found problems, or failed. */
  failure: 1,
  /** The command line itself was wrong. */
  usage: 2,
  /** `audit`: a target it was asked to scan was unreachable or failed. */
  incomplete: 3,
  /** Stopped by Ctrl-C (SIGINT) after a graceful stop: `demo`. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What each exit code means, for the help. */
export const EXIT_MEANINGS: Readonly<Record<ExitCode, string>> = {
  0: 'ok',
  1: 'findings (audit, validate) or failure (a missing or invalid file, an unreachable daemon)',
  2: 'usage error: an unknown command or flag, a bad or missing value',
  3: 'audit incomplete: a target it was asked to scan was unreachable or failed',
  130: 'interrupted by Ctrl-C, after every worker stopped gracefully (demo)',
};

export function line(stream: { write(text: string): unknown }, text = ''): void {
  stream.write(`${text}\n`);
}
