import { execFileSync } from 'node:child_process';
import { link, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readStateFile, type StateDocument, StateWriter } from './state-file.js';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const doc = (n: number): StateDocument => ({
  version: 1,
  supervisor: { pid: process.pid, startTicks: 1, bootId: 'b' },
  updatedAt: n,
  workers: [],
});

describe('state file', () => {
  it('coalesces a burst of changes into few atomic writes, leaving no temporary file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'qscale-state-'));
    const path = join(dir, 'nested', 'state.json');
    let version = 0;
    let snapshots = 0;
    const writer = new StateWriter(
      path,
      () => {
        snapshots++;
        return doc(version);
      },
      (error) => {
        throw error;
      },
    );
    await writer.writeOrThrow();
    for (version = 1; version <= 100; version++) writer.markDirty();
    version = 100;
    await writer.flush();
    expect(snapshots).toBeLessThanOrEqual(3);
    expect((await readStateFile(path))?.updatedAt).toBe(100);
    expect(await readdir(join(dir, 'nested'))).toEqual(['state.json']);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(doc(100));
  });

  it('refuses a FIFO without waiting for a writer, and a file with a second hard link', async () => {
    dir = await mkdtemp(join(tmpdir(), 'qscale-state-'));
    const path = join(dir, 'state.json');
    execFileSync('mkfifo', ['-m', '600', path]);
    await expect(readStateFile(path)).rejects.toMatchObject({
      code: 'STATE_FILE_UNSAFE',
      message: expect.stringContaining('is not a regular file'),
    });
    await rm(path);
    await writeFile(path, JSON.stringify(doc(1)), { mode: 0o600 });
    expect((await readStateFile(path))?.updatedAt).toBe(1);
    await link(path, join(dir, 'elsewhere'));
    await expect(readStateFile(path)).rejects.toMatchObject({
      code: 'STATE_FILE_UNSAFE',
      message: expect.stringContaining('2 hard links'),
    });
  });

  it('reads a missing file as no previous run', async () => {
    dir = await mkdtemp(join(tmpdir(), 'qscale-state-'));
    expect(await readStateFile(join(dir, 'none.json'))).toBeNull();
  });
});
