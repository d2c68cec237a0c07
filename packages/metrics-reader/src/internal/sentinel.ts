import { connect } from 'node:net';
import type { ResolvedSentinel } from './options.js';
import { encodeCommands, RespParser, type RespValue } from './resp.js';

/** Where a Sentinel says the master is. */
export interface MasterAddress {
  host: string;
  port: number;
}

/**
 * Asks the Sentinels, in order, where the master is (`SENTINEL GET-MASTER-ADDR-BY-NAME`); the
 * first that answers wins. Each question is a short-lived connection: a Sentinel is asked once
 * per connection to the master, not every tick.
 * @throws an error naming every Sentinel and why it gave no master (never the password).
 */
export async function askSentinels(
  sentinel: ResolvedSentinel,
  timeoutMs: number,
): Promise<MasterAddress> {
  const reasons: string[] = [];
  for (const { host, port } of sentinel.sentinels) {
    try {
      const commands: (string | number)[][] = [];
      if (sentinel.password !== null) {
        commands.push(
          sentinel.username !== null
            ? ['auth', sentinel.username, sentinel.password]
            : ['auth', sentinel.password],
        );
      }
      commands.push(['sentinel', 'get-master-addr-by-name', sentinel.masterName]);
      const replies = await exchange(host, port, commands, timeoutMs);
      const refused = replies.find((reply): reply is Error => reply instanceof Error);
      if (refused) throw refused;
      const address = replies.at(-1);
      if (!Array.isArray(address) || address.length < 2) {
        throw new Error(`does not monitor a master named "${sentinel.masterName}"`);
      }
      return { host: String(address[0]), port: Number(address[1]) };
    } catch (error) {
      reasons.push(`${host}:${port}: ${(error as Error).message}`);
    }
  }
  throw new Error(
    `no Sentinel named a master for "${sentinel.masterName}" (${reasons.join('; ')})`,
  );
}

/** One connection, one pipeline, all replies, close. */
function exchange(
  host: string,
  port: number,
  commands: (string | number)[][],
  timeoutMs: number,
): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const replies: RespValue[] = [];
    const socket = connect({ host, port });
    const finish = (error: Error | null) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    const timer = setTimeout(
      () => finish(new Error(`timed out connecting after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const parser = new RespParser((value) => {
      replies.push(value);
      if (replies.length === commands.length) finish(null);
    });
    socket.once('connect', () => socket.write(encodeCommands(commands)));
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.feed(chunk);
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error('Connection is closed.')));
  });
}
