import { readFile } from 'node:fs/promises';
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ResolvedTls } from './options.js';

/** Where one connection goes and how it logs in; explicit options override the URL. */
export interface Endpoint {
  /** Set for a Unix socket; then host and port are unused. */
  socketPath: string | null;
  host: string;
  port: number;
  tls: boolean;
  username: string | null;
  password: string | null;
  db: number;
}

/**
 * Opens a Unix socket, a TCP or a TLS connection (verifying the server, presenting a client
 * certificate when one is configured); rejects after `timeoutMs`.
 */
export async function openSocket(
  endpoint: Endpoint,
  tls: ResolvedTls | null,
  timeoutMs: number,
): Promise<Socket> {
  const [ca, cert, key] = await Promise.all([
    tls?.caFile ? readTlsFile('CA', tls.caFile) : undefined,
    tls?.certFile ? readTlsFile('client certificate', tls.certFile) : undefined,
    tls?.keyFile ? readTlsFile('client key', tls.keyFile) : undefined,
  ]);
  const secure = endpoint.tls && endpoint.socketPath === null;
  return new Promise<Socket>((resolve, reject) => {
    const socket: Socket =
      endpoint.socketPath !== null
        ? tcpConnect({ path: endpoint.socketPath })
        : secure
          ? tlsConnect({
              host: endpoint.host,
              port: endpoint.port,
              rejectUnauthorized: tls?.rejectUnauthorized ?? true,
              ...(ca !== undefined ? { ca } : {}),
              ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
              ...(tls?.servername
                ? { servername: tls.servername }
                : isIP(endpoint.host) === 0
                  ? { servername: endpoint.host }
                  : {}),
            })
          : tcpConnect({ host: endpoint.host, port: endpoint.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out connecting after ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', fail);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      if (endpoint.socketPath === null) socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

async function readTlsFile(what: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`TLS ${what} file ${file} could not be read (${reason})`);
  }
}
