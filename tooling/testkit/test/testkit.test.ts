import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  connectRedis,
  deleteKeys,
  findProcessesWithArg,
  listProcesses,
  readProc,
  startPrivateRedis,
  uniquePrefix,
} from '../src/index.js';

describe('testkit', () => {
  const redis = connectRedis();
  afterEach(async () => {
    await deleteKeys(redis, 'qscale-test:testkit:*');
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('deletes only the keys under a prefix', async () => {
    const mine = uniquePrefix('testkit');
    const other = uniquePrefix('testkit');
    await redis.set(`${mine}a`, '1');
    await redis.set(`${mine}b`, '1');
    await redis.set(`${other}c`, '1');
    expect(await deleteKeys(redis, `${mine}*`)).toBe(2);
    expect(await redis.exists(`${other}c`)).toBe(1);
  });

  it('starts, stops and restarts a private redis-server', async () => {
    const server = await startPrivateRedis();
    const firstPid = server.pid ?? -1;
    expect((await readProc(firstPid))?.argv.join(' ')).toMatch(/redis-server/);
    const client = connectRedis(server.url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    await server.stop();
    expect(await readProc(firstPid)).toBeNull();
    expect(server.pid).toBeNull();
    await server.start();
    expect(server.pid).not.toBe(firstPid);
    await server.stop();
  });

  it('says why a private redis-server could not start, after trying other ports, and leaves nothing behind', async () => {
    // Every attempt is told to use a port this test holds (a later --port wins), as if each
    // free port were taken before the server bound it.
    const holder = createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const taken = (holder.address() as { port: number }).port;
    const before = (await readdir(tmpdir())).filter((name) => name.startsWith('qscale-redis-'));
    await expect(startPrivateRedis(['--port', String(taken)])).rejects.toThrow(
      /exited:[\s\S]*Address already in use/,
    );
    holder.close();
    const after = (await readdir(tmpdir())).filter((name) => name.startsWith('qscale-redis-'));
    expect(after.filter((name) => !before.includes(name))).toEqual([]);
    // No redis-server of this test runs: each exited, and it was told to use only `taken`.
    const servers = (await listProcesses()).filter((info) =>
      info.argv.join(' ').includes(`:${taken}`),
    );
    expect(servers).toEqual([]);
  });

  it('keeps a private redis-server and any dump it writes out of the working directory', async () => {
    const server = await startPrivateRedis();
    const dir = server.dir ?? '';
    expect(dir).not.toBe('');
    expect(await readlink(`/proc/${server.pid}/cwd`)).toBe(dir);
    const client = connectRedis(server.url);
    // SAVE writes an RDB even with --save '': it must land in the server's own directory.
    expect(await client.save()).toBe('OK');
    client.disconnect();
    expect(existsSync(join(dir, 'dump.rdb'))).toBe(true);
    expect(existsSync(join(process.cwd(), 'dump.rdb'))).toBe(false);
    await server.stop();
    expect(server.dir).toBeNull();
    expect(existsSync(dir)).toBe(false);
  });

  it('starts a private redis-server that requires a password', async () => {
    const server = await startPrivateRedis(['--requirepass', 'testkit-secret']);
    const anonymous = connectRedis(server.url);
    anonymous.on('error', () => {}); // its ready check is refused too: expected here
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();
    const url = new URL(server.url);
    url.password = 'testkit-secret';
    const authenticated = connectRedis(url.toString());
    expect(await authenticated.ping()).toBe('PONG');
    authenticated.disconnect();
    await server.stop();
  });

  it('reads this process from /proc', async () => {
    const me = await readProc(process.pid);
    expect(me?.pid).toBe(process.pid);
    expect(me?.startTicks).toBeGreaterThan(0);
    expect(await readProc(2 ** 30)).toBeNull();
  });

  it('finds processes by a marker argument', async () => {
    const found = await findProcessesWithArg(process.argv[1] ?? '');
    expect(found.map((info) => info.pid)).toContain(process.pid);
  });
});
