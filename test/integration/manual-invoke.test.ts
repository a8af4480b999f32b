/**
 * How an invocation ends when a binding fails, on the local stack with the real handlers: a manual invoke (backfill,
 * reconcile by hand, a dry run) returns the whole report, an EventBridge event or `failOnError` throws; and every log
 * line of a rotation pass carries the event id, the secret and the version.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SyncFailedError } from '../../functions/runtime.js';
import type { SyncReport } from '../../lib/sync/types.js';
import { labelUpdatedEvent } from '../../scripts/label-event.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import { findSecret, freshNamespace, secretsManager, stack, syncKubeConfigPath } from '../support/stack.js';

type Handler = (input: unknown, context: ReturnType<typeof lambdaContext>) => Promise<SyncReport>;

const run = Date.now().toString(36);
const dir = mkdtempSync(join(tmpdir(), 'eks-sync-manual-'));
const seeded: string[] = [];
const output = recordOutput();
let cluster: string;
let allowed: string;
let denied: string;
let source: { name: string; arn: string; versionId: string };
let handlers: { backfill: Handler; reconcile: Handler; onRotation: Handler };

/** A scheduled reconcile's event, as EventBridge Scheduler rules send it. */
const scheduledEvent = () => ({
  version: '0',
  id: crypto.randomUUID(),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/eks-secret-sync-dev-reconcile'],
  detail: {},
});

async function thrown(call: Promise<unknown>): Promise<SyncFailedError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).name).toBe('SyncFailedError');
  return error as SyncFailedError;
}

const where = (report: SyncReport) =>
  report.results.map((r) => `${r.namespace === allowed ? 'allowed' : 'denied'}:${r.action}`).sort();

beforeAll(async () => {
  cluster = stack().clusters[0] as string;
  allowed = (await freshNamespace([cluster])).name;
  denied = (await freshNamespace([cluster], { bound: false })).name;
  const password = `manual-${run}-${Math.random().toString(36).slice(2, 10)}`;
  seeded.push(password);
  const name = `it/manual-${run}`;
  const created = await secretsManager().send(
    new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ username: 'app', password }) }),
  );
  source = { name, arn: created.ARN as string, versionId: created.VersionId as string };
  const config = join(dir, 'eks-secret-sync.yaml');
  writeFileSync(
    config,
    `clusters:\n  ${cluster}: { kubeconfig: { path: ${syncKubeConfigPath()}, context: ${cluster} } }\n` +
      `syncs:\n  - source: { secret: ${name} }\n    targets:\n` +
      `      - { clusters: [${cluster}], namespaces: [${allowed}, ${denied}], secret: app-db }\n`,
  );
  process.env.EKS_SYNC_CONFIG = config;
  vi.resetModules();
  handlers = {
    backfill: (await import('../../functions/backfill.js')).handler as unknown as Handler,
    reconcile: (await import('../../functions/reconcile.js')).handler as unknown as Handler,
    onRotation: (await import('../../functions/on-rotation.js')).handler as unknown as Handler,
  };
});

afterAll(() => {
  output.stop();
});

describe('a manual invoke with one forbidden namespace', () => {
  it('a dry-run backfill and a dry-run reconcile return the plan with that binding failed, and write nothing', async () => {
    // Act
    const backfill = await handlers.backfill({ dryRun: true }, lambdaContext('backfill'));
    const reconcile = await handlers.reconcile({ dryRun: true }, lambdaContext('reconcile'));

    // Assess
    for (const report of [backfill, reconcile]) {
      expect(report.dryRun).toBe(true);
      expect(where(report)).toEqual(['allowed:created', 'denied:failed']);
      const failed = report.results.find((r) => r.action === 'failed');
      expect(failed?.error?.code).toBe('Forbidden');
      expect(failed?.error?.message).toContain(`"${denied}"`);
      expect(report.summary).toMatchObject({ created: 1, failed: 1 });
    }
    expect(await findSecret(cluster, allowed, 'app-db')).toBeUndefined();
  });

  it('a backfill with failOnError and a scheduled reconcile throw, the report on the error', async () => {
    // Act
    const flagged = await thrown(handlers.backfill({ dryRun: true, failOnError: true }, lambdaContext('backfill')));
    const scheduled = await thrown(handlers.reconcile(scheduledEvent(), lambdaContext('reconcile')));

    // Assess
    expect(where(flagged.report)).toEqual(['allowed:created', 'denied:failed']);
    expect(flagged.message).toMatch(/^1 of 2 bindings failed: /);
    // The scheduled pass is a real one: it wrote what it could before throwing.
    expect(where(scheduled.report)).toEqual(['allowed:created', 'denied:failed']);
    expect(await findSecret(cluster, allowed, 'app-db')).toBeDefined();
  });
});

describe('log lines of a rotation pass', () => {
  it('all carry the event id, the secret ARN and the version id; the next invocation none of them', async () => {
    // Prepare
    const event = labelUpdatedEvent(source, source.versionId);
    const start = output.text().length;

    // Act
    const error = await thrown(handlers.onRotation(event, lambdaContext('onRotation')));
    const middle = output.text().length;
    const report = await handlers.backfill({ dryRun: true }, lambdaContext('backfill'));

    // Assess
    expect(where(error.report)).toEqual(['allowed:unchanged', 'denied:failed']);
    expect(where(report)).toEqual(['allowed:unchanged', 'denied:failed']);
    const lines = (from: number, to?: number) =>
      output
        .text()
        .slice(from, to)
        .split('\n')
        .filter((l) => l.startsWith('{') && !l.includes('"_aws"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const pass = lines(start, middle);
    expect(pass.map((l) => l.message)).toEqual(
      expect.arrayContaining(['planned', 'binding unchanged', 'binding failed', 'sync finished']),
    );
    for (const line of pass) {
      expect(line).toMatchObject({ correlation_id: event.id, secretId: source.arn, versionId: source.versionId });
    }
    const next = lines(middle);
    expect(next.length).toBeGreaterThan(0);
    for (const line of next) {
      expect(line.correlation_id).not.toBe(event.id);
      expect(line).not.toHaveProperty('secretId');
      expect(line).not.toHaveProperty('versionId');
    }
  });

  it('never contain a seeded secret value', () => {
    const text = output.text();
    expect(text.length).toBeGreaterThan(0);
    for (const value of seeded) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(Buffer.from(value).toString('base64'));
    }
  });
});
