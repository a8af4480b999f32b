/**
 * Templates and JMESPath keys end to end: the real backfill handler writes a templated Secret and a TLS Secret
 * whose keys sit, with dots in their names, under an object; a template variable the secret lacks fails the
 * binding, writes nothing, and no value reaches the report or the logs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SyncReport } from '../../lib/sync/types.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import { decode, findSecret, freshNamespace, secretsManager, stack, syncKubeConfigPath } from '../support/stack.js';

type Handler = (input: unknown, context: ReturnType<typeof lambdaContext>) => Promise<SyncReport>;

const run = Date.now().toString(36);
const password = `tpl-pw-${run}-<&"'>-Qw72`;
const key = `tls-key-${run}-Lm04`;
const output = recordOutput();
let cluster: string;
let namespace: string;
let backfill: Handler;

beforeAll(async () => {
  cluster = stack().clusters[0] as string;
  namespace = (await freshNamespace([cluster])).name;
  const db = `it/tpl-db-${run}`;
  const tls = `it/tpl-tls-${run}`;
  await secretsManager().send(
    new CreateSecretCommand({
      Name: db,
      SecretString: JSON.stringify({ username: 'app', password, endpoint: { host: 'db.internal', port: 5432 } }),
    }),
  );
  await secretsManager().send(
    new CreateSecretCommand({
      Name: tls,
      SecretString: JSON.stringify({ certs: { 'tls.crt': 'CERT-PEM', 'tls.key': key } }),
    }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'eks-sync-tpl-'));
  const config = join(dir, 'eks-secret-sync.yaml');
  const target = `clusters: [${cluster}], namespaces: [${namespace}]`;
  writeFileSync(
    config,
    `clusters:\n  ${cluster}: { kubeconfig: { path: ${syncKubeConfigPath()}, context: ${cluster} } }\n` +
      `syncs:\n  - source: { secret: ${db} }\n    targets:\n` +
      `      - { ${target}, secret: db-url, restart: none, keys: { DATABASE_URL: { template: "postgres://{{ .username }}:{{ password }}@{{ .endpoint.host }}:{{ endpoint.port }}/app" }, HOST: { path: endpoint.host } } }\n` +
      `      - { ${target}, secret: db-broken, restart: none, keys: { URL: { template: "{{ .username }}:{{ .password }}@{{ .replica }}" } } }\n` +
      `  - source: { secret: ${tls} }\n    targets:\n` +
      `      - { ${target}, secret: web-tls, type: kubernetes.io/tls, restart: none, keys: { tls.crt: { jmespath: 'certs."tls.crt"' }, tls.key: { jmespath: 'certs."tls.key"' } } }\n`,
  );
  process.env.EKS_SYNC_CONFIG = config;
  vi.resetModules();
  backfill = (await import('../../functions/backfill.js')).handler as unknown as Handler;
});

afterAll(() => {
  output.stop();
});

describe('templates and JMESPath keys on the stack', () => {
  it('writes the templated and the nested-dotted-key Secrets, fails the binding missing a variable, leaks nothing', async () => {
    // Act
    const report = await backfill({}, lambdaContext('backfill'));

    // Assess
    const url = await findSecret(cluster, namespace, 'db-url');
    expect(url && decode(url, 'DATABASE_URL')).toBe(`postgres://app:${password}@db.internal:5432/app`);
    expect(url && decode(url, 'HOST')).toBe('db.internal');
    const tls = await findSecret(cluster, namespace, 'web-tls');
    expect(tls?.type).toBe('kubernetes.io/tls');
    expect(tls && decode(tls, 'tls.crt')).toBe('CERT-PEM');
    expect(tls && decode(tls, 'tls.key')).toBe(key);

    const broken = report.results.find((r) => r.secret === 'db-broken');
    expect(broken?.action).toBe('failed');
    expect(broken?.error?.code).toBe('KeyNotFound');
    expect(broken?.error?.message).toContain('"replica" (variable {{ .replica }} of the template of "URL")');
    expect(await findSecret(cluster, namespace, 'db-broken')).toBeUndefined();

    const seen = `${JSON.stringify(report)}\n${output.text()}`;
    for (const value of [password, key, 'CERT-PEM', `app:${password}`]) expect(seen).not.toContain(value);
  });
});
