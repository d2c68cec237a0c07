import { isIP } from 'node:net';
import { z } from 'zod';
import { text, wholeNumber } from './fields.js';

// The `externalScaler` section: KEDA's external scaler gRPC service (src/scaler/). `qscale
// scaler` always serves it (with these defaults when the section is absent); `qscaled` serves
// it only when the section is present. Self-contained: schema.ts only places it and calls
// resolveExternalScaler.

/** Defaults of the `externalScaler` section. */
export const EXTERNAL_SCALER_DEFAULTS = {
  /** Loopback: nothing is exposed to the network unless asked. @defaultValue `127.0.0.1` */
  host: '127.0.0.1',
  /** @defaultValue 9731 (the status API's 9730 plus one) */
  port: 9_731,
} as const;

export interface ExternalScalerConfig {
  host: string;
  port: number;
  /** Shared token every call must carry as `authorization: Bearer <token>`; null: none asked. */
  token: string | null;
  /**
   * Serve over TLS with this certificate and key (PEM files). `clientCaFile` turns on mutual
   * TLS: a client must present a certificate signed by that CA.
   */
  tls: { certFile: string; keyFile: string; clientCaFile: string | null } | null;
}

const TOKEN_EXPECTED = 'expected a bearer token of at least 16 characters';

export const externalScalerSchema = z.strictObject({
  host: text('a host name or IP address to listen on').optional(),
  port: wholeNumber(0, 65_535).optional(),
  token: z
    .string({ error: TOKEN_EXPECTED })
    .optional()
    // `token: "${QSCALE_SCALER_TOKEN:-}"` with the variable unset means no token.
    .transform((value) => (value === '' ? undefined : value))
    .refine((token) => token === undefined || token.length >= 16, TOKEN_EXPECTED),
  tls: z
    .strictObject({
      cert: text('a path to the PEM certificate (chain) the scaler presents'),
      key: text('a path to the PEM private key of that certificate'),
      clientCa: text('a path to the PEM CA that signs client certificates (mTLS)').optional(),
    })
    .optional(),
});

type Report = (path: (string | number)[], message: string) => void;

/**
 * Completes the section from the defaults and refuses an exposed listener that is not
 * protected: any host other than loopback needs TLS and a client check (a token, or mTLS).
 */
export function resolveExternalScaler(
  input: z.output<typeof externalScalerSchema> | undefined,
  report: Report,
): ExternalScalerConfig | null {
  if (input === undefined) return null;
  const host = input.host ?? EXTERNAL_SCALER_DEFAULTS.host;
  const resolved: ExternalScalerConfig = {
    host,
    port: input.port ?? EXTERNAL_SCALER_DEFAULTS.port,
    token: input.token ?? null,
    tls: input.tls
      ? {
          certFile: input.tls.cert,
          keyFile: input.tls.key,
          clientCaFile: input.tls.clientCa ?? null,
        }
      : null,
  };
  if (!isLoopback(host)) {
    const missing: string[] = [];
    if (!resolved.tls) missing.push('tls.cert and tls.key');
    if (!resolved.token && !resolved.tls?.clientCaFile) {
      missing.push('token or tls.clientCa (mutual TLS)');
    }
    if (missing.length > 0) {
      report(
        ['externalScaler', 'host'],
        `listening on ${host} (not loopback) needs TLS and a client check: set ${missing.join(' and ')}, or listen on 127.0.0.1`,
      );
    }
  }
  return resolved;
}

/** `localhost`, 127.0.0.0/8 and ::1: only processes of this host (or pod) can connect. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare.toLowerCase() === '0:0:0:0:0:0:0:1';
  return false;
}
