import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { SupervisorError } from '../errors.js';
import { describeIssues } from './settings.js';

const entrySchema = z.strictObject({
  queue: z.string().min(1),
  pid: z.number().int().positive(),
  /** The worker leads its own process group, so this is its PID; kept for clarity. */
  pgid: z.number().int().positive(),
  /** /proc/PID/stat field 22 at spawn: a PID with another start time is another process. */
  startTicks: z.number().int().nonnegative(),
  bootId: z.string().min(1),
  /** Hash of argv, env, cwd and account: tells an adopted worker of an older config. */
  commandHash: z.string().min(1),
  argv0: z.string(),
  /** Epoch milliseconds. */
  spawnedAt: z.number().int().nonnegative(),
  /** How to stop it, should the queue be gone from the next configuration. */
  stopSignals: z.array(z.string()).min(1),
  graceMs: z.number().int().nonnegative(),
});
export type StateEntry = z.infer<typeof entrySchema>;

const documentSchema = z.strictObject({
  version: z.literal(1),
  supervisor: z.strictObject({
    pid: z.number().int().positive(),
    startTicks: z.number().int().nonnegative(),
    bootId: z.string().min(1),
  }),
  /** Epoch milliseconds of the write. */
  updatedAt: z.number().int().nonnegative(),
  workers: z.array(entrySchema),
});
export type StateDocument = z.infer<typeof documentSchema>;

/** Reads and validates the state file; null when there is none. */
export async function readStateFile(path: string): Promise<StateDocument | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    // No file (or no folder yet): nothing to adopt. Whether it can be written is checked next.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new SupervisorError(
      'STATE_FILE_INVALID',
      `cannot read state file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SupervisorError(
      'STATE_FILE_INVALID',
      `state file ${path} is not JSON; expected a file written by @qscale/process-supervisor (move it away to start without adopting)`,
      { cause: error },
    );
  }
  const parsed = documentSchema.safeParse(json);
  if (!parsed.success) {
    throw new SupervisorError(
      'STATE_FILE_INVALID',
      describeIssues(`state file ${path} is not a version 1 supervisor state file`, parsed.error),
    );
  }
  return parsed.data;
}

/**
 * Writes the state file atomically (temporary file, fsync, rename), one write at a time:
 * changes made while a write runs are coalesced into the next one, so a burst of 100 spawns
 * costs two writes, not 100.
 */
export class StateWriter {
  readonly #path: string;
  readonly #snapshot: () => StateDocument;
  readonly #onError: (error: unknown) => void;
  #running: Promise<void> | null = null;
  #dirty = false;

  constructor(path: string, snapshot: () => StateDocument, onError: (error: unknown) => void) {
    this.#path = path;
    this.#snapshot = snapshot;
    this.#onError = onError;
  }

  /** Schedules a write of the current state; failures go to `onError`. */
  markDirty(): void {
    this.#dirty = true;
    this.#running ??= this.#drain().finally(() => {
      this.#running = null;
    });
  }

  /** Resolves once every change marked so far is on disk (or failed). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Writes now and throws when it cannot: used at start to prove the file is writable. */
  async writeOrThrow(): Promise<void> {
    await this.flush();
    try {
      await mkdir(dirname(this.#path), { recursive: true });
      await this.#write();
    } catch (error) {
      throw new SupervisorError(
        'STATE_FILE_UNWRITABLE',
        `cannot write state file ${this.#path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async #drain(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      try {
        await this.#write();
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  async #write(): Promise<void> {
    const temporary = `${this.#path}.${process.pid}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(this.#snapshot(), null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temporary, this.#path);
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
  }
}
