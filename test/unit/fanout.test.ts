import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.js';
import { HASH_ANNOTATION, VERSION_ANNOTATION } from '../../lib/domain/names.js';
import type { SyncRequest } from '../../lib/domain/request.js';
import type { WorkItem } from '../../lib/domain/work-item.js';
import { SyncError } from '../../lib/errors.js';
import { parseWorkItem, readWorkBatch, workRequest } from '../../lib/events/index.js';
import type { SqsQueueClient } from '../../lib/queue/sqs.js';
import { sqsWorkQueue } from '../../lib/queue/work-queue.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import type { WorkQueue } from '../../lib/sync/ports/queue.js';
import { b64, envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';
import { sqsEvent } from '../support/sqs-driver.js';

/** A value that must never leave the data path. */
const CANARY = 'pa55-CANARY-fan0ut';
const CLUSTERS = ['c1', 'c2', 'c3', 'c4', 'c5'];
const NAMESPACES = ['payments', 'canary'];

function yaml(fanout: string, extra = ''): string {
  return `
clusters:
${CLUSTERS.map((c) => `  ${c}: { kubeconfig: { path: /dev/null, context: ${c} } }`).join('\n')}
defaults:
  fanout: ${fanout}
syncs:
  - source: { secret: prod/db }
    targets:
      - clusters: [${CLUSTERS.join(', ')}]
        namespaces: [${NAMESPACES.join(', ')}]
        secret: db
${extra}`;
}

/** A recording work queue: what a planning pass enqueued. */
class RecordingQueue implements WorkQueue {
  readonly sent: WorkItem[] = [];
  async send(items: readonly WorkItem[]): Promise<void> {
    this.sent.push(...items);
  }
}

/** Five clusters with one consumer per namespace; the planner engine has a work queue, the worker engine none. */
function world(fanout: string, extra = '') {
  const config = parseConfig(yaml(fanout, extra));
  const apis = CLUSTERS.map((c) => new FakeKubeApi(c, { namespaces: NAMESPACES }));
  for (const api of apis) {
    for (const namespace of NAMESPACES) api.seedWorkload({ namespace, name: 'web', podSpec: envFromSpec('db') });
  }
  const connector = new FakeConnector(apis);
  const source = new FakeSecretSource();
  const queue = new RecordingQueue();
  const planner = new SyncEngine({ config, source, clusters: connector, work: queue });
  const worker = new SyncEngine({ config, source, clusters: connector });
  return { config, apis, connector, source, queue, planner, worker };
}

const rotation = (versionId: string): SyncRequest => ({
  trigger: 'rotation',
  secrets: ['prod/db'],
  versionId,
  dryRun: false,
  restart: true,
});

/** What the clusters hold: per cluster/namespace the Secret's data, hash and version, and the consumer's generation. */
function state(apis: FakeKubeApi[]) {
  return apis.flatMap((api) =>
    NAMESPACES.map((namespace) => {
      const secret = api.secret(namespace, 'db');
      return {
        at: `${api.cluster}/${namespace}`,
        data: secret?.data,
        hash: secret?.annotations?.[HASH_ANNOTATION],
        version: secret?.annotations?.[VERSION_ANNOTATION],
        generation: api.generation(namespace, 'web'),
      };
    }),
  );
}

/** Runs every item as the worker handler would (the message body, parsed). */
async function work(worker: SyncEngine, items: readonly WorkItem[]) {
  const reports = [];
  for (const item of items) reports.push(await worker.run(workRequest(parseWorkItem(JSON.stringify(item)))));
  return reports;
}

describe('fan-out: a pass larger than the budget becomes work items', () => {
  it('queue: enqueues one item per group of clusters, writes nothing itself, and names ids and versions only', async () => {
    // Prepare
    const w = world('{ mode: queue, clustersPerItem: 2 }');
    const versionId = w.source.put('prod/db', { password: CANARY });

    // Act
    const report = await w.planner.run(rotation(versionId));

    // Assess
    expect(report.queued).toMatchObject({ items: 3, clusters: 5, bindings: 10 });
    expect(report.results).toEqual([]);
    expect(w.queue.sent.map((i) => i.clusters)).toEqual([['c1', 'c2'], ['c3', 'c4'], ['c5']]);
    expect(w.queue.sent.map((i) => `${i.item}/${i.items}`)).toEqual(['1/3', '2/3', '3/3']);
    expect(new Set(w.queue.sent.map((i) => i.correlationId)).size).toBe(1);
    expect(w.queue.sent[0]?.secrets).toEqual([{ sync: 0, fetchId: 'prod/db', name: 'prod/db', versionId }]);
    for (const api of w.apis) expect(api.writes()).toBe(0);
    // No value was read to plan it (DescribeSecret only), and none is in any message or the report.
    expect(w.source.reads()).toBe(0);
    const text = JSON.stringify([w.queue.sent, report]);
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(b64(CANARY));
  });

  it('the items, each applied by a worker, give the same Secrets and restarts as the inline pass', async () => {
    // Prepare
    const inline = world('{ mode: inline }');
    const queued = world('{ mode: queue, clustersPerItem: 2 }');
    const v1 = inline.source.put('prod/db', { password: CANARY });
    const q1 = queued.source.put('prod/db', { password: CANARY });

    // Act
    const inlineReport = await inline.planner.run(rotation(v1));
    await queued.planner.run(rotation(q1));
    const reports = await work(queued.worker, queued.queue.sent);

    // Assess
    expect(inline.queue.sent).toEqual([]);
    expect(inlineReport.summary.created).toBe(10);
    const strip = (s: ReturnType<typeof state>) => s.map(({ version: _v, ...rest }) => rest);
    expect(strip(state(queued.apis))).toEqual(strip(state(inline.apis)));
    expect(state(queued.apis).every((s) => s.version === q1 && s.generation === 2)).toBe(true);
    expect(reports.reduce((n, r) => n + r.summary.created, 0)).toBe(10);
    expect(reports.reduce((n, r) => n + r.summary.restarts, 0)).toBe(inlineReport.summary.restarts);
    // Read by version id, once per item.
    expect(queued.source.calls('getVersion')).toBe(3);
  });

  it('a redelivered item writes and restarts nothing', async () => {
    // Prepare
    const w = world('{ mode: queue, clustersPerItem: 5 }');
    await w.planner.run(rotation(w.source.put('prod/db', { password: CANARY })));
    await work(w.worker, w.queue.sent);
    for (const api of w.apis) api.book.reset();

    // Act
    const [again] = await work(w.worker, w.queue.sent);

    // Assess
    expect(again?.summary.unchanged).toBe(10);
    expect(again?.summary.restarts).toBe(0);
    for (const api of w.apis) expect(api.writes()).toBe(0);
  });

  it('an item whose version was rotated again since it was planned syncs AWSCURRENT, not the older value', async () => {
    // Prepare
    const w = world('{ mode: queue, clustersPerItem: 5 }');
    await w.planner.run(rotation(w.source.put('prod/db', { password: 'old-value' })));
    const v2 = w.source.put('prod/db', { password: CANARY });

    // Act
    const [report] = await work(w.worker, w.queue.sent);

    // Assess
    expect(report?.summary.failed).toBe(0);
    expect(state(w.apis).every((s) => s.version === v2)).toBe(true);
    expect(report?.notes.join('\n')).toContain('is no longer AWSCURRENT');
  });

  it('auto: a pass over at most `threshold` clusters runs inline; over it, it is queued', async () => {
    // Prepare
    const under = world('{ mode: auto, threshold: 5 }');
    const over = world('{ mode: auto, threshold: 4 }');

    // Act
    const inlineReport = await under.planner.run(rotation(under.source.put('prod/db', { password: CANARY })));
    const queuedReport = await over.planner.run(rotation(over.source.put('prod/db', { password: CANARY })));

    // Assess
    expect(inlineReport.queued).toBeUndefined();
    expect(inlineReport.summary.created).toBe(10);
    expect(queuedReport.queued?.items).toBe(1);
  });

  it('runs inline, saying why, a sync with waves, a dry run, and a pass without a work queue', async () => {
    // Prepare
    const waves = world('{ mode: queue }', '    rollout: { waves: [[c1], [c2, c3, c4, c5]], healthTimeout: 10m }');
    const plain = world('{ mode: queue }');
    const version = waves.source.put('prod/db', { password: CANARY });
    const plainVersion = plain.source.put('prod/db', { password: CANARY });
    const noQueue = new SyncEngine({ config: plain.config, source: plain.source, clusters: plain.connector });

    // Act
    const waved = await waves.planner.run(rotation(version));
    const dry = await plain.planner.run({ ...rotation(plainVersion), dryRun: true });
    const cli = await noQueue.run(rotation(plainVersion));

    // Assess
    expect(waves.queue.sent).toEqual([]);
    expect(waved.notes).toContain('fanout: queue, but a sync has waves: ran inline');
    expect(dry.notes).toContain('fanout: queue, but a dry run: ran inline');
    expect(cli.notes).toContain('fanout: queue, but no work queue here: ran inline');
    expect(plain.queue.sent).toEqual([]);
    expect(cli.summary.created).toBe(10);
  });

  it('a reconcile of everything: items say so, and a worker on another configuration resolves the ids again', async () => {
    // Prepare
    const w = world('{ mode: queue, clustersPerItem: 5 }');
    w.source.put('prod/db', { password: CANARY });
    await w.planner.run({ trigger: 'reconcile', dryRun: false, restart: true });
    const [item] = w.queue.sent as [WorkItem];
    const moved = { ...item, configHash: 'another-config' };

    // Act
    const [report] = await work(w.worker, [moved]);

    // Assess
    expect(item.everything).toBe(true);
    expect(report?.notes).toContain('work item planned on another configuration: secrets resolved again');
    expect(report?.summary.created).toBe(10);
  });
});

describe('work items on the queue', () => {
  const item: WorkItem = {
    type: 'eks-secret-sync.work-item',
    correlationId: 'pass-1',
    item: 1,
    items: 1,
    trigger: 'rotation',
    restart: true,
    clusters: ['c1'],
    secrets: [{ sync: 0, fetchId: 'prod/db', name: 'prod/db', versionId: 'v1' }],
    everything: false,
    configHash: 'abc',
  };

  it('a message that is not a work item fails alone, naming the field', () => {
    // Act
    const batch = readWorkBatch(
      sqsEvent([
        { messageId: 'good', body: JSON.stringify(item) },
        { messageId: 'bad', body: JSON.stringify({ ...item, clusters: [] }) },
        { messageId: 'text', body: 'not json' },
      ]),
    );

    // Assess
    expect(batch.items.map((i) => i.messageId)).toEqual(['good']);
    expect(batch.items[0]?.request).toMatchObject({ secrets: ['prod/db'], clusters: ['c1'], work: { item: 1 } });
    expect(batch.invalid.map((i) => [i.messageId, i.error.message])).toEqual([
      ['bad', 'invalid work item: "clusters": too_small'],
      ['text', 'invalid work item: the message body is not JSON'],
    ]);
  });

  it('on SQS: one message per item, and a send that fails names how many items were not enqueued', async () => {
    // Prepare
    const bodies: string[] = [];
    const client = (fail: boolean): SqsQueueClient => ({
      queueUrl: 'http://127.0.0.1/123456789012/work',
      send: async (body) => {
        if (fail) throw new SyncError('ContinuationFailed', 'SQS SendMessage failed: HTTP 503', { retryable: true });
        bodies.push(body);
        return 'id';
      },
      receive: async () => [],
      delete: async () => {},
      attributes: async () => ({}),
    });

    // Act
    await sqsWorkQueue(client(false)).send([item, { ...item, item: 2 }]);
    const failing = sqsWorkQueue(client(true)).send([item]);

    // Assess
    expect(bodies.map((b) => (JSON.parse(b) as WorkItem).item)).toEqual([1, 2]);
    await expect(failing).rejects.toMatchObject({
      code: 'QueueFailed',
      retryable: true,
      message: expect.stringContaining('1 of 1 work item(s)'),
    });
  });
});
