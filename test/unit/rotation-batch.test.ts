import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { failedMessages, syncBatch } from '../../functions/rotation-batch.js';
import { buildRuntime, lambdaHandler } from '../../functions/runtime.js';
import { parseConfig } from '../../lib/config/index.js';
import { kubernetesNameFor } from '../../lib/domain/names.js';
import { InputError } from '../../lib/errors.js';
import { isSqsBatch, readRotationBatch } from '../../lib/events/index.js';
import type { SyncReport } from '../../lib/sync/types.js';
import { labelUpdatedEvent } from '../../scripts/label-event.js';
import { envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';
import { eksClusters } from '../support/fixtures.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import { sqsEvent } from '../support/sqs-driver.js';

const CANARY = 'pa55-CANARY-9c2f1a';
const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;

function event(name: string, versionId: string | undefined, time = '2026-12-03T10:00:00Z') {
  return { ...labelUpdatedEvent({ name, arn: ARN(name) }, versionId), time };
}

function deleteEvent(name: string) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.secretsmanager',
    time: '2026-12-03T10:00:00Z',
    detail: {
      eventSource: 'secretsmanager.amazonaws.com',
      eventName: 'DeleteSecret',
      requestParameters: { secretId: name },
    },
  };
}

describe('readRotationBatch', () => {
  it('makes every rotated secret of the batch one pass, each once, with its newest announced version', () => {
    // Prepare
    const batch = sqsEvent([
      { messageId: 'm1', body: JSON.stringify(event('app/a', 'v1', '2026-12-03T10:00:00Z')) },
      { messageId: 'm2', body: JSON.stringify(event('app/b', 'v7')) },
      { messageId: 'm3', body: JSON.stringify(event('app/a', 'v2', '2026-12-03T10:00:05Z')) },
      // A duplicate delivery of m1 (SQS is at-least-once): older, so v2 stays.
      { messageId: 'm4', body: JSON.stringify(event('app/a', 'v1', '2026-12-03T10:00:00Z')) },
    ]);

    // Act
    const read = readRotationBatch(batch);

    // Assess
    expect(isSqsBatch(batch)).toBe(true);
    expect(read.invalid).toEqual([]);
    expect(read.passes).toHaveLength(1);
    expect(read.passes[0]?.request).toEqual({
      trigger: 'rotation',
      secrets: [ARN('app/a'), ARN('app/b')],
      versionIds: { [ARN('app/a')]: 'v2', [ARN('app/b')]: 'v7' },
      dryRun: false,
      restart: true,
      origin: 'sqs',
    });
    expect(read.passes[0]?.messages.map((m) => m.messageId)).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it('gives deletions their own pass, keeps ignored events apart, and marks unreadable bodies invalid', () => {
    // Prepare
    const custom = { ...event('app/c', 'v1'), detail: { name: 'app/c', labelUpdated: 'STAGING' } };
    const batch = sqsEvent([
      { messageId: 'sync', body: JSON.stringify(event('app/a', 'v1')) },
      { messageId: 'delete', body: JSON.stringify(deleteEvent('app/b')) },
      { messageId: 'ignored', body: JSON.stringify(custom) },
      { messageId: 'not-json', body: `{"detail": "${CANARY}"` },
      { messageId: 'no-detail', body: JSON.stringify({ source: 'aws.secretsmanager', 'detail-type': 'x' }) },
    ]);

    // Act
    const read = readRotationBatch(batch);

    // Assess
    expect(read.passes.map((p) => [p.request.secrets, p.request.deleted === true])).toEqual([
      [[ARN('app/a')], false],
      [['app/b'], true],
    ]);
    expect(read.ignored).toEqual([
      { messageId: 'ignored', reason: expect.stringContaining('STAGING'), secretId: ARN('app/c') },
    ]);
    expect(read.invalid.map((m) => m.messageId)).toEqual(['not-json', 'no-detail']);
    expect(read.invalid.every((m) => m.error instanceof InputError && m.error.code === 'InvalidEvent')).toBe(true);
    expect(read.invalid[1]?.error.message).toMatch(/"detail" is missing/);
    expect(JSON.stringify(read.invalid.map((m) => m.error.message))).not.toContain(CANARY);
  });

  it('refuses a batch whose record has no message id, naming the record', () => {
    expect(() => readRotationBatch({ Records: [{ body: '{}' }] })).toThrow(/"Records\[0\]\.messageId"/);
  });
});

const CONFIG = `${eksClusters('eu')}syncs:
  - source: { namePrefix: app/ }
    targets:
      - { clusters: [eu], namespaces: [payments] }
  - source: { secret: other/db }
    targets:
      - { clusters: [eu], namespaces: [denied], secret: other-db }
`;

/** `count` secrets app/s0.. consumed by one Deployment `web`, and other/db whose namespace is forbidden. */
function burst(count: number) {
  const source = new FakeSecretSource();
  const names = Array.from({ length: count }, (_, i) => `app/s${i}`);
  const versions = new Map(names.map((n) => [n, source.put(n, { password: `${CANARY}-${n}` })]));
  const otherVersion = source.put('other/db', { password: CANARY });
  const eu = new FakeKubeApi('eu', { namespaces: ['payments', 'denied'] });
  eu.forbidden.add('denied');
  eu.seedWorkload({ namespace: 'payments', name: 'web', podSpec: envFromSpec(...names.map(kubernetesNameFor)) });
  const runtime = buildRuntime({ config: parseConfig(CONFIG), source, clusters: new FakeConnector([eu]) });
  const handler = lambdaHandler(runtime, async ({ payload }, context) =>
    syncBatch(runtime, readRotationBatch(payload as SQSEvent), context),
  );
  const message = (name: string, versionId: string | undefined, messageId = `m-${name}`) => ({
    messageId,
    body: JSON.stringify(labelUpdatedEvent({ name, arn: source.arnOf(name) }, versionId)),
  });
  return { source, eu, runtime, handler, names, versions, otherVersion, message };
}

describe('syncBatch', () => {
  it('syncs a burst of secrets consumed by one Deployment in one pass, restarting it once', async () => {
    // Prepare
    const { eu, handler, names, versions, message } = burst(20);
    const batch = sqsEvent(names.map((n) => message(n, versions.get(n))));

    // Act
    const response = await handler(batch, lambdaContext('onRotation'));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(names.every((n) => eu.secret('payments', kubernetesNameFor(n)) !== undefined)).toBe(true);
    expect(eu.templatePatches().filter((p) => p.name === 'web')).toHaveLength(1);
    expect(eu.generation('payments', 'web')).toBe(2);
  });

  it('reports a poison message and a message whose bindings failed, alone, and logs no value', async () => {
    // Prepare
    const { eu, handler, names, versions, otherVersion, message } = burst(3);
    const batch = sqsEvent([
      ...names.map((n) => message(n, versions.get(n))),
      { messageId: 'poison', body: 'not an event' },
      message('other/db', otherVersion, 'forbidden'),
    ]);
    const output = recordOutput();

    // Act
    let response: unknown;
    try {
      response = await handler(batch, lambdaContext('onRotation'));
    } finally {
      output.stop();
    }

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'poison' }, { itemIdentifier: 'forbidden' }] });
    expect(names.every((n) => eu.secret('payments', kubernetesNameFor(n)) !== undefined)).toBe(true);
    expect(eu.templatePatches()).toHaveLength(1);
    expect(output.text()).toMatch(/message invalid/);
    expect(output.text()).not.toContain(CANARY);
  });

  it('is harmless for a batch delivered twice: nothing is written or restarted again', async () => {
    // Prepare
    const { eu, handler, names, versions, message } = burst(5);
    const batch = sqsEvent(names.map((n) => message(n, versions.get(n))));
    await handler(batch, lambdaContext('onRotation'));
    const writes = eu.writes();

    // Act
    const again = await handler(batch, lambdaContext('onRotation'));

    // Assess
    expect(again).toEqual({ batchItemFailures: [] });
    expect(eu.writes()).toBe(writes);
    expect(eu.templatePatches()).toHaveLength(1);
  });

  it('redelivers every message of a pass that throws', async () => {
    // Prepare
    const { runtime, names, versions, message } = burst(2);
    const batch = readRotationBatch(sqsEvent(names.map((n) => message(n, versions.get(n)))));
    const broken = { ...runtime, engine: { run: () => Promise.reject(new Error('boom')) } as never };

    // Act
    const response = await syncBatch(broken, batch, lambdaContext('onRotation'));

    // Assess
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(names.map((n) => `m-${n}`));
  });
});

describe('failedMessages', () => {
  const report = (partial: Partial<SyncReport>): SyncReport => ({
    trigger: 'rotation',
    dryRun: false,
    sources: [],
    results: [],
    summary: {} as SyncReport['summary'],
    durationMs: 0,
    notes: [],
    ...partial,
  });
  const pass = {
    request: { trigger: 'rotation' as const, dryRun: false, restart: true },
    messages: [
      { messageId: 'by-arn', secretId: ARN('prod/db') },
      { messageId: 'by-name', secretId: 'prod/db' },
      { messageId: 'other', secretId: ARN('prod/cache') },
    ],
  };

  it('ties a failed binding of a configured name to the messages naming that secret by ARN or by name', () => {
    const failed = report({
      sources: [{ id: 'prod/db', arn: ARN('prod/db'), versionId: 'v1' }],
      results: [
        {
          cluster: 'eu',
          namespace: 'ns',
          secret: 'db',
          source: 'prod/db',
          action: 'failed',
          restarted: [],
          error: { code: 'Forbidden', message: 'forbidden' },
        },
      ],
    });
    expect(failedMessages(pass, failed).map((m) => m.messageId)).toEqual(['by-arn', 'by-name']);
  });

  it('ties a failed lookup to the message that named the id, and a failure of an unnamed secret to none', () => {
    const failed = report({
      sources: [
        { id: ARN('prod/cache'), error: { code: 'SourceError', message: 'throttled' } },
        { id: ARN('team/peer'), error: { code: 'SourceError', message: 'throttled' } },
      ],
    });
    expect(failedMessages(pass, failed).map((m) => m.messageId)).toEqual(['other']);
  });
});
