import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type { Logger } from '@qscale/contracts';
import type { ExternalScalerConfig } from '../config/external-scaler.js';
import { loadExternalScaler } from './proto.js';

// KEDA's external scaler service over the decisions the loop makes. KEDA's operator asks it
// per ScaledObject (the trigger's metadata names the qscale queue); the HPA it builds scales on
// one metric whose target is 1 per replica, so its replica count is qscale's decision.

/** What the service reports for one queue: the loop's last decision. */
export interface QueueVerdict {
  /** Workers decided after every policy (bounds, stabilisation, cooldown, steps, capacity). */
  desired: number;
}

/** The loop as the service sees it. */
export interface VerdictSource {
  /** The queue's names in the configuration, for a NOT_FOUND that lists them. */
  queues(): string[];
  /** The worker group serving a member queue (its pods are the group's); undefined otherwise. */
  groupOf?(queue: string): string | undefined;
  /** undefined: no such queue; null: known but not decided yet (before the first tick). */
  verdict(queue: string): QueueVerdict | null | undefined;
  /** Called after every tick; returns the unsubscribe function. */
  onTick(listener: () => void): () => void;
}

export interface ExternalScalerServer {
  /** `host:port` it listens on (the port picked when 0 was asked). */
  readonly address: string;
  readonly port: number;
  /** Ends the open streams and stops listening. */
  close(): Promise<void>;
}

interface ScaledObjectRef {
  name: string;
  namespace: string;
  scalerMetadata: Record<string, string>;
}
interface GetMetricsRequest {
  scaledObjectRef: ScaledObjectRef | null;
  metricName: string;
}

class CallError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/** `qscale-<queue>`, lower case, every character a metric name cannot hold turned into `-`. */
export function metricNameOf(queue: string): string {
  return `qscale-${queue.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`;
}

/**
 * Listens on `settings.host:settings.port` and answers IsActive, StreamIsActive, GetMetricSpec
 * and GetMetrics from `source`. TLS when `settings.tls` is set (mutual when it names a client
 * CA); with `settings.token`, every call must carry `authorization: Bearer <token>`.
 * @throws when a TLS file cannot be read or the address cannot be bound.
 */
export async function startExternalScalerServer(options: {
  settings: ExternalScalerConfig;
  source: VerdictSource;
  logger: Logger;
}): Promise<ExternalScalerServer> {
  const { settings, source, logger } = options;
  const credentials = await serverCredentials(settings);
  const expectedToken = settings.token ? digest(settings.token) : null;
  const streams = new Set<ServerWritableStream<ScaledObjectRef, { result: boolean }>>();

  const authorize = (metadata: Metadata) => {
    if (!expectedToken) return;
    const header = metadata.get('authorization')[0];
    const match = typeof header === 'string' ? /^bearer\s+(.+)$/i.exec(header.trim()) : null;
    if (!match?.[1]) {
      throw new CallError(status.UNAUTHENTICATED, 'missing authorization: Bearer <token>');
    }
    if (!timingSafeEqual(digest(match[1]), expectedToken)) {
      throw new CallError(status.UNAUTHENTICATED, 'wrong token');
    }
  };

  /** The queue the ScaledObject's trigger names, and its verdict; throws a gRPC status. */
  const lookup = (ref: ScaledObjectRef | null): { queue: string; verdict: QueueVerdict | null } => {
    const queue = ref?.scalerMetadata?.queue?.trim();
    if (!queue) {
      throw new CallError(
        status.INVALID_ARGUMENT,
        `the trigger's metadata has no queue; add "queue: <name of a queue in qscale's configuration>" to the ScaledObject ${describe(ref)}`,
      );
    }
    const verdict = source.verdict(queue);
    const group = verdict === undefined ? source.groupOf?.(queue) : undefined;
    if (group !== undefined) {
      // One deployment serves the group: a trigger per member would scale its pods twice.
      throw new CallError(
        status.NOT_FOUND,
        `queue "${queue}" (ScaledObject ${describe(ref)}) is served by worker group "${group}", whose pods are scaled as one: name the group in the trigger (queue: ${group})`,
      );
    }
    if (verdict === undefined) {
      throw new CallError(
        status.NOT_FOUND,
        `queue "${queue}" (ScaledObject ${describe(ref)}) is not in qscale's configuration; configured: ${source.queues().join(', ')}`,
      );
    }
    return { queue, verdict };
  };

  const decided = (ref: ScaledObjectRef | null): { queue: string; desired: number } => {
    const { queue, verdict } = lookup(ref);
    if (!verdict) {
      throw new CallError(status.UNAVAILABLE, `queue "${queue}" has no decision yet; try again`);
    }
    return { queue, desired: verdict.desired };
  };

  const unary =
    <Req, Res>(handle: (request: Req) => Res) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      try {
        authorize(call.metadata);
        callback(null, handle(call.request));
      } catch (error) {
        callback(toStatus(error, logger));
      }
    };

  const streamIsActive = (call: ServerWritableStream<ScaledObjectRef, { result: boolean }>) => {
    let queue: string;
    try {
      authorize(call.metadata);
      queue = lookup(call.request).queue;
    } catch (error) {
      call.emit('error', toStatus(error, logger));
      return;
    }
    let sent: boolean | null = null;
    // The state now (once the first tick has decided), then at each change only.
    const push = () => {
      const verdict = source.verdict(queue);
      if (verdict === undefined) {
        // A reload removed the queue: say so rather than go silent.
        done();
        call.emit('error', {
          code: status.NOT_FOUND,
          details: `queue "${queue}" was removed from qscale's configuration`,
        });
        return;
      }
      if (!verdict) return;
      const active = verdict.desired > 0;
      if (active === sent) return;
      sent = active;
      call.write({ result: active });
    };
    let unsubscribe = () => {};
    const done = () => {
      unsubscribe();
      streams.delete(call);
    };
    unsubscribe = source.onTick(push);
    streams.add(call);
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
    push();
  };

  const server = new Server();
  server.addService(loadExternalScaler().service, {
    IsActive: unary<ScaledObjectRef, { result: boolean }>((ref) => ({
      result: decided(ref).desired > 0,
    })),
    StreamIsActive: streamIsActive,
    GetMetricSpec: unary<ScaledObjectRef, unknown>((ref) => {
      const { queue } = lookup(ref);
      return {
        metricSpecs: [{ metricName: metricNameOf(queue), targetSize: 1, targetSizeFloat: 1 }],
      };
    }),
    GetMetrics: unary<GetMetricsRequest, unknown>((request) => {
      const { queue, desired } = decided(request.scaledObjectRef);
      return {
        metricValues: [
          { metricName: metricNameOf(queue), metricValue: desired, metricValueFloat: desired },
        ],
      };
    }),
  });

  const bindTo =
    settings.host.includes(':') && !settings.host.startsWith('[')
      ? `[${settings.host}]:${settings.port}`
      : `${settings.host}:${settings.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(bindTo, credentials, (error, bound) => {
      if (error) {
        reject(
          new Error(`externalScaler: cannot listen on ${bindTo} (${error.message})`, {
            cause: error,
          }),
        );
      } else {
        resolve(bound);
      }
    });
  });
  const address = bindTo.replace(/:\d+$/, `:${port}`);

  return {
    address,
    port,
    async close() {
      for (const call of streams) call.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Clients that keep a call open must not hold the stop up.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000).unref();
      });
    },
  };
}

async function serverCredentials(settings: ExternalScalerConfig): Promise<ServerCredentials> {
  if (!settings.tls) return ServerCredentials.createInsecure();
  const { certFile, keyFile, clientCaFile } = settings.tls;
  const read = (what: string, path: string) =>
    readFile(path).catch((error: unknown) => {
      throw new Error(
        `externalScaler.tls.${what}: cannot read ${path} (${(error as Error).message})`,
        {
          cause: error,
        },
      );
    });
  const [cert, key, clientCa] = await Promise.all([
    read('cert', certFile),
    read('key', keyFile),
    clientCaFile ? read('clientCa', clientCaFile) : null,
  ]);
  // With a client CA, a client without a certificate it signed is refused (mutual TLS).
  return ServerCredentials.createSsl(
    clientCa,
    [{ cert_chain: cert, private_key: key }],
    clientCa !== null,
  );
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function describe(ref: ScaledObjectRef | null): string {
  return ref?.name ? `${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}` : '(unnamed)';
}

function toStatus(error: unknown, logger: Logger): { code: status; details: string } {
  if (error instanceof CallError) return { code: error.code, details: error.message };
  logger.error('external scaler call failed', { error });
  return { code: status.INTERNAL, details: 'internal error; see the scaler log' };
}
