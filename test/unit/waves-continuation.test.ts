import { afterAll, describe, expect, it } from 'vitest';
import { buildRuntime, type Runtime } from '../../functions/runtime.js';
import { continueBatch, continueWaves } from '../../functions/waves-continuation.js';
import { parseConfig } from '../../lib/config/index.js';
import {
  type Continuation,
  type ContinuationQueue,
  continuation,
  readContinuation,
  readContinuationBatch,
} from '../../lib/events/index.js';
import type { SyncReport, WaveProgress } from '../../lib/sync/types.js';
import { FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import { sqsEvent } from '../support/sqs-driver.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-AbCdEf';
const NOW = new Date('2026-12-03T10:00:00.000Z');
const output = recordOutput();
afterAll(() => output.stop());

class FakeQueue implements ContinuationQueue {
  readonly sent: Array<{ message: Continuation; delaySeconds: number }> = [];
  failing = false;
  async send(message: Continuation, delaySeconds: number): Promise<void> {
    if (this.failing) throw new Error('SQS SendMessage failed: ServiceUnavailable');
    this.sent.push({ message, delaySeconds });
  }
}

function runtimeWith(queue: ContinuationQueue | undefined): Runtime {
  const config = parseConfig(`
clusters: { a: { kubeconfig: { context: a } }, b: { kubeconfig: { context: b } } }
syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [a, b], namespaces: [default] }]
    rollout: { waves: [[a], [b]], checkEvery: 45s }
`);
  return buildRuntime({
    config,
    source: new FakeSecretSource(),
    clusters: new FakeConnector([new FakeKubeApi('a'), new FakeKubeApi('b')]),
    ...(queue === undefined ? {} : { continuations: queue }),
  });
}

function progress(overrides: Partial<WaveProgress> = {}): WaveProgress {
  return {
    source: 'app/db',
    arn: ARN,
    versionId: 'v2',
    sync: 0,
    wave: 1,
    of: 2,
    state: 'waiting',
    reason: 'a/default/app-db: Deployment/web: 1 of 2 updated',
    moved: true,
    delaySeconds: 45,
    ...overrides,
  };
}

function report(waves: WaveProgress[], dryRun = false): SyncReport {
  return {
    trigger: 'rotation',
    dryRun,
    sources: [],
    results: [],
    summary: {} as SyncReport['summary'],
    durationMs: 0,
    notes: [],
    waves,
  };
}

function chain(overrides: Partial<Continuation> = {}): Continuation {
  return continuation({
    secretArn: ARN,
    versionId: 'v2',
    sync: 0,
    wave: 1,
    startedAt: '2026-12-03T09:59:00.000Z',
    sentAt: '2026-12-03T09:59:00.000Z',
    attempt: 1,
    ...overrides,
  });
}

describe('continuation messages', () => {
  it('carry ids, indexes and times only: any other field is refused, naming it and never quoting the body', () => {
    // Prepare
    const good = chain();
    const withValue = { ...good, password: 'pa55-CANARY-9c2f1a' };

    // Act + Assess
    expect(readContinuation(JSON.stringify(good))).toEqual(good);
    expect(Object.keys(good).sort()).toEqual(
      ['attempt', 'secretArn', 'startedAt', 'sentAt', 'sync', 'type', 'versionId', 'wave'].sort(),
    );
    expect(() => readContinuation(JSON.stringify(withValue))).toThrow(/invalid continuation: "\(message\)"/);
    expect(() => readContinuation(JSON.stringify(withValue))).not.toThrow(/CANARY/);
    expect(() => readContinuation('{"type":"x"')).toThrow('invalid continuation: the message body is not JSON');
    expect(() => readContinuation(JSON.stringify({ ...good, secretArn: 'app/db' }))).toThrow(/"secretArn"/);
  });
});

describe('continueWaves', () => {
  it('starts a chain for waves the pass moved and left rolling, delayed by checkEvery', async () => {
    // Prepare
    const queue = new FakeQueue();

    // Act
    const continued = await continueWaves(runtimeWith(queue), report([progress()]), [], NOW);

    // Assess
    expect(queue.sent).toEqual([
      {
        delaySeconds: 45,
        message: chain({ startedAt: NOW.toISOString(), sentAt: NOW.toISOString(), attempt: 1 }),
      },
    ]);
    expect(continued.failed).toEqual([]);
  });

  it('starts no chain for a pass that moved nothing (a duplicate, a retry, a reconcile during a wave) or a dry run', async () => {
    // Prepare
    const queue = new FakeQueue();
    const runtime = runtimeWith(queue);

    // Act
    await continueWaves(runtime, report([progress({ moved: false })]), [], NOW);
    await continueWaves(runtime, report([progress()], true), [], NOW);
    await continueWaves(runtime, report([progress({ state: 'done', wave: 2 })]), [], NOW);

    // Assess
    expect(queue.sent).toEqual([]);
  });

  it('continues a chain once, however many of its messages the batch held, keeping its start', async () => {
    // Prepare
    const queue = new FakeQueue();
    const duplicate = chain({ attempt: 3, startedAt: '2026-12-03T09:58:00.000Z' });

    // Act
    await continueWaves(runtimeWith(queue), report([progress({ moved: false, wave: 2 })]), [duplicate, duplicate], NOW);

    // Assess
    expect(queue.sent).toHaveLength(1);
    expect(queue.sent[0]?.message).toMatchObject({ wave: 2, attempt: 4, startedAt: '2026-12-03T09:58:00.000Z' });
  });

  it('ends a chain whose waves are done, failed, or superseded by a newer version', async () => {
    // Prepare
    const queue = new FakeQueue();
    const runtime = runtimeWith(queue);

    // Act
    const done = await continueWaves(runtime, report([progress({ state: 'done', moved: true })]), [chain()], NOW);
    const failed = await continueWaves(runtime, report([progress({ state: 'failed', moved: false })]), [chain()], NOW);
    const newer = await continueWaves(runtime, report([progress({ versionId: 'v3', moved: false })]), [chain()], NOW);

    // Assess
    expect(queue.sent).toEqual([]);
    expect(done.ended.map((e) => e.why)).toEqual(['done']);
    expect(failed.ended.map((e) => e.why)).toEqual(['failed']);
    expect(newer.ended.map((e) => e.why)).toEqual(['superseded by version v3']);
    expect(output.text()).toContain('"message":"waves halted"');
  });

  it('ends a chain whose version is held, starting none and counting no second halt, also after finishing a rollback', async () => {
    // Prepare
    const queue = new FakeQueue();
    const runtime = runtimeWith(queue);
    const from = output.text().length;
    const held = progress({
      state: 'held',
      moved: true,
      hold: { wave: 1, policy: 'rollback', since: NOW.toISOString() },
    });

    // Act
    const chained = await continueWaves(runtime, report([held]), [chain()], NOW);
    const fresh = await continueWaves(runtime, report([held]), [], NOW);

    // Assess
    expect(queue.sent).toEqual([]);
    expect(chained.ended.map((e) => e.why)).toEqual(['held']);
    expect(fresh.sent).toEqual([]);
    expect(output.text().slice(from)).not.toContain('"message":"waves halted"');
  });

  it('returns the chain whose next message could not be sent, for SQS to redeliver it', async () => {
    // Prepare
    const queue = new FakeQueue();
    queue.failing = true;
    const message = chain();

    // Act
    const continued = await continueWaves(runtimeWith(queue), report([progress({ moved: false })]), [message], NOW);

    // Assess
    expect(continued.failed).toEqual([message]);
    expect(output.text()).toContain('waves continuation not sent');
  });
});

describe('continueBatch', () => {
  it('fails an invalid message alone, and runs nothing for a batch of only invalid messages', async () => {
    // Prepare
    const queue = new FakeQueue();
    const batch = readContinuationBatch(
      sqsEvent([{ messageId: 'bad', body: '{"type":"eks-secret-sync.continue-waves"}' }]),
    );

    // Act
    const response = await continueBatch(runtimeWith(queue), batch, lambdaContext('continueWaves'));

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'bad' }]);
    expect(queue.sent).toEqual([]);
  });
});
