import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { type FileHandle, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
  /**
   * SHA-256 (hex) of the token in the worker's environment (QSCALE_WORKER_TOKEN): the worker
   * proves itself with it on adoption. Absent in files of older versions: nothing is adopted.
   */
  tokenHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
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

/*
 * The state file decides which processes the supervisor signals, so it is trusted only when
 * nobody else could have written it: a regular file (never a symbolic link, never followed),
 * with one link, owned by the supervisor's user and not writable by group or others, in a
 * folder owned by that user or root that no one else may write to, unless the folder is
 * sticky like /tmp, where others may add files but not rename or remove ours. A folder owned
 * by another user is refused even when sticky: its owner may replace anything in it. Checks
 * are made on the opened file (fstat), so the file checked is the file read.
 */

/** The user the supervisor's files are created as. */
function ownUid(): number {
  return process.geteuid?.() ?? process.getuid?.() ?? 0;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

function unsafe(message: string): SupervisorError {
  return new SupervisorError('STATE_FILE_UNSAFE', message);
}

const WRITABLE_BY_GROUP_OR_OTHERS = 0o022;
/** S_ISVTX: in such a folder only a file's owner (or the folder's, or root) may rename or remove it. */
const STICKY = 0o1000;

/** Throws STATE_FILE_UNSAFE unless the folder of `path` is safe to keep it in; ok when absent. */
async function checkFolder(path: string, uid: number): Promise<void> {
  const folder = dirname(path);
  let info: Stats;
  try {
    info = await stat(folder);
  } catch {
    return; // created with mode 0700 before the first write, or reported by that write
  }
  if (!info.isDirectory()) return;
  const found = `owner uid ${info.uid}, mode ${octal(info.mode)}`;
  if (info.uid !== uid && info.uid !== 0) {
    throw unsafe(
      `folder ${folder} of state file ${path} is owned by another user (${found}); expected a folder owned by uid ${uid} (the supervisor's user) or root, since its owner could replace the state file`,
    );
  }
  if ((info.mode & WRITABLE_BY_GROUP_OR_OTHERS) !== 0 && (info.mode & STICKY) === 0) {
    throw unsafe(
      `folder ${folder} of state file ${path} is writable by group or others (${found}); expected a folder only its owner can write to (chmod 700), or a sticky one like /tmp, since anyone who can write to it could replace the state file`,
    );
  }
}

/** Throws STATE_FILE_UNSAFE unless the opened state file is one only the supervisor could write. */
function checkFile(path: string, info: Stats, uid: number): void {
  const found = `owner uid ${info.uid}, mode ${octal(info.mode)}`;
  const expected = `expected a regular file owned by uid ${uid} (the supervisor's user) and not writable by group or others`;
  if (!info.isFile()) {
    throw unsafe(`state file ${path} is not a regular file (${found}); ${expected}`);
  }
  if (info.uid !== uid) {
    throw unsafe(
      `state file ${path} is owned by uid ${info.uid} (mode ${octal(info.mode)}); ${expected}: another user's file could name any process to signal (remove it, or chown it if you wrote it)`,
    );
  }
  if ((info.mode & WRITABLE_BY_GROUP_OR_OTHERS) !== 0) {
    throw unsafe(
      `state file ${path} has mode ${octal(info.mode)} (owner uid ${info.uid}); ${expected} (chmod 600 it)`,
    );
  }
  if (info.nlink !== 1) {
    throw unsafe(
      `state file ${path} has ${info.nlink} hard links (${found}); ${expected}, with one link`,
    );
  }
}

/**
 * Reads and validates the state file; null when there is none. Throws STATE_FILE_UNSAFE when
 * the file or its folder could have been written by someone else (see above).
 */
export async function readStateFile(path: string): Promise<StateDocument | null> {
  const uid = ownUid();
  await checkFolder(path, uid);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted here must not hang the start.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    // No file (or no folder yet): nothing to adopt. Whether it can be written is checked next.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    if (code === 'ELOOP') {
      throw unsafe(
        `state file ${path} is a symbolic link; expected a regular file (a link is never followed: remove it)`,
      );
    }
    throw new SupervisorError(
      'STATE_FILE_INVALID',
      `cannot read state file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let text: string;
  try {
    checkFile(path, await handle.stat(), uid);
    text = await handle.readFile('utf8');
  } catch (error) {
    if (error instanceof SupervisorError) throw error;
    throw new SupervisorError(
      'STATE_FILE_INVALID',
      `cannot read state file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    await handle.close();
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
      await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
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
    // A random name, created exclusively and never through a symbolic link: a name someone
    // could guess (the PID) would let them plant a link and have us write where it points.
    const suffix = randomBytes(12).toString('hex');
    const temporary = join(dirname(this.#path), `.${basename(this.#path)}.${suffix}.tmp`);
    const handle = await open(
      temporary,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      try {
        await handle.writeFile(`${JSON.stringify(this.#snapshot(), null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // rename replaces a link at the state file's path; it never writes through one.
      await rename(temporary, this.#path);
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
  }
}
