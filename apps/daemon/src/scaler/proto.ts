import { fileURLToPath } from 'node:url';
import {
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/**
 * KEDA's `externalscaler.proto`, shipped with the package (`proto/`, beside `src/` and
 * `dist/`): both `src/scaler/` and `dist/scaler/` are two folders below it.
 */
export const EXTERNAL_SCALER_PROTO = fileURLToPath(
  new URL('../../proto/externalscaler.proto', import.meta.url),
);

/**
 * The `externalscaler.ExternalScaler` service: its definition for a server and a client
 * constructor (tests, `bench/`, a health probe). Field names stay as the proto spells them.
 */
export function loadExternalScaler(): ServiceClientConstructor {
  const definition = loadSync(EXTERNAL_SCALER_PROTO, {
    keepCase: true,
    longs: Number,
    defaults: true,
  });
  const root = loadPackageDefinition(definition);
  const namespace = root.externalscaler as GrpcObject;
  return namespace.ExternalScaler as ServiceClientConstructor;
}
