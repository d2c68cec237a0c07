import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  /** The test CA's certificate (PEM): what a client verifies the server against. */
  readonly caFile: string;
  /** The server's certificate, for localhost and 127.0.0.1, signed by the test CA. */
  readonly certFile: string;
  readonly keyFile: string;
  /** A client certificate (CN qscale-client) signed by the test CA, and its key. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /**
   * `redis-server` arguments for a TLS port with these files; clients need no certificate
   * unless `authClients` (then `--tls-auth-clients yes`: one signed by the test CA).
   */
  tlsServerArgs(port: number, options?: { authClients?: boolean }): string[];
  /** Deletes the files. */
  remove(): Promise<void>;
}

/**
 * Makes a throwaway CA and a server certificate with the `openssl` command (argv, no shell),
 * valid for two days, in a private temporary folder: for tests of TLS connections against a
 * real `redis-server --tls-port`.
 */
export async function createTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'qscale-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = async (args: string[]) => {
    try {
      await run('openssl', args, { cwd: dir });
    } catch (error) {
      const reason = (error as { stderr?: string }).stderr || (error as Error).message;
      throw new Error(`openssl ${args[0]} failed while making test certificates: ${reason}`);
    }
  };
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await openssl([
      'req',
      '-x509',
      ...ecKey,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=qscale test CA',
    ]);
    await openssl([
      'req',
      ...ecKey,
      '-keyout',
      file('server.key'),
      '-out',
      file('server.csr'),
      '-subj',
      '/CN=localhost',
    ]);
    await writeFile(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    await openssl([
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('server.crt'),
      '-days',
      '2',
      '-extfile',
      file('server.ext'),
    ]);
    await openssl([
      'req',
      ...ecKey,
      '-keyout',
      file('client.key'),
      '-out',
      file('client.csr'),
      '-subj',
      '/CN=qscale-client',
    ]);
    await writeFile(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
    await openssl([
      'x509',
      '-req',
      '-in',
      file('client.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('client.crt'),
      '-days',
      '2',
      '-extfile',
      file('client.ext'),
    ]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
    tlsServerArgs: (port, options = {}) => [
      '--tls-port',
      String(port),
      '--tls-cert-file',
      file('server.crt'),
      '--tls-key-file',
      file('server.key'),
      '--tls-ca-cert-file',
      file('ca.crt'),
      '--tls-auth-clients',
      options.authClients ? 'yes' : 'no',
    ],
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
