/** Where a command writes and what it runs in; injected so tests run commands in-process. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes shared by every command. */
export const EXIT = {
  /** Done, nothing wrong. */
  ok: 0,
  /** The command ran and found problems, or failed. */
  failure: 1,
  /** The command line itself was wrong. */
  usage: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT] | 3;

export function line(stream: { write(text: string): unknown }, text = ''): void {
  stream.write(`${text}\n`);
}
