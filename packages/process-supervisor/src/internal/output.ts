import { performance } from 'node:perf_hooks';

export type StreamName = 'stdout' | 'stderr';

export interface OutputSettings {
  maxLineBytes: number;
  linesPerSecond: number;
  burstLines: number;
  tailLines: number;
}

export interface OutputSink {
  line(stream: StreamName, text: string, truncated: boolean): void;
  dropped(lines: number): void;
}

interface PartialLine {
  parts: Buffer[];
  bytes: number;
  /** The line was too long and has been emitted cut: drop the rest up to its newline. */
  skipping: boolean;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const DROP_REPORT_MS = 1_000;

/**
 * Splits a worker's stdout and stderr into lines while reading them continuously, so a chatty
 * worker never blocks on a full pipe. Memory stays bounded: a partial line is at most
 * `maxLineBytes`, the tail keeps `tailLines` lines, and lines beyond the rate limit (a token
 * bucket of `linesPerSecond` with `burstLines` of credit) are counted, not kept.
 */
export class OutputReader {
  readonly #settings: OutputSettings;
  readonly #redact: (line: string) => string;
  readonly #sink: OutputSink;
  readonly #partial: Record<StreamName, PartialLine> = {
    stdout: { parts: [], bytes: 0, skipping: false },
    stderr: { parts: [], bytes: 0, skipping: false },
  };
  readonly #tail: Buffer[] = [];
  #tokens: number;
  #refilledAt = performance.now();
  #dropped = 0;
  #dropTimer: NodeJS.Timeout | null = null;

  constructor(settings: OutputSettings, redact: (line: string) => string, sink: OutputSink) {
    this.#settings = settings;
    this.#redact = redact;
    this.#sink = sink;
    this.#tokens = settings.burstLines;
  }

  push(stream: StreamName, chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) {
        this.#append(stream, chunk.subarray(start));
        return;
      }
      this.#append(stream, chunk.subarray(start, newline));
      this.#complete(stream);
      start = newline + 1;
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end(stream: StreamName): void {
    if (this.#partial[stream].bytes > 0) this.#complete(stream);
  }

  /** The last lines, oldest first, redacted. */
  tail(): string[] {
    return this.#tail.map((line) => this.#redact(line.toString('utf8')));
  }

  /** Reports pending drops and stops the report timer. */
  close(): void {
    if (this.#dropTimer) clearTimeout(this.#dropTimer);
    this.#dropTimer = null;
    this.#reportDrops();
  }

  #append(stream: StreamName, piece: Buffer): void {
    const partial = this.#partial[stream];
    if (partial.skipping || piece.length === 0) return;
    const room = this.#settings.maxLineBytes - partial.bytes;
    if (piece.length <= room) {
      partial.parts.push(piece);
      partial.bytes += piece.length;
      return;
    }
    partial.parts.push(piece.subarray(0, room));
    const line = Buffer.concat(partial.parts);
    partial.parts = [];
    partial.bytes = 0;
    partial.skipping = true;
    this.#deliver(stream, line, true);
  }

  #complete(stream: StreamName): void {
    const partial = this.#partial[stream];
    if (partial.skipping) {
      partial.skipping = false;
      return;
    }
    const line = partial.parts.length === 1 ? partial.parts[0] : Buffer.concat(partial.parts);
    partial.parts = [];
    partial.bytes = 0;
    if (line) this.#deliver(stream, line, false);
  }

  #deliver(stream: StreamName, raw: Buffer, truncated: boolean): void {
    const line = raw.at(-1) === CARRIAGE_RETURN ? raw.subarray(0, -1) : raw;
    if (line.length === 0) return;
    if (this.#settings.tailLines > 0) {
      if (this.#tail.length >= this.#settings.tailLines) this.#tail.shift();
      this.#tail.push(Buffer.from(line));
    }
    if (!this.#take()) {
      this.#dropped++;
      this.#dropTimer ??= setTimeout(() => {
        this.#dropTimer = null;
        this.#reportDrops();
      }, DROP_REPORT_MS).unref();
      return;
    }
    this.#sink.line(stream, this.#redact(line.toString('utf8')), truncated);
  }

  #take(): boolean {
    const now = performance.now();
    const { linesPerSecond, burstLines } = this.#settings;
    this.#tokens = Math.min(
      burstLines,
      this.#tokens + ((now - this.#refilledAt) * linesPerSecond) / 1_000,
    );
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #reportDrops(): void {
    if (this.#dropped === 0) return;
    const lines = this.#dropped;
    this.#dropped = 0;
    this.#sink.dropped(lines);
  }
}
