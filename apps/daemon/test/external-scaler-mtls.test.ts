import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { createTestCertificates, type TestCertificates } from '@qscale/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ExternalScalerServer,
  loadExternalScaler,
  startExternalScalerServer,
} from '../src/index.js';

// Mutual TLS, the client check KEDA's operator can make (it sends no custom metadata): a client
// certificate signed by `tls.clientCa` is required. Real TLS over loopback with throwaway
// certificates made by openssl; the verdicts come from a fixed table instead of a loop.

const run = promisify(execFile);
const ExternalScaler = loadExternalScaler();

describe('externalScaler with mutual TLS', () => {
  let certs: TestCertificates;
  let clientKey: Buffer;
  let clientCert: Buffer;
  let ca: Buffer;
  let server: ExternalScalerServer;

  beforeAll(async () => {
    certs = await createTestCertificates();
    // A client certificate signed by the same test CA (its key sits beside its certificate).
    const dir = dirname(certs.caFile);
    const file = (name: string) => join(dir, name);
    await run('openssl', [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      file('client.key'),
      '-out',
      file('client.csr'),
      '-subj',
      '/CN=keda-operator',
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file('client.csr'),
      '-CA',
      certs.caFile,
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('client.crt'),
      '-days',
      '2',
    ]);
    [clientKey, clientCert, ca] = await Promise.all([
      readFile(file('client.key')),
      readFile(file('client.crt')),
      readFile(certs.caFile),
    ]);
    server = await startExternalScalerServer({
      settings: {
        host: '127.0.0.1',
        port: 0,
        token: null,
        tls: { certFile: certs.certFile, keyFile: certs.keyFile, clientCaFile: certs.caFile },
      },
      source: {
        queues: () => ['mail'],
        verdict: (queue) => (queue === 'mail' ? { desired: 3 } : undefined),
        onTick: () => () => {},
      },
      logger: console,
    });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await certs?.remove();
  });

  const isActive = (creds: ReturnType<typeof credentials.createSsl>) => {
    const client = new ExternalScaler(`localhost:${server.port}`, creds);
    return new Promise<{ result: boolean }>((resolve, reject) => {
      const fn = client.IsActive as (
        req: unknown,
        cb: (error: ServiceError | null, res: { result: boolean }) => void,
      ) => void;
      fn.call(client, { scalerMetadata: { queue: 'mail' } }, (error, response) => {
        client.close();
        if (error) reject(error);
        else resolve(response);
      });
    });
  };

  it('answers a client that presents a certificate signed by clientCa', async () => {
    expect(await isActive(credentials.createSsl(ca, clientKey, clientCert))).toEqual({
      result: true,
    });
  });

  it('refuses a client without a certificate', async () => {
    const error = await isActive(credentials.createSsl(ca)).then(
      () => null,
      (failure: ServiceError) => failure,
    );
    expect(error?.code).toBe(status.UNAVAILABLE);
  });

  it('says which TLS file it cannot read', async () => {
    await expect(
      startExternalScalerServer({
        settings: {
          host: '127.0.0.1',
          port: 0,
          token: null,
          tls: { certFile: '/nonexistent/tls.crt', keyFile: certs.keyFile, clientCaFile: null },
        },
        source: { queues: () => [], verdict: () => undefined, onTick: () => () => {} },
        logger: console,
      }),
    ).rejects.toThrow(/^externalScaler\.tls\.cert: cannot read \/nonexistent\/tls\.crt \(ENOENT/);
  });
});
