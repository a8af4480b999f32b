import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.js';
import type { SyncRequest } from '../../lib/domain/request.js';
import { SyncError } from '../../lib/errors.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import type { WorkloadKind } from '../../lib/sync/ports/kube.js';
import type { BindingResult, SyncReport } from '../../lib/sync/types.js';
import { envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource, type StatusStep } from '../support/fakes.js';

const NOW = Date.parse('2025-05-01T10:00:00.000Z');
const CANARY = 'pa55-ROLLOUT-CANARY-4f1e';

function yaml(rollout = '', clusters = ['eu']): string {
  return `
clusters:
${clusters.map((c) => `  ${c}: { eks: { name: ${c}, region: eu-west-1 } }`).join('\n')}
defaults: { ${rollout} }
syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [${clusters.join(', ')}], namespaces: [app], secret: db }]
`;
}

/**
 * An engine over fake clusters whose clock moves only when the engine sleeps: the reads of a rollout check are
 * counted, and its pauses recorded, without waiting for them.
 */
function world(rollout = '', clusters = ['eu']) {
  let clock = NOW;
  const sleeps: number[] = [];
  const apis = clusters.map((c) => new FakeKubeApi(c, { namespaces: ['app'] }));
  const connector = new FakeConnector(apis);
  const source = new FakeSecretSource();
  source.put('app/db', { password: CANARY });
  const engine = new SyncEngine({
    config: parseConfig(yaml(rollout, clusters)),
    source,
    clusters: connector,
    now: () => new Date(clock),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
  });
  const api = (cluster = 'eu') => connector.api(cluster);
  const seed = (kind: WorkloadKind, name: string, extra: { replicas?: number; paused?: boolean } = {}) =>
    api().seedWorkload({ kind, namespace: 'app', name, podSpec: envFromSpec('db'), ...extra });
  return { engine, api, apis, connector, sleeps, seed, elapsed: () => clock - NOW };
}

const rotation: SyncRequest = { trigger: 'rotation', dryRun: false, restart: true };

function binding(report: SyncReport, cluster = 'eu'): BindingResult {
  const found = report.results.find((r) => r.cluster === cluster);
  if (found === undefined) throw new Error(`no result for ${cluster}`);
  return found;
}

/** The kinds restarted by a pod-template change, whose rollouts a pass watches. */
type PodTemplateKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

/** After the restart the fake's generation is 2: `observedGeneration: 1` is a status from before it. */
const UNOBSERVED = { observedGeneration: 1 };

const ROLLING: { [K in PodTemplateKind]: Array<StatusStep<K>> } = {
  Deployment: [UNOBSERVED, { replicas: 4, updatedReplicas: 2, availableReplicas: 2 }, {}],
  StatefulSet: [UNOBSERVED, { updatedReplicas: 1, currentRevision: 'db-1', updateRevision: 'db-2' }, {}],
  DaemonSet: [UNOBSERVED, { updatedNumberScheduled: 1, numberAvailable: 2 }, {}],
};

/** A rollout whose new pods never become Ready: the same status on every read. */
const STUCK: { [K in PodTemplateKind]: Array<StatusStep<K>> } = {
  Deployment: [{ replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3 }],
  StatefulSet: [{ readyReplicas: 2, updatedReplicas: 1, currentRevision: 'db-1', updateRevision: 'db-2' }],
  DaemonSet: [{ updatedNumberScheduled: 1, numberReady: 2, numberAvailable: 2 }],
};

const KINDS: PodTemplateKind[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

describe('rollout outcome', () => {
  it.each(KINDS)('reports a %s rolledOut once its status shows every pod updated and available', async (kind) => {
    // Prepare
    const w = world();
    w.seed(kind, 'web', { replicas: 3 });
    w.api().scriptRollout('app', kind, 'web', ROLLING[kind] as Array<StatusStep<typeof kind>>);

    // Act
    const report = await w.engine.run(rotation);

    // Assess
    expect(binding(report)).toMatchObject({
      action: 'created',
      restarted: [{ kind, name: 'web', rollout: 'rolledOut' }],
    });
    expect(binding(report).notes).toBeUndefined();
    expect(w.api().calls('readWorkloadStatus')).toBe(3);
    expect(w.sleeps).toEqual([500, 1000]);
    expect(report.summary).toMatchObject({ restarts: 1, rolledOut: 1, progressing: 0, rolloutFailed: 0, failed: 0 });
  });

  it.each(KINDS)(
    'reports a %s failed when it stands still with new pods not Ready for readyTimeoutMs',
    async (kind) => {
      // Prepare
      const w = world('rollout: { waitMs: 60000, readyTimeoutMs: 10000 }');
      w.seed(kind, 'web', { replicas: 3 });
      w.api().scriptRollout('app', kind, 'web', STUCK[kind] as Array<StatusStep<typeof kind>>);

      // Act
      const report = await w.engine.run(rotation);

      // Assess: reads at 0, 0.5, 1.5, 3.5, 7.5 and 12.5 s, the first more than 10 s after the status last moved.
      const result = binding(report);
      expect(result.restarted).toEqual([{ kind, name: 'web', rollout: 'failed' }]);
      expect(result.notes).toEqual([
        expect.stringMatching(new RegExp(`^${kind}/web rollout failed: no progress for 10 s`)),
      ]);
      expect(w.api().calls('readWorkloadStatus')).toBe(6);
      // The Secret was written and its consumer restarted: the binding itself did not fail.
      expect(result.action).toBe('created');
      expect(report.summary).toMatchObject({ failed: 0, rolloutFailed: 1, rolledOut: 0 });
      expect(JSON.stringify(report)).not.toContain(CANARY);
    },
  );

  it('reports a Deployment failed when its progress deadline passed, and ignores one left from before the restart', async () => {
    // Prepare
    const w = world();
    w.seed('Deployment', 'web');
    w.seed('Deployment', 'api');
    const exceeded = { progressDeadlineExceeded: true, replicas: 2, updatedReplicas: 1, availableReplicas: 1 };
    w.api().scriptRollout('app', 'Deployment', 'web', [{ replicas: 2 }, exceeded]);
    w.api().scriptRollout('app', 'Deployment', 'api', [{ ...exceeded, ...UNOBSERVED }, {}]);

    // Act
    const report = await w.engine.run(rotation);

    // Assess
    expect(binding(report).restarted).toEqual([
      { kind: 'Deployment', name: 'web', rollout: 'failed' },
      { kind: 'Deployment', name: 'api', rollout: 'rolledOut' },
    ]);
    expect(binding(report).notes).toEqual([
      'Deployment/web rollout failed: progress deadline exceeded (1 of 1 updated pods available)',
    ]);
    expect(w.api().calls('readWorkloadStatus')).toBe(4);
  });

  it('reports progressing when the wait ends first, reading with pauses of 0.5, 1, 2, 4, then 5 s', async () => {
    // Prepare
    const w = world('rollout: { waitMs: 60000, readyTimeoutMs: 900000 }');
    w.seed('Deployment', 'web', { replicas: 3 });
    w.api().scriptRollout('app', 'Deployment', 'web', STUCK.Deployment);

    // Act
    const report = await w.engine.run(rotation);

    // Assess: 15 reads in a minute (at 0, 0.5, 1.5, 3.5, 7.5, then every 5 s up to 57.5 s), not a tight loop.
    expect(binding(report).restarted).toEqual([{ kind: 'Deployment', name: 'web', rollout: 'progressing' }]);
    expect(binding(report).notes).toEqual([
      'Deployment/web rollout: still rolling out when the wait ended: 1 of 3 pods updated',
    ]);
    expect(w.api().calls('readWorkloadStatus')).toBe(15);
    expect(w.sleeps.slice(0, 5)).toEqual([500, 1000, 2000, 4000, 5000]);
    expect(new Set(w.sleeps.slice(4))).toEqual(new Set([5000]));
    expect(report.summary).toMatchObject({ progressing: 1, failed: 0 });
  });

  it('reports progressing when the pass deadline comes before the wait ends, and fails no binding', async () => {
    // Prepare
    const w = world('rollout: { waitMs: 60000, readyTimeoutMs: 900000 }');
    w.seed('Deployment', 'web', { replicas: 3 });
    w.api().scriptRollout('app', 'Deployment', 'web', STUCK.Deployment);

    // Act
    const report = await w.engine.run(rotation, { deadlineAt: NOW + 10_000 });

    // Assess: reads at 0, 0.5, 1.5, 3.5 and 7.5 s; the next would start after the deadline.
    expect(binding(report)).toMatchObject({ action: 'created', restarted: [{ rollout: 'progressing' }] });
    expect(w.api().calls('readWorkloadStatus')).toBe(5);
    expect(w.elapsed()).toBeLessThanOrEqual(10_000);
    expect(report.summary.failed).toBe(0);
    expect(report.notes).toEqual([]);
  });

  it('reports zero-replica workloads rolledOut at once, without a read, even when told not to wait', async () => {
    // Prepare
    const w = world('rollout: { waitMs: 0 }');
    w.seed('Deployment', 'idle', { replicas: 0 });
    w.seed('StatefulSet', 'cold', { replicas: 0 });
    w.seed('Deployment', 'web');

    // Act
    const report = await w.engine.run(rotation);

    // Assess: waitMs 0 reads nothing; what is not known at once is progressing.
    expect(binding(report).restarted).toEqual([
      { kind: 'Deployment', name: 'idle', rollout: 'rolledOut' },
      { kind: 'Deployment', name: 'web', rollout: 'progressing' },
      { kind: 'StatefulSet', name: 'cold', rollout: 'rolledOut' },
    ]);
    expect(binding(report).notes).toBeUndefined();
    expect(w.api().calls('readWorkloadStatus')).toBe(0);
  });

  it('reports a paused Deployment and an OnDelete StatefulSet progressing without waiting for them', async () => {
    // Prepare
    const w = world();
    w.seed('Deployment', 'web', { paused: true });
    w.seed('StatefulSet', 'db');
    w.api().scriptRollout('app', 'StatefulSet', 'db', [{ onDelete: true, currentRevision: 'a', updateRevision: 'b' }]);

    // Act
    const report = await w.engine.run(rotation);

    // Assess
    expect(binding(report).restarted).toEqual([
      { kind: 'Deployment', name: 'web', paused: true, rollout: 'progressing' },
      { kind: 'StatefulSet', name: 'db', rollout: 'progressing' },
    ]);
    expect(binding(report).notes).toContain(
      'StatefulSet/db rollout: updateStrategy OnDelete: pods are replaced only when deleted',
    );
    expect(w.api().calls('readWorkloadStatus')).toBe(1);
    expect(w.sleeps).toEqual([]);
  });

  it('observes the workloads of a pass at once, not one after another', async () => {
    // Prepare
    const w = world();
    for (const name of ['a', 'b', 'c']) {
      w.seed('Deployment', name, { replicas: 2 });
      w.api().scriptRollout('app', 'Deployment', name, [UNOBSERVED, { updatedReplicas: 1 }, {}]);
    }

    // Act
    const report = await w.engine.run(rotation);

    // Assess: each one's first read comes before anyone's second.
    expect(report.summary.rolledOut).toBe(3);
    const reads = w
      .api()
      .book.log.filter((c) => c.method === 'readWorkloadStatus')
      .map((c) => c.args[2]);
    expect(reads).toHaveLength(9);
    expect(new Set(reads.slice(0, 3))).toEqual(new Set(['a', 'b', 'c']));
    expect(new Set(reads.slice(3, 6))).toEqual(new Set(['a', 'b', 'c']));
  });

  it('does not let a cluster whose reads never answer hold the others', async () => {
    // Prepare: real time here, a short wait (the silent read is abandoned when it ends).
    const w = world('rollout: { waitMs: 300 }', ['eu', 'us']);
    for (const api of w.apis) api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
    w.api('us').stall('readWorkloadStatus');

    // Act
    const report = await w.engine.run(rotation);

    // Assess
    expect(binding(report, 'eu').restarted).toEqual([{ kind: 'Deployment', name: 'web', rollout: 'rolledOut' }]);
    expect(binding(report, 'us').restarted).toEqual([{ kind: 'Deployment', name: 'web', rollout: 'progressing' }]);
    expect(binding(report, 'us').notes).toEqual(['Deployment/web rollout: still rolling out when the wait ended']);
    expect(report.summary).toMatchObject({ failed: 0, rolledOut: 1, progressing: 1 });
  });

  it('reports progressing with the reason when the status cannot be read, and nothing for a workload deleted meanwhile', async () => {
    // Prepare
    const w = world();
    w.seed('Deployment', 'web');
    w.seed('Deployment', 'gone');
    w.api().fail(
      'readWorkloadStatus',
      () => new SyncError('Forbidden', 'forbidden: cannot get deployments "app/web"'),
      {
        when: (args) => args[2] === 'web',
      },
    );
    w.api().before = (method, args) => {
      if (method === 'readWorkloadStatus' && args[2] === 'gone') w.api().removeWorkload('app', 'gone');
    };

    // Act
    const report = await w.engine.run(rotation);

    // Assess
    expect(binding(report).restarted).toEqual([
      { kind: 'Deployment', name: 'web', rollout: 'progressing' },
      { kind: 'Deployment', name: 'gone' },
    ]);
    expect(binding(report).notes).toEqual([
      'Deployment/web rollout: status not read: forbidden: cannot get deployments "app/web"',
      'Deployment/gone rollout: deleted before it rolled out',
    ]);
    expect(report.summary).toMatchObject({ failed: 0, restarts: 2, progressing: 1, rolledOut: 0 });
  });

  it('records RolledOut or RolloutFailed on each workload once decided, nothing while progressing, best effort', async () => {
    // Prepare
    const w = world('rollout: { waitMs: 60000, readyTimeoutMs: 10000 }');
    const web = w.seed('Deployment', 'web');
    const db = w.seed('StatefulSet', 'db', { replicas: 3 });
    w.seed('Deployment', 'paused', { paused: true });
    w.seed('Deployment', 'idle', { replicas: 0 });
    w.seed('DaemonSet', 'agent');
    w.api().scriptRollout('app', 'StatefulSet', 'db', STUCK.StatefulSet);
    w.api().fail('recordEvent', () => new SyncError('Forbidden', 'forbidden: cannot create events'), {
      when: (args) => {
        const event = args[0] as { reason: string; regarding: { name: string } };
        return event.reason === 'RolledOut' && event.regarding.name === 'agent';
      },
    });

    // Act
    const report = await w.engine.run(rotation);

    // Assess
    const decided = w
      .api()
      .events()
      .filter((e) => e.reason === 'RolledOut' || e.reason === 'RolloutFailed');
    expect(decided).toEqual([
      expect.objectContaining({
        regarding: { kind: 'Deployment', namespace: 'app', name: 'web', uid: web.uid },
        type: 'Normal',
        reason: 'RolledOut',
        action: 'Rollout',
      }),
      expect.objectContaining({
        regarding: { kind: 'StatefulSet', namespace: 'app', name: 'db', uid: db.uid },
        type: 'Warning',
        reason: 'RolloutFailed',
        note: 'Rollout after the restart failed: no progress for 10 s (new pods not Ready): 2 of 3 pods ready',
      }),
    ]);
    // The Event that could not be recorded changed no outcome.
    expect(binding(report).restarted.find((r) => r.name === 'agent')?.rollout).toBe('rolledOut');
    expect(JSON.stringify(decided)).not.toContain(CANARY);
  });

  it('reads nothing in a dry run, and sets no outcome', async () => {
    // Prepare
    const w = world();
    w.seed('Deployment', 'web');

    // Act
    const report = await w.engine.run({ ...rotation, dryRun: true });

    // Assess
    expect(binding(report).restarted).toEqual([{ kind: 'Deployment', name: 'web' }]);
    expect(w.api().calls('readWorkloadStatus')).toBe(0);
    expect(report.summary).toMatchObject({ restarts: 1, rolledOut: 0, progressing: 0, rolloutFailed: 0 });
  });

  it('observes nothing when nothing was restarted (a duplicate event)', async () => {
    // Prepare
    const w = world();
    w.seed('Deployment', 'web');
    await w.engine.run(rotation);
    w.api().book.reset();

    // Act
    const again = await w.engine.run(rotation);

    // Assess
    expect(binding(again)).toMatchObject({ action: 'unchanged', restarted: [] });
    expect(w.api().calls('readWorkloadStatus')).toBe(0);
  });
});
