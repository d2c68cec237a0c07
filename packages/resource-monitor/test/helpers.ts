import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogFields, Logger } from '@qscale/contracts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface FixtureTree {
  procRoot: string;
  sysRoot: string;
  /** Overwrites a file of the copy in place (same inode, as the kernel updates counters). */
  write(path: string, text: string): Promise<void>;
  remove(path: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A private copy of a fixture tree, so a test can move its counters. */
export async function fixtureTree(name: string): Promise<FixtureTree> {
  const dir = await mkdtemp(join(tmpdir(), `qscale-rm-${name}-`));
  await cp(join(FIXTURES, name), dir, { recursive: true });
  return {
    procRoot: join(dir, 'proc'),
    sysRoot: join(dir, 'sys'),
    write: (path, text) => writeFile(join(dir, path), text),
    remove: (path) => rm(join(dir, path), { recursive: true, force: true }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface LogLine {
  level: keyof Logger;
  message: string;
  fields: LogFields | undefined;
}

/** A logger that keeps what it is told, for assertions. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: keyof Logger) =>
    (message: string, fields?: LogFields): void => {
      lines.push({ level, message, fields });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A clock the test moves by hand. */
export function manualClock(startMs = 1_700_000_000_000) {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}
