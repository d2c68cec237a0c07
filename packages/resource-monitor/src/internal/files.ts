import { close, open, read } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { FormatProblem } from './parse.js';

/** A file that could not be read or parsed: the file, and what was wrong with what it held. */
export interface FileProblem {
  file: string;
  message: string;
}

const REASONS: Record<string, string> = {
  ENOENT: 'does not exist',
  ESRCH: 'no such process: it exited',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory, expected a file',
  EOPNOTSUPP: 'not supported by this kernel',
  ENOTSUP: 'not supported by this kernel',
  EMFILE: 'too many open files in this process',
};

/** The `code` of a Node file-system error, if it is one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A FileProblem for anything a read or a parser threw. */
export function describeProblem(file: string, error: unknown): FileProblem {
  if (error instanceof FormatProblem) return { file, message: error.message };
  const code = errorCode(error);
  const reason =
    (code && REASONS[code]) ?? (error instanceof Error ? error.message : String(error));
  return { file, message: `cannot be read: ${reason}` };
}

/** A file is absent (or the kernel does not offer it): a normal case, not a problem. */
export function isAbsent(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'EOPNOTSUPP' || code === 'ENOTSUP';
}

/** Reads a whole text file once (limits, refreshed every minute). */
export function readText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

/** Reads a whole file, or null when it does not exist. Other errors are thrown. */
export async function readTextIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isAbsent(error)) return null;
    throw error;
  }
}

/**
 * A /proc or cgroup file read every tick through a descriptor kept open: each read is one
 * positional `read` at offset 0, which makes the kernel regenerate the content, instead of
 * open + fstat + read + close (`readFile`). The callback API is used because it costs half of
 * what `FileHandle.read` does per call (measured in bench/resource-monitor). A descriptor on
 * `/proc/PID/stat` also fails with ESRCH once that process is gone, so a reused PID is never
 * read through an old descriptor.
 */
export class KeptFile {
  #fd: number | null = null;
  #buffer: Buffer;
  readonly path: string;
  /** Read at most this many bytes (the head of `/proc/stat` is all that is needed). */
  readonly #maxBytes: number | null;

  constructor(path: string, { initialBytes = 4_096, maxBytes = null as number | null } = {}) {
    this.path = path;
    this.#maxBytes = maxBytes;
    this.#buffer = Buffer.allocUnsafe(maxBytes ?? initialBytes);
  }

  async read(): Promise<string> {
    try {
      return await this.#read();
    } catch (error) {
      // Reopen by path next time: the file may be back, or belong to a new process.
      await this.close().catch(() => {});
      throw error;
    }
  }

  async #read(): Promise<string> {
    this.#fd ??= await openFd(this.path);
    let length = 0;
    for (;;) {
      const bytesRead = await readFd(this.#fd, this.#buffer, length);
      length += bytesRead;
      if (bytesRead === 0 || length < this.#buffer.length || this.#maxBytes !== null) break;
      const bigger = Buffer.allocUnsafe(this.#buffer.length * 2);
      this.#buffer.copy(bigger, 0, 0, length);
      this.#buffer = bigger;
    }
    return this.#buffer.toString('latin1', 0, length);
  }

  async close(): Promise<void> {
    const fd = this.#fd;
    this.#fd = null;
    if (fd !== null) await closeFd(fd);
  }
}

function openFd(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (error, fd) => (error ? reject(error) : resolve(fd)));
  });
}

/** Reads into `buffer` from `offset` on, at file position `offset`. */
function readFd(fd: number, buffer: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, offset, buffer.length - offset, offset, (error, bytesRead) =>
      error ? reject(error) : resolve(bytesRead),
    );
  });
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    close(fd, (error) => (error ? reject(error) : resolve()));
  });
}
