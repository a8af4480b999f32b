import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildRuntime,
  createRuntime,
  FLUSH_MARGIN_MS,
  isEventBridgeEvent,
  lambdaHandler,
  passDeadline,
  readInvocation,
  runAndReport,
  SyncFailedError,
} from '../../functions/runtime.js';
import { parseConfig } from '../../lib/config/index.js';
import { InputError, SyncError } from '../../lib/errors.js';
import { parseBackfillInput, rotationRequest } from '../../lib/events/index.js';
import type { SyncReport } from '../../lib/sync/types.js';
import { labelUpdatedEvent } from '../../scripts/label-event.js';
import { FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';
import { eksClusters } from '../support/fixtures.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';

const NOW = 1_700_000_000_000;
const remaining = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

describe('passDeadline', () => {
  it('keeps the flush margin before the end of a normal invocation', () => {
    expect(FLUSH_MARGIN_MS).toBe(5_000);
    expect(passDeadline(remaining(120_000), NOW)).toBe(NOW + 115_000);
  });

  it('keeps a quarter of a short remaining time, never more than is left', () => {
    expect(passDeadline(remaining(8_000), NOW)).toBe(NOW + 6_000);
    expect(passDeadline(remaining(400), NOW)).toBe(NOW + 300);
    expect(passDeadline(remaining(0), NOW)).toBe(NOW);
    expect(passDeadline(remaining(-5), NOW)).toBe(NOW);
  });
});

const scheduled = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-12-03T10:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:123456789012:rule/eks-secret-sync-prod-reconcile'],
  detail: {},
};

describe('readInvocation', () => {
  it('makes an EventBridge event (rule or schedule) fail on error, with its id', () => {
    expect(isEventBridgeEvent(scheduled)).toBe(true);
    expect(readInvocation(scheduled)).toEqual({ payload: scheduled, failOnError: true, eventId: scheduled.id });
  });

  it('makes a manual payload return the report, whatever it holds', () => {
    for (const payload of [undefined, null, {}, { dryRun: true }, { 'detail-type': 'Scheduled Event' }]) {
      expect(readInvocation(payload)).toEqual({ payload, failOnError: false });
    }
  });

  it('takes an explicit failOnError off the payload', () => {
    expect(readInvocation({ dryRun: true, failOnError: true })).toEqual({
      payload: { dryRun: true },
      failOnError: true,
    });
    expect(readInvocation({ failOnError: false })).toEqual({ payload: {}, failOnError: false });
  });

  it('refuses a failOnError that is not a boolean, naming it', () => {
    expect(() => readInvocation({ failOnError: 'yes' })).toThrow(InputError);
    expect(() => readInvocation({ failOnError: 'yes' })).toThrow(/"failOnError" must be a boolean, got string/);
  });
});

const CANARY = 'pa55-CANARY-4e1d0b';
const CONFIG = `${eksClusters('eu', 'us')}syncs:
  - source: { secret: prod/db }
    targets:
      - { clusters: [eu, us], namespaces: [payments, denied], secret: db }
`;

/** A runtime over fakes: `denied` is forbidden in cluster `us`, so each pass has exactly one failed binding. */
function fakeRuntime() {
  const source = new FakeSecretSource();
  const versionId = source.put('prod/db', { username: 'app', password: CANARY });
  const eu = new FakeKubeApi('eu', { namespaces: ['payments', 'denied'] });
  const us = new FakeKubeApi('us', { namespaces: ['payments', 'denied'] });
  us.forbidden.add('denied');
  const runtime = buildRuntime({ config: parseConfig(CONFIG), source, clusters: new FakeConnector([eu, us]) });
  return { runtime, source, versionId, arn: source.arnOf('prod/db') };
}

type Line = Record<string, unknown> & { message?: string; _aws?: { CloudWatchMetrics: unknown[] } };

/** Runs `act` and returns every JSON line it wrote to stdout/stderr (log lines and EMF metric blobs). */
async function linesOf(act: () => Promise<unknown>): Promise<Line[]> {
  const output = recordOutput();
  try {
    await act().catch(() => undefined);
  } finally {
    output.stop();
  }
  return output
    .text()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

const metricLines = (lines: Line[]) => lines.filter((l) => l._aws !== undefined);
const logLines = (lines: Line[]) => lines.filter((l) => l._aws === undefined);

function backfillHandler(runtime: ReturnType<typeof fakeRuntime>['runtime']) {
  return lambdaHandler<SyncReport>(runtime, async ({ payload, failOnError }, context) =>
    runAndReport(runtime, parseBackfillInput(payload), context, { failOnError }),
  );
}

describe('a manual invoke and an asynchronous one, with a failed binding', () => {
  it('returns the whole dry-run plan to a manual invoke, the failed binding in it', async () => {
    // Prepare
    const { runtime } = fakeRuntime();
    const handler = backfillHandler(runtime);

    // Act
    const report = await handler({ dryRun: true }, lambdaContext('backfill'));

    // Assess
    expect(report.dryRun).toBe(true);
    expect(report.results.map((r) => `${r.cluster}/${r.namespace}:${r.action}`).sort()).toEqual([
      'eu/denied:created',
      'eu/payments:created',
      'us/denied:failed',
      'us/payments:created',
    ]);
    expect(report.results.find((r) => r.action === 'failed')?.error?.code).toBe('Forbidden');
  });

  it('throws SyncFailedError, the report on it, for failOnError and for an EventBridge event', async () => {
    // Prepare
    const { runtime, arn, versionId } = fakeRuntime();
    const backfill = backfillHandler(runtime);
    const rotation = lambdaHandler(runtime, async ({ payload }, context) =>
      runAndReport(runtime, rotationRequest(payload) as never, context, { failOnError: true }),
    );

    // Act
    const flagged = await backfill({ failOnError: true }, lambdaContext('backfill')).catch((e: unknown) => e);
    const event = labelUpdatedEvent({ name: 'prod/db', arn }, versionId);
    const evented = await rotation(event, lambdaContext('onRotation')).catch((e: unknown) => e);

    // Assess
    for (const error of [flagged, evented]) {
      expect(error).toBeInstanceOf(SyncFailedError);
      expect((error as SyncFailedError).message).toMatch(/^1 of 4 bindings failed: us\/denied\/db: /);
      expect((error as SyncFailedError).report.results).toHaveLength(4);
    }
  });
});

describe('log correlation', () => {
  it('puts the event id, secret and version on every line of a pass, and on no line of the next invocation', async () => {
    // Prepare
    const { runtime, arn, versionId } = fakeRuntime();
    const handler = lambdaHandler(runtime, async ({ payload }, context) =>
      runAndReport(runtime, rotationRequest(payload) as never, context, { failOnError: false }),
    );
    const event = labelUpdatedEvent({ name: 'prod/db', arn }, versionId);
    const backfill = backfillHandler(runtime);
    const context = lambdaContext('backfill');

    // Act
    const first = logLines(await linesOf(() => handler(event, lambdaContext('onRotation'))));
    const next = logLines(await linesOf(() => backfill({ dryRun: true }, context)));

    // Assess
    expect(first.map((l) => l.message)).toEqual(expect.arrayContaining(['planned', 'binding failed', 'sync finished']));
    for (const line of first) {
      expect(line).toMatchObject({ correlation_id: event.id, secretId: arn, versionId });
    }
    expect(next.length).toBeGreaterThan(0);
    for (const line of next) {
      expect(line.correlation_id).toBe(context.awsRequestId);
      expect(line).not.toHaveProperty('secretId');
      expect(line).not.toHaveProperty('versionId');
    }
    expect(JSON.stringify([first, next])).not.toContain(CANARY);
  });
});

/** `name` -> value of every metric in the EMF blobs, with the blob's dimension names. */
function metricsOf(lines: Line[]): Array<{ name: string; value: unknown; dimensions: string[] }> {
  return metricLines(lines).flatMap((blob) => {
    const directive = (blob._aws as { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] })
      .CloudWatchMetrics[0];
    if (directive === undefined) return [];
    const dimensions = (directive.Dimensions[0] ?? []).map((d) => `${d}=${String(blob[d])}`).sort();
    return directive.Metrics.map((m) => ({ name: m.Name, value: blob[m.Name], dimensions }));
  });
}

describe('metrics', () => {
  it('counts failed bindings, failed source lookups, and failures by cluster with a Cluster dimension only there', async () => {
    // Prepare
    const { runtime, source } = fakeRuntime();
    source.put('prod/other', { password: CANARY });
    const handler = backfillHandler(runtime);

    // Act
    const lines = await linesOf(() => handler({ secrets: ['prod/db'] }, lambdaContext('backfill')));
    source.fail('getCurrent', () => new SyncError('SourceError', 'GetSecretValue failed for secret "prod/db": denied'));
    const failedRead = await linesOf(() => handler({ secrets: ['prod/db'] }, lambdaContext('backfill')));

    // Assess
    const pass = metricsOf(lines);
    const byName = (name: string, of = pass) => of.filter((m) => m.name === name);
    expect(byName('Failed')).toEqual([
      { name: 'Failed', value: 1, dimensions: ['Trigger=backfill', 'service=eks-secret-sync'] },
    ]);
    expect(byName('SourceFailed')[0]?.value).toBe(0);
    expect(byName('FailedByCluster')).toEqual([
      { name: 'FailedByCluster', value: 1, dimensions: ['Cluster=us', 'service=eks-secret-sync'] },
    ]);
    // No other metric carries the Cluster dimension.
    expect(
      pass.filter((m) => m.dimensions.some((d) => d.startsWith('Cluster=')) && m.name !== 'FailedByCluster'),
    ).toEqual([]);
    const read = metricsOf(failedRead);
    expect(byName('SourceFailed', read)[0]?.value).toBe(1);
    expect(byName('Failed', read)[0]?.value).toBe(4);
    expect(
      byName('FailedByCluster', read)
        .map((m) => [m.dimensions[0], m.value])
        .sort(),
    ).toEqual([
      ['Cluster=eu', 2],
      ['Cluster=us', 2],
    ]);
    expect(JSON.stringify([lines, failedRead])).not.toContain(CANARY);
  });

  it('emits ConfigFailed when the configuration fails to load at cold start, and still fails the start', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'eks-sync-runtime-'));
    const file = join(dir, 'eks-secret-sync.yaml');
    writeFileSync(file, 'clusters: {}\nsyncs: [ { source: {} } ]\n');
    let failure: unknown;

    // Act
    const lines = await linesOf(async () => {
      failure = await createRuntime({ EKS_SYNC_CONFIG: file }).catch((e: unknown) => e);
    });

    // Assess
    expect(failure).toBeInstanceOf(Error);
    expect(metricsOf(lines)).toEqual([{ name: 'ConfigFailed', value: 1, dimensions: ['service=eks-secret-sync'] }]);
    const logged = logLines(lines).find((l) => l.message === 'configuration failed to load');
    expect(logged?.error).toMatchObject({ message: (failure as Error).message });
  });
});
