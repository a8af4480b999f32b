import { beforeEach, describe, expect, it } from 'vitest';
import { consumerHashAnnotation, RESTARTED_AT_ANNOTATION } from '../../lib/domain/names.js';
import { SyncError } from '../../lib/errors.js';
import { RELOADER_AUTO, RELOADER_IGNORE, RELOADER_RELOAD } from '../../lib/sync/apply/consumers.js';
import { type RestartItem, restartConsumers } from '../../lib/sync/apply/restarter.js';
import { envFromSpec, FakeKubeApi } from '../support/fakes.js';
import { seedConsumerAt } from '../support/fixtures.js';

const NOW = new Date('2025-05-01T10:00:00.000Z');
const OPTIONS = { dryRun: false, now: NOW };
const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

function item(secretName: string, overrides: Partial<RestartItem> = {}): RestartItem {
  return { secretName, secretAnnotations: {}, hash: H2, policy: 'auto', contentChanged: true, ...overrides };
}

describe('restartConsumers', () => {
  let api: FakeKubeApi;

  beforeEach(() => {
    api = new FakeKubeApi('a', { namespaces: ['app'] });
  });

  it('patches each consumer with the Secret hash and restartedAt, and leaves other workloads alone', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
    api.seedWorkload({
      kind: 'StatefulSet',
      namespace: 'app',
      name: 'pg',
      podSpec: { volumes: [{ secret: { secretName: 'db' } }] },
    });
    api.seedWorkload({ kind: 'DaemonSet', namespace: 'app', name: 'agent', podSpec: envFromSpec('other') });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess
    expect(outcome.failures.size).toBe(0);
    expect(outcome.restarted.get('db')).toEqual([
      { kind: 'Deployment', name: 'web' },
      { kind: 'StatefulSet', name: 'pg' },
    ]);
    expect(api.workload('app', 'web').templateAnnotations).toEqual({
      [consumerHashAnnotation('db')]: H2,
      [RESTARTED_AT_ANNOTATION]: NOW.toISOString(),
    });
    expect(api.workload('app', 'agent', 'DaemonSet').templateAnnotations).toEqual({});
    expect(api.calls('patchTemplateAnnotations')).toBe(2);
  });

  it('restarts a workload that opted in with the Reloader reload annotation', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', annotations: { [RELOADER_RELOAD]: 'db' } });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess
    expect(outcome.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'web' }]);
  });

  it('sends one patch per workload even when two changed Secrets are consumed', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db', 'api-key') });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db'), item('api-key', { hash: H1 })], OPTIONS);

    // Assess
    expect(api.templatePatches()).toEqual([
      {
        namespace: 'app',
        kind: 'Deployment',
        name: 'web',
        annotations: {
          [RESTARTED_AT_ANNOTATION]: NOW.toISOString(),
          [consumerHashAnnotation('db')]: H2,
          [consumerHashAnnotation('api-key')]: H1,
        },
      },
    ]);
    expect(outcome.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'web' }]);
    expect(outcome.restarted.get('api-key')).toEqual([{ kind: 'Deployment', name: 'web' }]);
  });

  it('does not patch a workload whose hash annotation already matches', async () => {
    // Prepare
    seedConsumerAt(api, 'app', 'web', H2);

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess
    expect(outcome.restarted.get('db')).toEqual([]);
    expect(api.calls('patchTemplateAnnotations')).toBe(0);
  });

  it('restarts a consumer carrying an older hash even when the content did not change in this pass', async () => {
    // Prepare
    seedConsumerAt(api, 'app', 'stale', H1);
    api.seedWorkload({ namespace: 'app', name: 'new', podSpec: envFromSpec('db') });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db', { contentChanged: false })], OPTIONS);

    // Assess
    expect(outcome.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'stale' }]);
  });

  it('restarts a consumer without our annotation only when the content changed', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });

    // Act
    const unchanged = await restartConsumers(api, 'app', [item('db', { contentChanged: false })], OPTIONS);
    const changed = await restartConsumers(api, 'app', [item('db', { contentChanged: true })], OPTIONS);

    // Assess
    expect(unchanged.restarted.get('db')).toEqual([]);
    expect(changed.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'web' }]);
  });

  it('restarts nothing and lists nothing under policy none', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db', { policy: 'none' })], OPTIONS);

    // Assess
    expect(outcome.restarted.size).toBe(0);
    expect(api.book.total()).toBe(0);
  });

  it('restarts only the listed workloads under an explicit list', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
    api.seedWorkload({ namespace: 'app', name: 'worker' });
    const policy = { auto: false, workloads: [{ kind: 'Deployment' as const, name: 'worker' }] };

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db', { policy })], OPTIONS);

    // Assess
    expect(outcome.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'worker' }]);
  });

  it('restarts the listed workloads and the discovered consumers when the list says auto', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
    api.seedWorkload({ namespace: 'app', name: 'worker' });
    const policy = { auto: true, workloads: [{ kind: 'Deployment' as const, name: 'worker' }] };

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db', { policy })], OPTIONS);

    // Assess
    expect(outcome.restarted.get('db')?.map((w) => w.name)).toEqual(['web', 'worker']);
  });

  it('notes, without failing, an explicit list entry that does not exist in this namespace', async () => {
    // Prepare
    const policy = { auto: false, workloads: [{ kind: 'StatefulSet' as const, name: 'ghost' }] };

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db', { policy })], OPTIONS);

    // Assess
    expect(outcome.failures.has('db')).toBe(false);
    expect(outcome.notes.get('db')).toEqual(['restart target StatefulSet/ghost does not exist in namespace app']);
  });

  it('patches a paused Deployment and reports it as paused', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', paused: true, podSpec: envFromSpec('db') });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess
    expect(outcome.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'web', paused: true }]);
  });

  it('reports a failed list as a failure of every Secret and patches nothing', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
    api.fail('listWorkloads', () => new SyncError('Forbidden', 'list statefulsets in app: forbidden'));

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db'), item('other')], OPTIONS);

    // Assess
    expect(outcome.failures.get('db')?.code).toBe('Forbidden');
    expect(outcome.failures.get('other')?.code).toBe('Forbidden');
    expect(api.calls('patchTemplateAnnotations')).toBe(0);
  });

  it('reports a failed patch against the Secrets it carried and still patches other workloads', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'a', podSpec: envFromSpec('db') });
    api.seedWorkload({ namespace: 'app', name: 'b', podSpec: envFromSpec('db') });
    api.fail('patchTemplateAnnotations', () => new SyncError('KubernetesError', 'patch: 500'), {
      when: (args) => args[2] === 'a',
    });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess
    expect(outcome.failures.get('db')?.code).toBe('KubernetesError');
    expect(outcome.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'b' }]);
  });

  it('reports a failure, not a deleted workload, when the re-read after a 409 fails', async () => {
    // Prepare: the patch meets a concurrent writer, then the re-read cannot be answered (e.g. the pass deadline).
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
    api.fail('patchTemplateAnnotations', () => new SyncError('Conflict', 'patch: the object has been modified'));
    api.fail('listWorkloads', () => new SyncError('DeadlineExceeded', 'pass deadline reached during list consumers'), {
      when: () => api.calls('patchTemplateAnnotations') > 0,
    });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess
    expect(outcome.failures.get('db')?.code).toBe('DeadlineExceeded');
    expect(outcome.restarted.get('db')).toEqual([]);
  });

  it('reports would-be restarts in a dry run without patching', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db')], { ...OPTIONS, dryRun: true });

    // Assess
    expect(outcome.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'web' }]);
    expect(api.writes()).toBe(0);
  });

  it('restarts a workload once when two passes for the same change run at the same time', async () => {
    // Prepare
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });

    // Act: both passes list the workload before either patches it.
    const [a, b] = await Promise.all([
      restartConsumers(api, 'app', [item('db')], OPTIONS),
      restartConsumers(api, 'app', [item('db')], OPTIONS),
    ]);

    // Assess
    const patched = api.templatePatches();
    expect(api.calls('patchTemplateAnnotations')).toBe(2);
    expect(new Set(patched.map((p) => p.name))).toEqual(new Set(['web']));
    const restarted = [...(a.restarted.get('db') ?? []), ...(b.restarted.get('db') ?? [])];
    expect(restarted).toEqual([{ kind: 'Deployment', name: 'web' }]);
    expect(a.failures.size + b.failures.size).toBe(0);
    expect(api.workload('app', 'web').templateAnnotations[consumerHashAnnotation('db')]).toBe(H2);
  });
});

describe('restartConsumers: Argo Rollouts and CronJobs', () => {
  let api: FakeKubeApi;

  beforeEach(() => {
    api = new FakeKubeApi('a', { namespaces: ['app'] });
  });

  it('restarts a Rollout by spec.restartAt with the fingerprint on its own metadata, leaving its pod template alone', async () => {
    // Prepare
    api.seedWorkload({ kind: 'Rollout', namespace: 'app', name: 'canary', podSpec: envFromSpec('db') });

    // Act
    const first = await restartConsumers(api, 'app', [item('db')], OPTIONS);
    const again = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess: once per change; the same event again patches nothing.
    expect(first.restarted.get('db')).toEqual([{ kind: 'Rollout', name: 'canary', rollout: 'progressing' }]);
    expect(again.restarted.get('db')).toEqual([]);
    expect(api.templatePatches()).toEqual([
      {
        namespace: 'app',
        kind: 'Rollout',
        name: 'canary',
        annotations: { [consumerHashAnnotation('db')]: H2 },
        restartAt: NOW,
      },
    ]);
    const rollout = api.workload('app', 'canary', 'Rollout');
    expect(rollout.templateAnnotations).toEqual({});
    expect(rollout.annotations[consumerHashAnnotation('db')]).toBe(H2);
    expect(api.restartAt('app', 'canary')).toBe(NOW.toISOString());
  });

  it('updates a CronJob job template for the next run and reports it apart from restarts', async () => {
    // Prepare
    api.seedWorkload({ kind: 'CronJob', namespace: 'app', name: 'backup', podSpec: envFromSpec('db') });

    // Act
    const first = await restartConsumers(api, 'app', [item('db')], OPTIONS);
    const again = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess
    expect(first.restarted.get('db')).toEqual([]);
    expect(first.nextRun.get('db')).toEqual([{ kind: 'CronJob', name: 'backup' }]);
    expect(again.nextRun.get('db')).toEqual([]);
    expect(api.templatePatches()).toEqual([
      { namespace: 'app', kind: 'CronJob', name: 'backup', annotations: { [consumerHashAnnotation('db')]: H2 } },
    ]);
    expect(api.workload('app', 'backup', 'CronJob').templateAnnotations).not.toHaveProperty(RESTARTED_AT_ANNOTATION);
  });

  it.each<[string, (api: FakeKubeApi) => void, string]>([
    ['the Rollout CRD is not installed', (a) => (a.servesRollouts = false), 'KindNotServed'],
    ['the Rollouts role is not bound', (a) => a.rolloutsForbidden.add('app'), 'Forbidden'],
  ])('skips Rollouts without failing when %s, and restarts the other kinds', async (_label, arrange, code) => {
    // Prepare
    arrange(api);
    api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess
    expect(outcome.failures.size).toBe(0);
    expect(outcome.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'web' }]);
    expect(outcome.skipped).toEqual([{ kind: 'Rollout', code, message: expect.stringContaining('rollouts') }]);
  });

  it('fails the restart when another kind cannot be listed', async () => {
    // Prepare
    api.forbidden.add('app');

    // Act
    const outcome = await restartConsumers(api, 'app', [item('db')], OPTIONS);

    // Assess
    expect(outcome.failures.get('db')?.code).toBe('Forbidden');
  });
});

describe('restartConsumers: restart policies and Reloader annotations', () => {
  let api: FakeKubeApi;

  beforeEach(() => {
    api = new FakeKubeApi('a', { namespaces: ['app'] });
    api.seedWorkload({ namespace: 'app', name: 'plain', podSpec: envFromSpec('db') });
    api.seedWorkload({
      namespace: 'app',
      name: 'asking',
      podSpec: envFromSpec('db'),
      annotations: { [RELOADER_AUTO]: 'true' },
    });
  });

  it('restarts only the workloads that ask under annotated, every consumer under auto', async () => {
    // Act
    const annotated = await restartConsumers(api, 'app', [item('db', { policy: 'annotated' })], OPTIONS);
    const auto = await restartConsumers(api, 'app', [item('db', { policy: 'auto', hash: H1 })], OPTIONS);

    // Assess
    expect(annotated.restarted.get('db')?.map((w) => w.name)).toEqual(['asking']);
    expect(
      auto.restarted
        .get('db')
        ?.map((w) => w.name)
        .sort(),
    ).toEqual(['asking', 'plain']);
  });

  it('restarts nothing discovered for a Secret that says ignore, but still the workloads the configuration names', async () => {
    // Prepare
    const ignored = { secretAnnotations: { [RELOADER_IGNORE]: 'true' } };
    const listed = { workloads: [{ kind: 'Deployment' as const, name: 'plain' }], auto: true as const };

    // Act
    const auto = await restartConsumers(api, 'app', [item('db', ignored)], OPTIONS);
    const named = await restartConsumers(api, 'app', [item('db', { ...ignored, policy: listed })], OPTIONS);

    // Assess
    expect(auto.restarted.get('db')).toEqual([]);
    expect(named.restarted.get('db')).toEqual([{ kind: 'Deployment', name: 'plain' }]);
  });
});
