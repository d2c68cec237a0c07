import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../src/index.js';

// examples/kubernetes cannot be applied here (no cluster); what can be checked is checked: every
// manifest parses, the pieces name each other consistently, and the ConfigMap's qscale.yml is a
// configuration `qscale scaler` accepts.

const folder = fileURLToPath(new URL('../../../examples/kubernetes/', import.meta.url));

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are free-form; the test reads paths it knows
  spec?: any;
  data?: Record<string, string>;
}

async function manifests(): Promise<Manifest[]> {
  const files = (await readdir(folder)).filter((file) => file.endsWith('.yaml'));
  expect(files.sort()).toEqual(['qscale-scaler.yaml', 'scaledobject.yaml', 'workers.yaml']);
  const all: Manifest[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(`${folder}${file}`, 'utf8'))) {
      expect(doc.errors.map((error) => `${file}: ${error.message}`)).toEqual([]);
      const manifest = doc.toJS() as Manifest;
      expect(manifest.apiVersion, file).toMatch(/^[a-z.]*\/?v\d/);
      expect(manifest.metadata.namespace, file).toBe('qscale-demo');
      all.push(manifest);
    }
  }
  return all;
}

describe('examples/kubernetes', () => {
  it('parses; the ScaledObject targets the workers and dials the scaler Service for a configured queue', async () => {
    const all = await manifests();
    const find = (kind: string, name: string) => {
      const found = all.find((m) => m.kind === kind && m.metadata.name === name);
      if (!found) throw new Error(`no ${kind} ${name} in examples/kubernetes`);
      return found;
    };
    const scaled = find('ScaledObject', 'emails-worker');
    const workers = find('Deployment', scaled.spec.scaleTargetRef.name);
    expect(workers.spec.template.spec.containers[0].args).toEqual(['node', 'worker.mjs', 'emails']);

    const [trigger] = scaled.spec.triggers;
    expect(trigger.type).toBe('external-push');
    const service = find('Service', 'qscale-scaler');
    const grpcPort = service.spec.ports.find((port: { name: string }) => port.name === 'grpc');
    expect(trigger.metadata.scalerAddress).toBe(
      `qscale-scaler.qscale-demo.svc.cluster.local:${grpcPort.port}`,
    );
    find('TriggerAuthentication', trigger.authenticationRef.name);

    const configMap = find('ConfigMap', 'qscale-config');
    const config = parseConfig(configMap.data?.['qscale.yml'] ?? '', {
      env: {
        REDIS_URL: 'redis://redis:6379',
        QSCALE_HTTP_TOKEN: 'a-token-of-32-characters-or-so!!',
      },
      baseDir: '/etc/qscale/config',
    });
    const queue = config.queues.find((entry) => entry.name === trigger.metadata.queue);
    expect(queue?.workers.max).toBe(scaled.spec.maxReplicaCount);
    expect(queue?.workers.min).toBe(scaled.spec.minReplicaCount);
    expect(config.externalScaler).toEqual({
      host: '0.0.0.0',
      port: grpcPort.port,
      token: null,
      tls: {
        certFile: '/etc/qscale/tls/tls.crt',
        keyFile: '/etc/qscale/tls/tls.key',
        clientCaFile: '/etc/qscale/tls/ca.crt',
      },
    });
    const scaler = find('Deployment', 'qscale-scaler');
    expect(scaler.spec.replicas).toBe(1);
    expect(scaler.spec.template.spec.containers[0].args.slice(0, 2)).toEqual(['qscale', 'scaler']);
  });
});
