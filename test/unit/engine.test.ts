import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.js';
import {
  consumerHashAnnotation,
  fingerprint,
  HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  markerHash,
  RESTART_PENDING_ANNOTATION,
  SOURCE_ANNOTATION,
} from '../../lib/domain/names.js';
import { InputError, SyncError } from '../../lib/errors.js';
import { WORKLOAD_KINDS } from '../../lib/sync/apply/restarter.js';
import { type ClusterProgress, type EngineLog, SyncEngine } from '../../lib/sync/engine.js';
import type { SecretValue } from '../../lib/sync/ports/source.js';
import type { BindingResult, SyncReport } from '../../lib/sync/types.js';
import { expectNoSecretValueIn } from '../support/assertions.js';
import { b64, envFromSpec, type FakeKubeApi } from '../support/fakes.js';
import {
  bindingOf,
  CANARY,
  eksClusters,
  FLEET,
  fakeWorld,
  NOW,
  seedConsumerAt,
  seedConsumers,
  syncRequest,
} from '../support/fixtures.js';

const FAN_OUT = `${FLEET}        keys: { DB_USER: username, DB_PASSWORD: password }\n`;

/** Clusters with their namespaces, a source, a connector and an engine over them, at NOW. */
const world = (yaml: string, clusters?: Record<string, string[]>) => fakeWorld(yaml, clusters, { now: NOW });
const request = syncRequest;
const result = (report: SyncReport, cluster: string, namespace: string, secret?: string): BindingResult =>
  bindingOf(report.results, cluster, namespace, secret);

function resetCounts(...apis: FakeKubeApi[]): void {
  for (const api of apis) api.book.reset();
}

/**
 * A first pass synced `prod/db` with password `one` (to a consumer seeded in every namespace, unless `consumers` is
 * false); the secret then rotated to CANARY. Returns the value that pass synced and the version rotated to.
 */
async function syncedThenRotated(
  w: ReturnType<typeof world>,
  consumers = true,
): Promise<{ synced: SecretValue; rotated: string }> {
  w.source.put('prod/db', { username: 'app', password: 'one' });
  if (consumers) seedConsumers(w.apis);
  await w.engine.run(request({ secrets: ['prod/db'] }));
  const synced = await w.source.getCurrent('prod/db');
  return { synced, rotated: w.source.put('prod/db', { username: 'app', password: CANARY }) };
}

/** An engine over `w`'s ports whose log drops its lines and hands finished bindings and clusters to `callbacks`. */
function engineLogging(
  w: ReturnType<typeof world>,
  callbacks: Pick<EngineLog, 'result' | 'clusterDone'>,
  config = FAN_OUT,
): SyncEngine {
  return new SyncEngine({
    config: parseConfig(config),
    source: w.source,
    clusters: w.connector,
    now: () => NOW,
    log: { info: () => {}, warn: () => {}, ...callbacks },
  });
}

/** Makes `prod/db` rotate to password `next` right after the first read returned (a rotation racing the pass). */
function rotateAfterFirstRead(w: ReturnType<typeof world>, next: string): void {
  const read = w.source.getCurrent.bind(w.source);
  let raced = false;
  w.source.getCurrent = async (id) => {
    const value = await read(id);
    if (!raced) {
      raced = true;
      w.source.put('prod/db', { username: 'app', password: next });
    }
    return value;
  };
}

describe('SyncEngine: a rotation fanning out to two clusters and two namespaces', () => {
  it('reads the secret once, creates every Secret and restarts each consumer once', async () => {
    // Prepare
    const w = world(FAN_OUT);
    const versionId = w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'], versionId }));

    // Assess
    expect(w.source.calls('getCurrent')).toBe(1);
    expect(w.source.calls('getMany')).toBe(0);
    expect(report.summary).toMatchObject({ created: 4, failed: 0, restarts: 4 });
    expect(report.sources).toEqual([{ id: 'prod/db', arn: w.source.arnOf('prod/db'), versionId }]);
    expect(report.notes).toEqual([]);
    for (const cluster of ['eu', 'us']) {
      for (const namespace of ['payments', 'canary']) {
        const r = result(report, cluster, namespace);
        expect(r).toMatchObject({ action: 'created', changedKeys: ['DB_PASSWORD', 'DB_USER'] });
        expect(r.restarted).toEqual([{ kind: 'Deployment', name: 'web', rollout: 'rolledOut' }]);
        const stored = w.api(cluster).secret(namespace, 'db');
        expect(stored?.data).toEqual({ DB_USER: b64('app'), DB_PASSWORD: b64(CANARY) });
        expect(stored?.annotations).not.toHaveProperty(RESTART_PENDING_ANNOTATION);
        expect(w.api(cluster).workload(namespace, 'web').templateAnnotations[consumerHashAnnotation('db')]).toBe(
          r.hash,
        );
      }
      expect(w.api(cluster).calls('patchTemplateAnnotations')).toBe(2);
    }
    expectNoSecretValueIn(report, CANARY);
  });

  it('does nothing the second time: no write, no patch, one getSecret per binding, no list', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);
    await w.engine.run(request({ secrets: ['prod/db'] }));
    resetCounts(...w.apis);

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(report.summary).toMatchObject({ unchanged: 4, restarts: 0 });
    for (const api of w.apis) {
      expect(api.book.total()).toBe(2);
      expect(api.calls('getSecret')).toBe(2);
      expect(api.calls('listWorkloads')).toBe(0);
    }
  });

  it('updates and restarts on the next rotation, naming the changed keys', async () => {
    // Prepare
    const w = world(FAN_OUT);
    await syncedThenRotated(w);

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(report.summary).toMatchObject({ updated: 4, restarts: 4 });
    expect(result(report, 'eu', 'payments').changedKeys).toEqual(['DB_PASSWORD']);
    expect(w.api('eu').calls('patchTemplateAnnotations')).toBe(4);
    expectNoSecretValueIn(report, CANARY, 'one');
  });

  it('reports a crash between the Secret write and the restart, and the retry restarts exactly once', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);
    const eu = w.api('eu');
    eu.fail(
      'patchTemplateAnnotations',
      () => new SyncError('KubernetesError', 'patch Deployment: 503', { retryable: true }),
      {
        when: (args) => args[0] === 'payments',
      },
    );

    // Act
    const first = await w.engine.run(request({ secrets: ['prod/db'] }));
    const pending = eu.secret('payments', 'db')?.annotations[RESTART_PENDING_ANNOTATION];
    resetCounts(...w.apis);
    const retry = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    const failed = result(first, 'eu', 'payments');
    expect(failed.action).toBe('failed');
    expect(failed.error?.message).toMatch(/^Secret created, restart failed: /);
    expect(first.summary).toMatchObject({ created: 3, failed: 1 });
    const stored = eu.secret('payments', 'db');
    expect(markerHash(pending)).toBe(stored?.annotations[HASH_ANNOTATION]);
    expect(failed.hash).toBe(fingerprint(stored?.uid ?? '', markerHash(pending) ?? ''));

    expect(result(retry, 'eu', 'payments')).toMatchObject({
      action: 'unchanged',
      restarted: [{ kind: 'Deployment', name: 'web' }],
    });
    expect(retry.summary).toMatchObject({ unchanged: 4, failed: 0, restarts: 1 });
    expect(eu.templatePatches()).toEqual([expect.objectContaining({ namespace: 'payments', name: 'web' })]);
    expect(eu.secret('payments', 'db')?.annotations).not.toHaveProperty(RESTART_PENDING_ANNOTATION);
    expect(w.api('us').calls('listWorkloads')).toBe(0);

    // A third pass has nothing left to do.
    resetCounts(...w.apis);
    const third = await w.engine.run(request({ secrets: ['prod/db'] }));
    expect(third.summary).toMatchObject({ unchanged: 4, restarts: 0 });
    expect(eu.writes() + w.api('us').writes()).toBe(0);
  });

  it('leaves the restart marker a newer pass set, so that its retry still restarts the consumers', async () => {
    // Prepare: one cluster; pass A writes v1, and between A's restarts and A's marker clear, pass B writes v2 and
    // dies before its restarts (its workload patch fails). A's version check is throttled, so A does not notice v2.
    const w = world(FAN_OUT.replace('[eu, us]', '[eu]').replace('[payments, canary]', '[payments]'), {
      eu: ['payments'],
    });
    const eu = w.api('eu');
    eu.seedWorkload({ namespace: 'payments', name: 'web', podSpec: envFromSpec('db') });
    w.source.put('prod/db', { username: 'app', password: 'one' });
    let raced = false;
    eu.before = async (method) => {
      if (method !== 'listWorkloads' || raced) return;
      raced = true;
      const v2 = w.source.put('prod/db', { username: 'app', password: 'two' });
      eu.fail('patchTemplateAnnotations', () => new SyncError('KubernetesError', 'patch: 503', { retryable: true }));
      const b = await w.engine.run(request({ secrets: ['prod/db'], versionId: v2 }));
      expect(result(b, 'eu', 'payments').action).toBe('failed');
      w.source.fail('currentVersionId', () => new SyncError('SourceError', 'DescribeSecret: throttled'));
    };

    // Act
    await w.engine.run(request({ secrets: ['prod/db'] }));
    const marker = eu.secret('payments', 'db')?.annotations[RESTART_PENDING_ANNOTATION];
    const retry = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    const stored = eu.secret('payments', 'db');
    expect(stored?.data.DB_PASSWORD).toBe(b64('two'));
    expect(markerHash(marker)).toBe(stored?.annotations[HASH_ANNOTATION]);
    expect(result(retry, 'eu', 'payments')).toMatchObject({
      action: 'unchanged',
      restarted: [{ kind: 'Deployment', name: 'web' }],
    });
    const hash = stored?.annotations[HASH_ANNOTATION] ?? '';
    expect(eu.workload('payments', 'web').templateAnnotations[consumerHashAnnotation('db')]).toBe(
      fingerprint(stored?.uid ?? '', hash),
    );
    expect(stored?.annotations).not.toHaveProperty(RESTART_PENDING_ANNOTATION);
  });

  it("fails the bindings of a cluster it cannot reach and completes the other cluster's", async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.connector.unavailable.add('us');

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(result(report, 'us', 'payments')).toMatchObject({ action: 'failed', error: { code: 'ClusterUnavailable' } });
    expect(result(report, 'us', 'canary').action).toBe('failed');
    expect(result(report, 'eu', 'payments').action).toBe('created');
    expect(result(report, 'eu', 'canary').action).toBe('created');
    expect(report.summary).toMatchObject({ created: 2, failed: 2 });
  });

  it('fails a binding whose namespace is missing or forbidden and completes the others', async () => {
    // Prepare
    const w = world(FAN_OUT, { eu: ['payments'], us: ['payments', 'canary'] });
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.api('us').forbidden.add('canary');

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(result(report, 'eu', 'canary')).toMatchObject({ action: 'failed', error: { code: 'NamespaceNotFound' } });
    expect(result(report, 'us', 'canary')).toMatchObject({ action: 'failed', error: { code: 'Forbidden' } });
    expect(report.summary).toMatchObject({ created: 2, failed: 2 });
  });

  it('fails every binding with the source error when the secret cannot be read', async () => {
    // Prepare
    const w = world(FAN_OUT);

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(report.sources).toEqual([{ id: 'prod/db', error: { code: 'SecretNotFound', message: expect.any(String) } }]);
    expect(report.summary).toMatchObject({ failed: 4 });
    expect(w.connector.apis.get('eu')?.writes()).toBe(0);
  });

  it('reports a missing key without the value and writes nothing', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { user: 'svc-user-5ee1', password: CANARY });

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(result(report, 'eu', 'payments')).toMatchObject({ action: 'failed', error: { code: 'KeyNotFound' } });
    expect(result(report, 'eu', 'payments').error?.message).toContain('"username"');
    // Nothing written; the only calls read the Secret's uid and record its SyncFailed Event (apply/events.ts).
    expect(w.api('eu').writes()).toBe(0);
    expect(w.api('eu').book.total()).toBe(w.api('eu').calls('getSecret') + w.api('eu').calls('recordEvent'));
    expectNoSecretValueIn(report, CANARY, 'svc-user-5ee1');
  });

  it('writes but restarts nothing when the request says restart: false', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'], restart: false }));

    // Assess: the restarts are deferred, marked on the Secret.
    expect(report.summary).toMatchObject({ created: 4, restarts: 0 });
    expect(w.api('eu').calls('listWorkloads')).toBe(0);
    expect(w.api('eu').calls('patchTemplateAnnotations')).toBe(0);
    expect(w.api('eu').secret('payments', 'db')?.annotations).toHaveProperty(RESTART_PENDING_ANNOTATION);
  });

  it('restarts once, at the next reconcile, the consumers a restart: false backfill left, annotated or not', async () => {
    // Prepare: `web` never carried our annotation; `api` carries an older fingerprint.
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: 'one' });
    await w.engine.run(request({ trigger: 'backfill', secrets: ['prod/db'] }));
    seedConsumers(w.apis);
    for (const api of w.apis) {
      for (const namespace of api.namespaces) {
        seedConsumerAt(api, namespace, 'api', 'older-fingerprint');
      }
    }
    w.source.put('prod/db', { username: 'app', password: CANARY });
    await w.engine.run(request({ trigger: 'backfill', secrets: ['prod/db'], restart: false }));
    resetCounts(...w.apis);

    // Act
    const reconcile = await w.engine.run(request({ trigger: 'reconcile' }));
    const again = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(reconcile.summary).toMatchObject({ unchanged: 4, failed: 0, restarts: 8 });
    const r = result(reconcile, 'eu', 'payments');
    expect(r.restarted).toEqual([
      { kind: 'Deployment', name: 'web', rollout: 'rolledOut' },
      { kind: 'Deployment', name: 'api', rollout: 'rolledOut' },
    ]);
    const stored = w.api('eu').secret('payments', 'db');
    expect(stored?.annotations).not.toHaveProperty(RESTART_PENDING_ANNOTATION);
    expect(w.api('eu').workload('payments', 'web').templateAnnotations[consumerHashAnnotation('db')]).toBe(r.hash);
    expect(again.summary).toMatchObject({ unchanged: 4, restarts: 0 });
  });
});

describe('SyncEngine: requests that name nothing configured', () => {
  it('notes a rotated secret that matches no sync and reads nothing', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('other/secret', { a: CANARY });

    // Act
    const report = await w.engine.run(request({ secrets: ['other/secret'] }));

    // Assess
    expect(report.results).toEqual([]);
    expect(report.notes).toEqual(['secret "other/secret" matches no sync in the configuration; nothing to do']);
    expect(w.source.book.total()).toBe(0);
    expect(w.connector.connects).toBe(0);
  });

  it.each([
    {
      what: 'a backfill of a secret that matches no sync',
      filter: { secrets: ['prod/db', 'nope'] },
      named: '"nope"',
    },
    { what: 'an unknown cluster filter', filter: { secrets: ['prod/db'], clusters: ['eu', 'mars'] }, named: '"mars"' },
    {
      what: 'a namespace filter that names no configured namespace',
      filter: { secrets: ['prod/db'], namespaces: ['payment'] },
      named: '"payment"',
    },
  ])('rejects $what before reading or connecting to anything', async ({ filter, named }) => {
    // Prepare
    const w = world(FAN_OUT);

    // Act
    const error = await w.engine.run(request({ trigger: 'backfill', ...filter })).catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toContain(named);
    expect(w.source.book.total()).toBe(0);
    expect(w.connector.connects).toBe(0);
  });

  it('syncs a secret requested both by name and by ARN once', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });

    // Act
    const report = await w.engine.run(
      request({ trigger: 'backfill', secrets: ['prod/db', w.source.arnOf('prod/db')] }),
    );

    // Assess
    expect(report.summary).toMatchObject({ created: 4, failed: 0 });
    expect(report.results).toHaveLength(4);
    expect(w.source.reads()).toBe(1);
  });

  it('applies cluster and namespace filters of a backfill', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });

    // Act
    const report = await w.engine.run(
      request({ trigger: 'backfill', secrets: ['prod/db'], clusters: ['us'], namespaces: ['canary'] }),
    );

    // Assess
    expect(report.results.map((r) => `${r.cluster}/${r.namespace}`)).toEqual(['us/canary']);
    expect(w.connector.connects).toBe(1);
  });

  it('matches a rotation event that names the secret by ARN', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });

    // Act
    const report = await w.engine.run(request({ secrets: [w.source.arnOf('prod/db')] }));

    // Assess
    expect(report.summary.created).toBe(4);
  });
});

describe('SyncEngine: versions', () => {
  it('applies a version that became current while it was writing an older one (no lost update)', async () => {
    // Prepare: a second rotation lands right after this pass read the first version.
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: 'first' });
    rotateAfterFirstRead(w, 'second');

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    for (const cluster of ['eu', 'us']) {
      for (const namespace of ['payments', 'canary']) {
        expect(w.api(cluster).secret(namespace, 'db')?.data.DB_PASSWORD).toBe(b64('second'));
      }
    }
    expect(report.results.every((r) => r.action === 'created')).toBe(true);
    expect(report.notes).toEqual([expect.stringContaining('moved to version')]);
    expect(w.source.calls('currentVersionId')).toBe(2);
  });

  it('checks the current version once per written secret, and not at all when nothing was written', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    await w.engine.run(request({ secrets: ['prod/db'] }));
    const afterFirst = w.source.calls('currentVersionId');

    // Act
    await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(afterFirst).toBe(1);
    expect(w.source.calls('currentVersionId')).toBe(1);
  });

  it('fails the written bindings as retryable when the version check after writing fails', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);
    w.source.fail(
      'currentVersionId',
      () => new SyncError('SourceError', 'DescribeSecret throttled (ThrottlingException)', { retryable: true }),
    );

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess: written and restarted, but not reported done.
    expect(report.summary).toMatchObject({ failed: 4, created: 0, restarts: 4 });
    expect(result(report, 'eu', 'payments')).toMatchObject({
      action: 'failed',
      restarted: [{ kind: 'Deployment', name: 'web' }],
      error: {
        code: 'VersionUnconfirmed',
        message:
          'Secret created, but could not confirm that "prod/db" is still at version v1, the one read: DescribeSecret throttled (ThrottlingException)',
      },
    });
    expect(w.api('eu').secret('payments', 'db')?.data.DB_PASSWORD).toBe(b64(CANARY));
    expectNoSecretValueIn(report, CANARY);
  });

  it("syncs the event's version when the read returned an older one, though that one was already synced", async () => {
    // Prepare: v1 is synced; the event names v2, and the first read still returns v1 (eventually consistent).
    const w = world(FAN_OUT);
    const { synced: stale, rotated: v2 } = await syncedThenRotated(w, false);
    const read = w.source.getCurrent.bind(w.source);
    let reads = 0;
    w.source.getCurrent = async (id) => (reads++ === 0 ? stale : read(id));

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'], versionId: v2 }));

    // Assess
    expect(report.summary).toMatchObject({ updated: 4, failed: 0 });
    expect(report.sources).toEqual([expect.objectContaining({ id: 'prod/db', versionId: v2 })]);
    for (const cluster of ['eu', 'us']) {
      expect(w.api(cluster).secret('canary', 'db')?.data.DB_PASSWORD).toBe(b64(CANARY));
    }
  });

  it('fails as retryable a pass whose reads stay behind the version the event names', async () => {
    // Prepare
    const w = world(FAN_OUT);
    const { synced: stale, rotated: v2 } = await syncedThenRotated(w, false);
    w.source.getCurrent = async () => stale;

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'], versionId: v2 }));

    // Assess
    expect(report.summary).toMatchObject({ failed: 4, unchanged: 0 });
    expect(result(report, 'us', 'canary').error).toEqual({
      code: 'VersionUnconfirmed',
      message: `Secret unchanged, but AWSCURRENT of "prod/db" is version ${v2}, not ${stale.versionId} as synced (it kept moving, or reads lagged behind); the retry syncs the current one`,
    });
  });

  it('notes when the event version is no longer AWSCURRENT and syncs the current one', async () => {
    // Prepare
    const w = world(FAN_OUT);
    const old = w.source.put('prod/db', { username: 'app', password: 'old' });
    const current = w.source.put('prod/db', { username: 'app', password: CANARY });

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'], versionId: old }));

    // Assess
    expect(report.notes).toEqual([
      `event version ${old} of "prod/db" is no longer AWSCURRENT; synced version ${current}`,
    ]);
    expect(w.api('eu').secret('payments', 'db')?.data.DB_PASSWORD).toBe(b64(CANARY));
  });

  it('checks each secret of a batch against the version its own event announced', async () => {
    // Prepare
    const w = world(`${eksClusters('eu')}syncs:
  - source: { namePrefix: app/ }
    targets: [{ clusters: [eu], namespaces: [payments] }]
`);
    const oldA = w.source.put('app/a', { password: 'old' });
    const currentA = w.source.put('app/a', { password: CANARY });
    const currentB = w.source.put('app/b', { password: CANARY });

    // Act
    const report = await w.engine.run(
      request({ secrets: ['app/a', 'app/b'], versionIds: { 'app/a': oldA, 'app/b': currentB } }),
    );

    // Assess
    expect(report.notes).toEqual([
      `event version ${oldA} of "app/a" is no longer AWSCURRENT; synced version ${currentA}`,
    ]);
    expect(report.summary).toMatchObject({ created: 2, failed: 0 });
  });
});

describe('SyncEngine: dry run', () => {
  it('writes nothing but reports creations and would-be restarts', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);

    // Act
    const report = await w.engine.run(request({ trigger: 'backfill', secrets: ['prod/db'], dryRun: true }));

    // Assess
    expect(report.dryRun).toBe(true);
    expect(report.summary).toMatchObject({ created: 4, restarts: 4 });
    expect(result(report, 'eu', 'payments')).toMatchObject({
      action: 'created',
      dryRun: true,
      restarted: [{ kind: 'Deployment', name: 'web' }],
    });
    for (const api of w.apis) expect(api.writes()).toBe(0);
  });

  it('writes nothing but reports updates with their keys and would-be restarts', async () => {
    // Prepare
    const w = world(FAN_OUT);
    await syncedThenRotated(w);
    resetCounts(...w.apis);

    // Act
    const report = await w.engine.run(request({ trigger: 'backfill', secrets: ['prod/db'], dryRun: true }));

    // Assess
    expect(result(report, 'us', 'canary')).toMatchObject({
      action: 'updated',
      changedKeys: ['DB_PASSWORD'],
      restarted: [{ kind: 'Deployment', name: 'web' }],
    });
    for (const api of w.apis) expect(api.writes()).toBe(0);
    expect(w.api('us').secret('canary', 'db')?.data.DB_PASSWORD).toBe(b64('one'));
  });
});

describe('SyncEngine: deleted source secrets', () => {
  const DELETION = `${eksClusters('eu')}syncs:
  - source: { secret: app/keep }
    targets: [{ clusters: [eu], namespaces: [a, b], secret: keep }]
  - source: { secret: app/drop }
    deletionPolicy: delete
    targets: [{ clusters: [eu], namespaces: [a, b, c], secret: drop }]
`;

  it('keeps Secrets under retain, deletes managed ones under delete, and never deletes an unmanaged one', async () => {
    // Prepare
    const w = world(DELETION, { eu: ['a', 'b', 'c'] });
    w.source.put('app/keep', { k: '1' });
    w.source.put('app/drop', { d: '1' });
    await w.engine.run(request({ trigger: 'backfill', secrets: ['app/keep', 'app/drop'], namespaces: ['a'] }));
    const eu = w.api('eu');
    eu.seedSecret({ namespace: 'b', name: 'drop', data: { d: b64('theirs') } });
    resetCounts(eu);
    w.source.scheduleDeletion('app/keep');
    w.source.remove('app/drop');
    w.source.book.reset();

    // Act
    const keep = await w.engine.run(request({ secrets: ['app/keep'], deleted: true }));
    const drop = await w.engine.run(request({ secrets: ['app/drop'], deleted: true }));

    // Assess
    expect(keep.results.map((r) => [r.namespace, r.action])).toEqual([
      ['a', 'retained'],
      ['b', 'skipped'],
    ]);
    expect(drop.results.map((r) => [r.namespace, r.action])).toEqual([
      ['a', 'deleted'],
      ['b', 'skipped'],
      ['c', 'skipped'],
    ]);
    expect(result(drop, 'eu', 'b', 'drop').notes).toEqual([expect.stringContaining('not managed')]);
    expect(eu.secret('a', 'keep')).toBeDefined();
    expect(eu.secret('a', 'drop')).toBeUndefined();
    expect(eu.secret('b', 'drop')?.data).toEqual({ d: b64('theirs') });
    expect(eu.calls('deleteSecret')).toBe(1);
    // One DescribeSecret per event confirms the deletion; no value is read.
    expect(w.source.calls('describe')).toBe(2);
    expect(w.source.book.total()).toBe(2);
  });

  it('deletes nothing for a DeleteSecret event whose secret exists (late after a restore, or replayed)', async () => {
    // Prepare
    const w = world(DELETION, { eu: ['a', 'b', 'c'] });
    w.source.put('app/drop', { d: '1' });
    await w.engine.run(request({ secrets: ['app/drop'] }));
    w.source.scheduleDeletion('app/drop');
    w.source.restore('app/drop');
    resetCounts(w.api('eu'));

    // Act
    const report = await w.engine.run(request({ secrets: ['app/drop'], deleted: true }));

    // Assess
    expect(report.results.map((r) => r.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(result(report, 'eu', 'a', 'drop').notes).toEqual([
      'DeleteSecret event, but the source secret exists and is not scheduled for deletion; nothing deleted',
    ]);
    expect(report.summary).toMatchObject({ unchanged: 3, deleted: 0, failed: 0 });
    expect(w.api('eu').secret('a', 'drop')).toBeDefined();
    expect(w.api('eu').book.total()).toBe(0);
  });

  it('fails the bindings, deleting nothing, when the deletion cannot be confirmed', async () => {
    // Prepare
    const w = world(DELETION, { eu: ['a', 'b', 'c'] });
    w.source.put('app/drop', { d: '1' });
    await w.engine.run(request({ secrets: ['app/drop'] }));
    w.source.remove('app/drop');
    w.source.fail('describe', () => new SyncError('SourceError', 'DescribeSecret throttled', { retryable: true }));

    // Act
    const report = await w.engine.run(request({ secrets: ['app/drop'], deleted: true }));

    // Assess
    expect(report.summary).toMatchObject({ failed: 3, deleted: 0 });
    expect(result(report, 'eu', 'a', 'drop').error).toEqual({
      code: 'SourceError',
      message: 'could not confirm that the source secret was deleted: DescribeSecret throttled',
    });
    expect(w.api('eu').secret('a', 'drop')).toBeDefined();
  });

  it('never deletes a Secret that mirrors another secret', async () => {
    // Prepare
    const w = world(DELETION, { eu: ['a', 'b', 'c'] });
    w.source.put('app/drop', { d: '1' });
    await w.engine.run(request({ secrets: ['app/drop'], namespaces: ['a'] }));
    const other = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/drop-backup-Zy98Xw';
    const eu = w.api('eu');
    eu.seedSecret({
      namespace: 'b',
      name: 'drop',
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { [SOURCE_ANNOTATION]: other },
    });
    eu.seedSecret({
      namespace: 'c',
      name: 'drop',
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { [SOURCE_ANNOTATION]: 'app/drop' },
    });
    w.source.remove('app/drop');

    // Act
    const report = await w.engine.run(request({ secrets: ['app/drop'], deleted: true }));

    // Assess
    expect(report.results.map((r) => [r.namespace, r.action])).toEqual([
      ['a', 'deleted'],
      ['b', 'skipped'],
      ['c', 'deleted'],
    ]);
    expect(result(report, 'eu', 'b', 'drop').notes).toEqual([`source deleted; Secret mirrors secret "${other}", kept`]);
    expect(eu.secret('b', 'drop')).toBeDefined();
  });

  it('applies the deletion policy on reconcile when a source secret is gone, without failing the pass', async () => {
    // Prepare
    const w = world(DELETION, { eu: ['a', 'b', 'c'] });
    w.source.put('app/keep', { k: '1' });
    w.source.put('app/drop', { d: '1' });
    await w.engine.run(request({ trigger: 'reconcile' }));
    w.source.remove('app/drop');

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(report.results.filter((r) => r.secret === 'drop').map((r) => r.action)).toEqual([
      'deleted',
      'deleted',
      'deleted',
    ]);
    expect(report.results.filter((r) => r.secret === 'keep').map((r) => r.action)).toEqual(['unchanged', 'unchanged']);
    expect(report.sources).toContainEqual({ id: 'app/drop', deleted: true });
    expect(report.sources.every((s) => s.error === undefined)).toBe(true);
    expect(w.api('eu').secret('a', 'drop')).toBeUndefined();
  });

  it('deletes nothing in a dry run', async () => {
    // Prepare
    const w = world(DELETION, { eu: ['a', 'b', 'c'] });
    w.source.put('app/drop', { d: '1' });
    await w.engine.run(request({ secrets: ['app/drop'] }));
    w.source.remove('app/drop');
    resetCounts(w.api('eu'));

    // Act
    const report = await w.engine.run(request({ secrets: ['app/drop'], deleted: true, dryRun: true }));

    // Assess
    expect(report.summary.deleted).toBe(3);
    expect(w.api('eu').writes()).toBe(0);
  });
});

describe('SyncEngine: selector sources', () => {
  const SELECTORS = `${eksClusters('eu')}syncs:
  - source: { namePrefix: shared/ }
    targets: [{ clusters: [eu], namespaces: [app] }]
  - source: { tags: { sync: "eu" } }
    targets: [{ clusters: [eu], namespaces: [tools], asKey: value }]
`;

  it('lists matching secrets on reconcile, reads them in one batch, and derives Secret names', async () => {
    // Prepare
    const w = world(SELECTORS, { eu: ['app', 'tools'] });
    w.source.put('shared/api_key', { key: CANARY });
    w.source.put('shared/db', { password: CANARY });
    w.source.put('team/token', CANARY, { tags: { sync: 'eu' } });
    w.source.put('team/other', 'x', { tags: { sync: 'us' } });

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(w.source.calls('list')).toBe(2);
    expect(w.source.calls('getMany')).toBe(1);
    expect(w.source.calls('getCurrent')).toBe(0);
    expect(report.results.map((r) => `${r.namespace}/${r.secret}:${r.action}`)).toEqual([
      'app/shared-api-key:created',
      'app/shared-db:created',
      'tools/team-token:created',
    ]);
    expect(w.api('eu').secret('tools', 'team-token')?.data).toEqual({ value: b64(CANARY) });
    expectNoSecretValueIn(report, CANARY);
  });

  it('reports a selector whose listing fails and still syncs the other sources', async () => {
    // Prepare
    const w = world(SELECTORS, { eu: ['app', 'tools'] });
    w.source.put('shared/db', { password: CANARY });
    w.source.put('team/token', CANARY, { tags: { sync: 'eu' } });
    w.source.fail('list', () => new SyncError('SourceError', 'ListSecrets failed: ThrottlingException'), {
      when: (args) => (args[0] as { tags?: unknown }).tags !== undefined,
    });

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(report.results.map((r) => `${r.namespace}/${r.secret}:${r.action}`)).toEqual(['app/shared-db:created']);
    expect(report.sources).toContainEqual({
      id: 'selector {"tags":{"sync":"eu"}}',
      error: { code: 'SourceError', message: 'ListSecrets failed: ThrottlingException' },
    });
  });

  it('reports as orphaned, keeping it, the Secret of a secret that lost its tag (retain)', async () => {
    // Prepare
    const w = world(SELECTORS, { eu: ['app', 'tools'] });
    w.source.put('team/token', CANARY, { tags: { sync: 'eu' } });
    w.source.put('team/other', 'x', { tags: { sync: 'eu' } });
    await w.engine.run(request({ trigger: 'reconcile' }));
    w.source.setTags('team/token', { sync: 'us' });

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile' }));
    const again = await w.engine.run(request({ trigger: 'reconcile', dryRun: true }));

    // Assess
    expect(report.results.map((r) => `${r.namespace}/${r.secret}:${r.action}`)).toEqual([
      'tools/team-other:unchanged',
      'tools/team-token:orphaned',
    ]);
    expect(result(report, 'eu', 'tools', 'team-token')).toMatchObject({
      source: w.source.arnOf('team/token'),
      notes: ['source secret "team/token" no longer matches the selector; Secret kept (deletionPolicy retain)'],
    });
    expect(report.summary).toMatchObject({ orphaned: 1, failed: 0 });
    expect(w.api('eu').secret('tools', 'team-token')?.data).toEqual({ value: b64(CANARY) });
    expect(again.summary).toMatchObject({ orphaned: 1 });
    expect(w.api('eu').calls('deleteSecret')).toBe(0);
    expectNoSecretValueIn(report, CANARY);
  });

  it('deletes, under deletionPolicy delete, the Secrets of deleted or unmatched secrets, and nothing else', async () => {
    // Prepare
    const w = world(
      SELECTORS.replace(
        '  - source: { tags: { sync: "eu" } }',
        '  - source: { tags: { sync: "eu" } }\n    deletionPolicy: delete',
      ),
      {
        eu: ['app', 'tools'],
      },
    );
    w.source.put('team/gone', 'g', { tags: { sync: 'eu' } });
    w.source.put('team/untagged', 'u', { tags: { sync: 'eu' } });
    w.source.put('team/stays', 's', { tags: { sync: 'eu' } });
    await w.engine.run(request({ trigger: 'reconcile' }));
    const eu = w.api('eu');
    // Another deployment's Secret (another account), and one that is not ours: never touched.
    const foreign = 'arn:aws:secretsmanager:us-east-1:999999999999:secret:team/foreign-AbCdEf';
    eu.seedSecret({
      namespace: 'tools',
      name: 'team-foreign',
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { 'eks-secret-sync.io/source': foreign },
    });
    eu.seedSecret({ namespace: 'tools', name: 'team-theirs', annotations: { 'eks-secret-sync.io/source': foreign } });
    w.source.remove('team/gone');
    w.source.setTags('team/untagged', {});

    // Act
    const dry = await w.engine.run(request({ trigger: 'reconcile', dryRun: true }));
    const report = await w.engine.run(request({ trigger: 'reconcile' }));
    const again = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(dry.results.filter((r) => r.action === 'deleted').map((r) => r.secret)).toEqual([
      'team-gone',
      'team-untagged',
    ]);
    expect(report.results.map((r) => `${r.secret}:${r.action}`)).toEqual([
      'team-gone:deleted',
      'team-stays:unchanged',
      'team-untagged:deleted',
    ]);
    expect(result(report, 'eu', 'tools', 'team-gone').notes).toEqual([
      'source secret "team/gone" was deleted (or is scheduled for deletion); Secret deleted (deletionPolicy delete)',
    ]);
    expect(eu.secret('tools', 'team-gone')).toBeUndefined();
    expect(eu.secret('tools', 'team-untagged')).toBeUndefined();
    expect(eu.secret('tools', 'team-stays')).toBeDefined();
    expect(eu.secret('tools', 'team-foreign')).toBeDefined();
    expect(eu.secret('tools', 'team-theirs')).toBeDefined();
    expect(again.summary).toMatchObject({ deleted: 0, orphaned: 0, unchanged: 1 });
  });

  it('looks for no orphans of a selector whose listing failed, and notes a namespace it may not list', async () => {
    // Prepare
    const w = world(SELECTORS, { eu: ['app', 'tools'] });
    w.source.put('team/token', CANARY, { tags: { sync: 'eu' } });
    w.source.put('shared/db', { password: CANARY });
    await w.engine.run(request({ trigger: 'reconcile' }));
    w.source.fail('list', () => new SyncError('SourceError', 'ListSecrets failed: ThrottlingException'), {
      when: (args) => (args[0] as { tags?: unknown }).tags !== undefined,
    });
    w.api('eu').fail('listManagedSecrets', () => new SyncError('Forbidden', 'cannot list secrets in "app"'));

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(report.results.map((r) => `${r.secret}:${r.action}`)).toEqual(['shared-db:unchanged']);
    expect(w.api('eu').calls('listManagedSecrets')).toBe(3);
    expect(report.notes).toEqual([
      expect.stringMatching(/^orphan check skipped in namespace "app" of cluster "eu": .*eks-secret-sync-list/),
    ]);
  });

  it('describes a rotated secret once to match tag selectors', async () => {
    // Prepare
    const w = world(SELECTORS, { eu: ['app', 'tools'] });
    w.source.put('team/token', CANARY, { tags: { sync: 'eu' } });
    w.source.put('team/other', 'x', { tags: { sync: 'us' } });

    // Act
    const matched = await w.engine.run(request({ secrets: ['team/token'] }));
    const unmatched = await w.engine.run(request({ secrets: ['team/other'] }));

    // Assess
    expect(matched.results.map((r) => `${r.namespace}/${r.secret}:${r.action}`)).toEqual(['tools/team-token:created']);
    expect(unmatched.results).toEqual([]);
    expect(unmatched.notes).toEqual([expect.stringContaining('matches no sync')]);
    expect(w.source.calls('describe')).toBe(2);
    // The matched one lists its selector once, to find secrets deriving the same Secret name.
    expect(w.source.calls('list')).toBe(1);
    expect(w.source.reads()).toBe(1);
  });

  it('matches a rotated secret against a name prefix without describing it', async () => {
    // Prepare: no tag selector, so tags are never needed.
    const w = world(SELECTORS.slice(0, SELECTORS.indexOf('  - source: { tags')), { eu: ['app', 'tools'] });
    w.source.put('shared/db', { password: CANARY });

    // Act
    const report = await w.engine.run(request({ secrets: ['shared/db'] }));

    // Assess
    expect(report.results.map((r) => r.secret)).toEqual(['shared-db']);
    expect(w.source.calls('describe')).toBe(0);
  });

  it('fails both bindings, writing neither, when two selected secrets map to the same Secret name', async () => {
    // Prepare
    const w = world(SELECTORS, { eu: ['app', 'tools'] });
    w.source.put('shared/db', { a: '1' });
    w.source.put('shared/DB', { a: '2' });

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(report.results.map((r) => [r.secret, r.action, r.error?.code])).toEqual([
      ['shared-db', 'failed', 'InvalidConfig'],
      ['shared-db', 'failed', 'InvalidConfig'],
    ]);
    expect(w.api('eu').writes()).toBe(0);
  });
});

describe('SyncEngine: reconcile', () => {
  it('restarts a consumer left with an old hash once, though the Secret is unchanged', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);
    await w.engine.run(request({ secrets: ['prod/db'] }));
    const eu = w.api('eu');
    seedConsumerAt(eu, 'payments', 'stale', 'old-hash');
    eu.seedWorkload({ namespace: 'payments', name: 'fresh', podSpec: envFromSpec('db') });
    resetCounts(...w.apis);

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile' }));
    const again = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(result(report, 'eu', 'payments')).toMatchObject({
      action: 'unchanged',
      drift: true,
      restarted: [{ kind: 'Deployment', name: 'stale' }],
    });
    expect(report.summary).toMatchObject({ unchanged: 4, restarts: 1 });
    expect(eu.templatePatches().map((p) => p.name)).toEqual(['stale']);
    expect(eu.calls('createSecret') + eu.calls('replaceSecret')).toBe(0);
    expect(again.summary.restarts).toBe(0);
    expect(w.source.calls('getCurrent') + w.source.calls('getMany')).toBe(3);
  });

  it('repairs a Secret edited in the cluster and reports drift', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    await w.engine.run(request({ secrets: ['prod/db'] }));
    w.api('us').touchSecret('canary', 'db', (s) => {
      s.data.DB_PASSWORD = b64('edited');
    });

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(result(report, 'us', 'canary')).toMatchObject({
      action: 'updated',
      drift: true,
      changedKeys: ['DB_PASSWORD'],
    });
    expect(report.summary).toMatchObject({ updated: 1, unchanged: 3 });
  });
});

describe('SyncEngine: restart policies and failures', () => {
  const POLICIES = `${eksClusters('eu')}syncs:
  - source: { secret: app/db }
    targets:
      - { clusters: [eu], namespaces: [app], secret: db, restart: none }
      - { clusters: [eu], namespaces: [app], secret: db-listed, restart: { workloads: [{ kind: StatefulSet, name: pg }] } }
`;

  it('lists no workloads under policy none, and restarts only the listed ones under a list', async () => {
    // Prepare
    const w = world(POLICIES, { eu: ['app'] });
    w.source.put('app/db', { a: '1' });
    const eu = w.api('eu');
    eu.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db', 'db-listed') });
    eu.seedWorkload({ kind: 'StatefulSet', namespace: 'app', name: 'pg' });

    // Act
    const report = await w.engine.run(request({ secrets: ['app/db'] }));

    // Assess
    expect(result(report, 'eu', 'app', 'db').restarted).toEqual([]);
    expect(result(report, 'eu', 'app', 'db-listed').restarted).toEqual([
      { kind: 'StatefulSet', name: 'pg', rollout: 'rolledOut' },
    ]);
    expect(eu.templatePatches().map((p) => p.name)).toEqual(['pg']);
    // One list per kind, for the listing target only.
    expect(eu.calls('listWorkloads')).toBe(WORKLOAD_KINDS.length);
  });

  it('notes a paused Deployment that was patched', async () => {
    // Prepare
    const w = world(FAN_OUT, { eu: ['payments'] });
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.api('eu').seedWorkload({ namespace: 'payments', name: 'web', paused: true, podSpec: envFromSpec('db') });

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'], clusters: ['eu'] }));

    // Assess
    expect(result(report, 'eu', 'payments')).toMatchObject({
      action: 'created',
      restarted: [{ kind: 'Deployment', name: 'web', paused: true }],
      notes: [expect.stringContaining('paused')],
    });
  });

  it('does not claim a write when the restart check of a dry run fails', async () => {
    // Prepare
    const w = world(FAN_OUT, { eu: ['payments'] });
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.api('eu').fail('listWorkloads', () => new SyncError('Forbidden', 'list deployments: forbidden'));

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'], clusters: ['eu'], dryRun: true }));

    // Assess
    expect(result(report, 'eu', 'payments')).toMatchObject({ action: 'failed', error: { code: 'Forbidden' } });
    expect(result(report, 'eu', 'payments').error?.message).toMatch(
      /^dry run: Secret would be created, restart failed/,
    );
  });

  it('retries a Kubernetes 503 or 429 answer, and the binding succeeds', async () => {
    // Prepare
    const w = world(FAN_OUT, { eu: ['payments'] });
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);
    const unavailable = (status: number) => () =>
      new SyncError('KubernetesError', `HTTP ${status}`, { retryable: true, status, retryAfterMs: 0 });
    w.api('eu').fail('getSecret', unavailable(503), { times: 1 });
    w.api('eu').fail('patchTemplateAnnotations', unavailable(429), { times: 1 });

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'], clusters: ['eu'] }));

    // Assess
    expect(result(report, 'eu', 'payments')).toMatchObject({ action: 'created', restarted: [{ name: 'web' }] });
    expect(w.api('eu').calls('patchTemplateAnnotations')).toBe(2);
    expect(w.api('eu').workload('payments', 'web').templateAnnotations).toHaveProperty(consumerHashAnnotation('db'));
  });

  it('says the Secret was written when its restart fails after a write', async () => {
    // Prepare
    const w = world(FAN_OUT, { eu: ['payments'] });
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);
    w.api('eu').fail('patchTemplateAnnotations', () => new SyncError('KubernetesError', 'patch: 500'));

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'], clusters: ['eu'] }));

    // Assess
    expect(result(report, 'eu', 'payments').error?.message).toBe('Secret created, restart failed: patch: 500');
  });

  it('says the Secret is unchanged when only the restart of a stale consumer fails', async () => {
    // Prepare
    const w = world(FAN_OUT, { eu: ['payments'] });
    w.source.put('prod/db', { username: 'app', password: CANARY });
    const eu = w.api('eu');
    await w.engine.run(request({ secrets: ['prod/db'], clusters: ['eu'] }));
    seedConsumerAt(eu, 'payments', 'stale', 'old');
    eu.fail('patchTemplateAnnotations', () => new SyncError('KubernetesError', 'patch: 500'));

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile', clusters: ['eu'] }));

    // Assess
    expect(result(report, 'eu', 'payments')).toMatchObject({ action: 'failed', error: { code: 'KubernetesError' } });
    expect(result(report, 'eu', 'payments').error?.message).toBe('Secret unchanged, restart failed: patch: 500');
  });
});

describe('SyncEngine: one patch per workload', () => {
  it('restarts a workload consuming two changed Secrets with one patch, counted once', async () => {
    // Prepare
    const w = world(
      `${eksClusters('eu')}syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [eu], namespaces: [app], secret: db }]
  - source: { secret: app/api }
    targets: [{ clusters: [eu], namespaces: [app], secret: api }]
`,
      { eu: ['app'] },
    );
    w.source.put('app/db', { a: '1' });
    w.source.put('app/api', { b: '2' });
    const eu = w.api('eu');
    eu.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db', 'api') });

    // Act
    const report = await w.engine.run(request({ trigger: 'backfill', secrets: ['app/db', 'app/api'] }));

    // Assess
    expect(eu.templatePatches()).toHaveLength(1);
    const web = { kind: 'Deployment', name: 'web', rollout: 'rolledOut' };
    expect(result(report, 'eu', 'app', 'db').restarted).toEqual([web]);
    expect(result(report, 'eu', 'app', 'api').restarted).toEqual([web]);
    expect(report.summary.restarts).toBe(1);
    expect(w.source.calls('getMany')).toBe(1);
  });
});

describe('SyncEngine: concurrency', () => {
  it('keeps clusters and calls in flight within the configured bounds', async () => {
    // Prepare
    const clusters = ['c1', 'c2', 'c3', 'c4', 'c5'];
    const namespaces = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    const yaml = `
clusters:
${clusters.map((c) => `  ${c}: { eks: { name: ${c}, region: eu-west-1 } }`).join('\n')}
defaults: { clusterConcurrency: 2, bindingConcurrency: 2 }
syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [${clusters.join(', ')}], namespaces: [${namespaces.join(', ')}], secret: db }]
  - source: { secret: app/api }
    targets: [{ clusters: [${clusters.join(', ')}], namespaces: [${namespaces.join(', ')}], secret: api }]
`;
    const w = world(yaml, Object.fromEntries(clusters.map((c) => [c, namespaces])));
    w.source.put('app/db', { a: '1' });
    w.source.put('app/api', { b: '1' });
    seedConsumers(w.apis);

    // Act
    const report = await w.engine.run(request({ trigger: 'backfill', secrets: ['app/db', 'app/api'] }));
    w.source.remove('app/db');
    const deleted = await w.engine.run(request({ secrets: ['app/db'], deleted: true }));

    // Assess
    expect(report.summary).toMatchObject({ created: 60, failed: 0 });
    expect(deleted.summary.retained).toBe(30);
    expect(w.connector.meter.max).toBeLessThanOrEqual(2);
    for (const api of w.apis) expect(api.meter.max, api.cluster).toBeLessThanOrEqual(2);
    expect(w.meter.max).toBeLessThanOrEqual(4);
    expect(w.meter.max).toBeGreaterThan(1);
  });
});

describe('SyncEngine: report hygiene', () => {
  it('never puts a secret value in the report, whatever fails', async () => {
    // Prepare
    const w = world(
      `${eksClusters('eu')}syncs:
  - source: { secret: app/json }
    targets:
      - { clusters: [eu], namespaces: [ok, unmanaged], secret: json }
      - { clusters: [eu], namespaces: [ok], secret: json-missing, keys: { X: nope } }
      - { clusters: [eu], namespaces: [ok], secret: json-tls, type: kubernetes.io/tls }
  - source: { secret: app/plain }
    targets:
      - { clusters: [eu], namespaces: [ok], secret: plain, keys: { X: password } }
      - { clusters: [eu], namespaces: [ok], secret: plain-whole, asKey: value }
`,
      { eu: ['ok', 'unmanaged'] },
    );
    w.source.put('app/json', { password: CANARY });
    w.source.put('app/plain', `${CANARY} not json`);
    w.api('eu').seedSecret({ namespace: 'unmanaged', name: 'json', data: { password: b64(CANARY) } });
    seedConsumers(w.apis, 'json');

    // Act
    const report = await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(report.summary.failed).toBeGreaterThanOrEqual(4);
    expect(report.summary.created).toBeGreaterThanOrEqual(1);
    expectNoSecretValueIn(report, CANARY);
  });

  it('counts a summary that adds up to the results', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.connector.unavailable.add('us');

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    const { restarts, ...actions } = report.summary;
    expect(Object.values(actions).reduce((a, b) => a + b, 0)).toBe(report.results.length);
    expect(report.durationMs).toBe(0);
    expect(report.results.map((r) => `${r.cluster}/${r.namespace}`)).toEqual([
      'eu/canary',
      'eu/payments',
      'us/canary',
      'us/payments',
    ]);
  });
});

describe('SyncEngine: labels on what it writes', () => {
  it('creates Secrets carrying our managed-by label and hash annotation', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    const stored = w.api('eu').secret('payments', 'db');
    expect(stored?.labels[MANAGED_BY_LABEL]).toBe(MANAGED_BY_VALUE);
    const hash = stored?.annotations[HASH_ANNOTATION] ?? '';
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    // Reports and pod templates carry the uid-keyed fingerprint, never the plain content hash.
    expect(result(report, 'eu', 'payments').hash).toBe(fingerprint(stored?.uid ?? '', hash));
    expect(result(report, 'eu', 'payments').hash).not.toBe(hash);
  });
});

describe('SyncEngine: identity on the full ARN', () => {
  const PROD_DB = `${eksClusters('eu')}syncs:
  - source: { secret: prod/db }
    targets: [{ clusters: [eu], namespaces: [app] }]
`;
  const PREFIX = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:';

  it('never takes the partial ARN of prod/db-backup for prod/db: nothing written, nothing restarted', async () => {
    // Prepare
    const w = world(PROD_DB, { eu: ['app'] });
    w.source.put('prod/db', { password: 'db-value' });
    w.source.put('prod/db-backup', { password: CANARY });
    await w.engine.run(request({ secrets: ['prod/db'] }));
    const eu = w.api('eu');
    eu.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('prod-db') });
    const before = eu.secret('app', 'prod-db');
    resetCounts(eu);

    // Act
    const report = await w.engine.run(request({ secrets: [`${PREFIX}prod/db-backup`] }));

    // Assess
    expect(report.results).toEqual([]);
    expect(report.notes).toContainEqual(
      `secret "${PREFIX}prod/db-backup" is not the configured "prod/db" ("prod/db" is ${w.source.arnOf('prod/db')})`,
    );
    expect(eu.secret('app', 'prod-db')).toEqual(before);
    expect(eu.writes()).toBe(0);
    expect(w.source.reads()).toBe(1);
    expectNoSecretValueIn(report, CANARY);
  });

  it('syncs prod/db for its own full or partial ARN, reading it by the configured name', async () => {
    // Prepare
    const w = world(PROD_DB, { eu: ['app'] });
    w.source.put('prod/db-backup', { password: CANARY });
    w.source.put('prod/db', { password: 'db-value' });

    // Act
    const full = await w.engine.run(request({ secrets: [w.source.arnOf('prod/db')] }));
    w.source.put('prod/db', { password: 'db-value-2' });
    const partial = await w.engine.run(request({ secrets: [`${PREFIX}prod/db`] }));

    // Assess
    expect(full.results.map((r) => [r.secret, r.action, r.source])).toEqual([['prod-db', 'created', 'prod/db']]);
    expect(partial.results.map((r) => [r.secret, r.action])).toEqual([['prod-db', 'updated']]);
    expect(w.api('eu').secret('app', 'prod-db')?.data.password).toBe(b64('db-value-2'));
  });

  it("does not take another account's or region's secret of the configured name", async () => {
    // Prepare
    const w = world(PROD_DB, { eu: ['app'] });
    w.source.put('prod/db', { password: 'db-value' });
    const suffix = w.source.arnOf('prod/db').slice(-7);

    // Act
    const report = await w.engine.run(
      request({
        secrets: [
          `arn:aws:secretsmanager:eu-west-1:999999999999:secret:prod/db${suffix}`,
          `arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db${suffix}`,
        ],
      }),
    );

    // Assess
    expect(report.results).toEqual([]);
    expect(w.api('eu').writes()).toBe(0);
  });

  it('matches a sync configured by ARN against a request that names the secret, and not another of that name', async () => {
    // Prepare
    const w = world(PROD_DB, { eu: ['app'] });
    w.source.put('prod/db', { password: 'db-value' });
    const mine = parseConfig(PROD_DB.replace('secret: prod/db', `secret: "${w.source.arnOf('prod/db')}"`));
    const foreign = parseConfig(
      PROD_DB.replace('secret: prod/db', `secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db"`),
    );

    // Act
    const matched = await new SyncEngine({ config: mine, source: w.source, clusters: w.connector }).run(
      request({ secrets: ['prod/db'] }),
    );
    const unmatched = await new SyncEngine({ config: foreign, source: w.source, clusters: w.connector }).run(
      request({ secrets: ['prod/db'] }),
    );

    // Assess
    expect(matched.results.map((r) => [r.secret, r.action])).toEqual([['prod-db', 'created']]);
    expect(unmatched.results).toEqual([]);
  });

  it('fails the pass, planning nothing, when Secrets Manager cannot tell which secret an ARN is', async () => {
    // Prepare
    const w = world(PROD_DB, { eu: ['app'] });
    w.source.put('prod/db', { password: 'db-value' });
    w.source.fail(
      'describe',
      () => new SyncError('SourceError', 'DescribeSecret failed: Throttling', { retryable: true }),
    );

    // Act
    const report = await w.engine.run(request({ secrets: [w.source.arnOf('prod/db')] }));

    // Assess
    expect(report.sources).toEqual([
      { id: w.source.arnOf('prod/db'), error: { code: 'SourceError', message: 'DescribeSecret failed: Throttling' } },
    ]);
    expect(report.results).toEqual([]);
    expect(report.notes).toEqual([]);
    expect(w.api('eu').writes()).toBe(0);
  });

  it('derives a selected Secret name from the name Secrets Manager reports, not from the ARN shape', async () => {
    // Prepare
    const w = world(
      `${eksClusters('eu')}syncs:
  - source: { namePrefix: shared/ }
    targets: [{ clusters: [eu], namespaces: [app] }]
`,
      { eu: ['app'] },
    );
    w.source.put('shared/db', { a: '1' });
    w.source.put('shared/db-backup', { a: CANARY });

    // Act
    const report = await w.engine.run(request({ secrets: [`${PREFIX}shared/db-backup`] }));

    // Assess
    expect(report.results.map((r) => [r.secret, r.action])).toEqual([['shared-db-backup', 'created']]);
    expect(w.api('eu').secret('app', 'shared-db')).toBeUndefined();
  });

  it('refuses to overwrite a Secret that mirrors another secret, naming both', async () => {
    // Prepare
    const w = world(PROD_DB, { eu: ['app'] });
    w.source.put('prod/db', { password: CANARY });
    const other = `${PREFIX}prod/db-backup-Zy98Xw`;
    const eu = w.api('eu');
    eu.seedSecret({
      namespace: 'app',
      name: 'prod-db',
      data: { password: b64('backup-value') },
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { [SOURCE_ANNOTATION]: other },
    });
    eu.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('prod-db') });
    resetCounts(eu);

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(report.results).toEqual([
      expect.objectContaining({
        secret: 'prod-db',
        action: 'failed',
        error: expect.objectContaining({ code: 'SourceMismatch' }),
      }),
    ]);
    expect(report.results[0]?.error?.message).toContain(
      `mirrors secret "${other}", not "${w.source.arnOf('prod/db')}"`,
    );
    expect(eu.secret('app', 'prod-db')?.data).toEqual({ password: b64('backup-value') });
    expect(eu.writes()).toBe(0);
    expectNoSecretValueIn(report, CANARY, 'backup-value');
  });
});

describe('SyncEngine: two secrets deriving one Secret name', () => {
  const PAIR = `${eksClusters('eu')}syncs:
  - source: { namePrefix: app }
    targets: [{ clusters: [eu], namespaces: [app] }]
`;

  it('refuses the pair on a rotation of one of them: both bindings failed, naming both, nothing written', async () => {
    // Prepare
    const w = world(PAIR, { eu: ['app'] });
    w.source.put('app/db', { a: CANARY });
    w.source.put('app_db', { a: 'other' });
    w.source.put('app/cache', { a: '1' });

    // Act
    const report = await w.engine.run(request({ secrets: ['app/db'] }));

    // Assess
    expect(report.results.map((r) => [r.secret, r.source, r.action, r.error?.code])).toEqual([
      ['app-db', 'app/db', 'failed', 'InvalidConfig'],
      ['app-db', w.source.arnOf('app_db'), 'failed', 'InvalidConfig'],
    ]);
    for (const r of report.results) {
      expect(r.error?.message).toContain('"app/db"');
      expect(r.error?.message).toContain(`"${w.source.arnOf('app_db')}"`);
    }
    expect(w.source.reads()).toBe(0);
    expect(w.api('eu').writes()).toBe(0);
  });

  it('refuses a selected secret and a configured one writing the same Secret', async () => {
    // Prepare
    const w = world(
      `${PAIR.replace('namePrefix: app', 'namePrefix: app/')}  - source: { secret: app_db }\n    targets: [{ clusters: [eu], namespaces: [app] }]\n`,
      {
        eu: ['app'],
      },
    );
    w.source.put('app/db', { a: CANARY });
    w.source.put('app_db', { a: 'other' });

    // Act
    const report = await w.engine.run(request({ secrets: [w.source.arnOf('app/db')] }));

    // Assess
    expect(report.results.map((r) => [r.source, r.action])).toEqual([
      [w.source.arnOf('app/db'), 'failed'],
      ['app_db', 'failed'],
    ]);
    expect(w.api('eu').writes()).toBe(0);
  });

  it('syncs the rotated secret with a note (once per selector) when the same-Secret listing fails', async () => {
    // Prepare: two syncs share the selector; its ListSecrets is throttled.
    const w = world(`${PAIR}  - source: { namePrefix: app }\n    targets: [{ clusters: [eu], namespaces: [web] }]\n`, {
      eu: ['app', 'web'],
    });
    w.source.put('app/db', { a: '1' });
    w.source.fail('list', () => new SyncError('SourceError', 'ListSecrets throttled', { retryable: true }));

    // Act
    const report = await w.engine.run(request({ secrets: ['app/db'] }));

    // Assess
    expect(report.results.map((r) => [r.namespace, r.action])).toEqual([
      ['app', 'created'],
      ['web', 'created'],
    ]);
    expect(report.notes.filter((n) => n.includes('not listed to check'))).toEqual([
      'selector {"namePrefix":"app"} not listed to check for secrets writing the same Secret: ListSecrets throttled',
    ]);
    expect(report.sources.every((s) => s.error === undefined)).toBe(true);
  });

  it('syncs a rotated secret alone when no other secret derives its name', async () => {
    // Prepare
    const w = world(PAIR, { eu: ['app'] });
    w.source.put('app/db', { a: '1' });
    w.source.put('app/cache', { a: '2' });

    // Act
    const report = await w.engine.run(request({ secrets: ['app/db'] }));

    // Assess
    expect(report.results.map((r) => [r.secret, r.action])).toEqual([['app-db', 'created']]);
    expect(w.api('eu').secret('app', 'app-cache')).toBeUndefined();
    expect(w.source.calls('list')).toBe(1);
  });

  it('still syncs when the selector cannot be listed, noting it (the write guard still protects)', async () => {
    // Prepare
    const w = world(PAIR, { eu: ['app'] });
    w.source.put('app/db', { a: '1' });
    w.source.fail('list', () => new SyncError('SourceError', 'ListSecrets failed: ThrottlingException'));

    // Act
    const report = await w.engine.run(request({ secrets: ['app/db'] }));

    // Assess
    expect(report.results.map((r) => [r.secret, r.action])).toEqual([['app-db', 'created']]);
    expect(report.notes).toEqual([expect.stringContaining('ListSecrets failed: ThrottlingException')]);
    expect(report.sources.every((s) => s.error === undefined)).toBe(true);
  });
});

describe('SyncEngine: cluster progress', () => {
  it('tells the log each cluster as its bindings all finish, after their results, with counts', async () => {
    // Prepare: us cannot be reached, so its bindings fail at connect.
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.connector.unavailable.add('us');
    const events: string[] = [];
    const done: ClusterProgress[] = [];
    const engine = engineLogging(w, {
      result: (r) => events.push(`result ${r.cluster}`),
      clusterDone: (p) => {
        events.push(`done ${p.cluster}`);
        done.push(p);
      },
    });

    // Act
    await engine.run(request({ secrets: ['prod/db'] }));

    // Assess: once per cluster, counting up, each after its own two results.
    expect(done.map((p) => `${p.done}/${p.total}`)).toEqual(['1/2', '2/2']);
    expect(
      done
        .map(({ cluster, bindings, failed }) => ({ cluster, bindings, failed }))
        .sort((a, b) => a.cluster.localeCompare(b.cluster)),
    ).toEqual([
      { cluster: 'eu', bindings: 2, failed: 0 },
      { cluster: 'us', bindings: 2, failed: 2 },
    ]);
    for (const cluster of ['eu', 'us']) {
      const at = events.indexOf(`done ${cluster}`);
      expect(events.slice(0, at).filter((e) => e === `result ${cluster}`)).toHaveLength(2);
    }
  });

  it("does not count again for the version check's re-apply", async () => {
    // Prepare: the secret moves on right after the first read, so the pass re-applies the newer version.
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    rotateAfterFirstRead(w, `${CANARY}-2`);
    const done: ClusterProgress[] = [];
    const engine = engineLogging(w, { clusterDone: (p) => done.push(p) });

    // Act
    const report = await engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(report.notes).toEqual([expect.stringContaining('moved to version')]);
    expect(done.map((p) => `${p.done}/${p.total}`)).toEqual(['1/2', '2/2']);
  });
});

describe('SyncEngine: the pass deadline', () => {
  /** The deadline `ms` after the injected clock's now (its timer runs in real time). */
  const deadlineIn = (ms: number) => ({ deadlineAt: NOW.getTime() + ms });

  /** An engine over `w`'s ports that records each binding as the engine reports it finished. */
  function recorded(w: ReturnType<typeof world>, config = FAN_OUT) {
    const finished: BindingResult[] = [];
    const engine = engineLogging(w, { result: (r) => finished.push(structuredClone(r)) }, config);
    return { engine, finished };
  }

  it('fails the bindings of a cluster that never answers with DeadlineExceeded naming it and the step, keeping the others', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);
    w.api('us').stall('getSecret');
    const { engine, finished } = recorded(w);

    // Act
    const report = await engine.run(request({ secrets: ['prod/db'] }), deadlineIn(200));

    // Assess: eu complete (written, restarted, marker cleared), us failed at its first call.
    for (const namespace of ['payments', 'canary']) {
      expect(result(report, 'eu', namespace)).toMatchObject({ action: 'created', restarted: [{ name: 'web' }] });
      expect(w.api('eu').secret(namespace, 'db')?.annotations).not.toHaveProperty(RESTART_PENDING_ANNOTATION);
      const cut = result(report, 'us', namespace);
      expect(cut.action).toBe('failed');
      expect(cut.error?.code).toBe('DeadlineExceeded');
      expect(cut.error?.message).toContain('for cluster "us" during read Secret');
      expect(cut.error?.message).toContain(`Secret ${namespace}/db`);
    }
    expect(report.summary).toMatchObject({ created: 2, failed: 2, restarts: 2 });
    expect(report.notes).toContain(
      'pass deadline reached: 2 binding(s) unfinished, reported failed (DeadlineExceeded)',
    );
    // Each binding was reported as it finished: eu's before the deadline cut us.
    expect(finished.map((r) => `${r.cluster}/${r.namespace}:${r.action}`)).toEqual([
      'eu/payments:created',
      'eu/canary:created',
      'us/payments:failed',
      'us/canary:failed',
    ]);
    expectNoSecretValueIn(report, CANARY);
  });

  it('names the connect step for a cluster whose connection never completes', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.connector.silent.add('us');

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }), deadlineIn(100));

    // Assess
    expect(result(report, 'eu', 'payments').action).toBe('created');
    expect(result(report, 'us', 'payments').error).toEqual({
      code: 'DeadlineExceeded',
      message: 'pass deadline reached for cluster "us" during connect; stopped waiting, the next pass repairs it',
    });
  });

  it('starts no call after the deadline: queued calls are dropped, not sent late', async () => {
    // Prepare: one call in flight per cluster, so canary's read waits behind payments' silent one.
    const w = world(FAN_OUT.replace('syncs:', 'defaults: { bindingConcurrency: 1 }\nsyncs:'));
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.api('us').stall('getSecret', ([namespace]) => namespace === 'payments');

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }), deadlineIn(100));
    await new Promise((resolve) => setTimeout(resolve, 50));

    // Assess
    expect(w.api('us').book.log.map((c) => `${c.method} ${String(c.args[0])}`)).toEqual(['getSecret payments']);
    expect(result(report, 'us', 'canary').error?.message).toContain('during read Secret (Secret canary/db)');
    expect(w.api('us').secret('canary', 'db')).toBeUndefined();
  });

  it('leaves a Secret written but not restarted marked, and the retry restarts its consumers once', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    seedConsumers(w.apis);
    w.api('us').stall('patchTemplateAnnotations', ([namespace]) => namespace === 'payments');

    // Act
    const first = await w.engine.run(request({ secrets: ['prod/db'] }), deadlineIn(200));
    const marker = w.api('us').secret('payments', 'db')?.annotations[RESTART_PENDING_ANNOTATION];
    w.api('us').unstall();
    const retry = await w.engine.run(request({ secrets: ['prod/db'] }), deadlineIn(10_000));

    // Assess
    const cut = result(first, 'us', 'payments');
    expect(cut.action).toBe('failed');
    expect(cut.error?.code).toBe('DeadlineExceeded');
    expect(cut.error?.message).toMatch(/^Secret created, restart failed: pass deadline reached for cluster "us"/);
    expect(cut.error?.message).toContain('during restart (Deployment payments/web)');
    expect(result(first, 'us', 'canary').action).toBe('created');
    expect(markerHash(marker)).toBe(w.api('us').secret('payments', 'db')?.annotations[HASH_ANNOTATION] ?? 'none');
    expect(result(retry, 'us', 'payments')).toMatchObject({ action: 'unchanged', restarted: [{ name: 'web' }] });
    expect(result(retry, 'us', 'canary')).toMatchObject({ action: 'unchanged', restarted: [] });
    expect(retry.summary).toMatchObject({ failed: 0, restarts: 1 });
    expect(w.api('us').secret('payments', 'db')?.annotations).not.toHaveProperty(RESTART_PENDING_ANNOTATION);
  });

  it('keeps written bindings whose version check the deadline cut, and fails the pass on the source', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.source.stall('currentVersionId');

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }), deadlineIn(200));

    // Assess
    expect(report.summary).toMatchObject({ created: 4, failed: 0 });
    expect(report.sources).toEqual([
      expect.objectContaining({
        id: 'prod/db',
        error: {
          code: 'DeadlineExceeded',
          message:
            'pass deadline reached during version check (secret "prod/db"); stopped waiting, the next pass repairs it',
        },
      }),
    ]);
  });

  it('reads and writes nothing when the deadline has already passed, naming each binding cluster', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }), deadlineIn(0));

    // Assess
    expect(w.source.reads()).toBe(0);
    expect(w.apis.map((a) => a.book.total())).toEqual([0, 0]);
    expect(report.summary.failed).toBe(4);
    expect(report.sources[0]?.error?.code).toBe('DeadlineExceeded');
    expect(report.sources[0]?.error?.message).toContain('during read source secret (secret "prod/db")');
    expect(result(report, 'us', 'canary').error?.message).toContain('for cluster "us" during connect');
  });

  it('does not wait for a retry of a 503 that would end after the deadline', async () => {
    // Prepare: the server asks for 8 s before a retry; the deadline is in 2 s.
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    w.api('us').fail(
      'getSecret',
      () => new SyncError('KubernetesError', 'HTTP 503', { retryable: true, status: 503, retryAfterMs: 8_000 }),
      { when: ([namespace]) => namespace === 'payments' },
    );

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }), deadlineIn(2_000));

    // Assess: the server's answer is reported at once, no wait ran into the deadline.
    expect(result(report, 'us', 'payments').error).toEqual({ code: 'KubernetesError', message: 'HTTP 503' });
    expect(w.api('us').calls('getSecret')).toBe(2);
    expect(result(report, 'us', 'canary').action).toBe('created');
  });

  it('without a deadline reports every binding once as it finishes', async () => {
    // Prepare
    const w = world(FAN_OUT);
    w.source.put('prod/db', { username: 'app', password: CANARY });
    const { engine, finished } = recorded(w);

    // Act
    const report = await engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(finished).toHaveLength(4);
    expect(
      [...finished].sort((a, b) => `${a.cluster}${a.namespace}`.localeCompare(`${b.cluster}${b.namespace}`)),
    ).toEqual(report.results);
  });
});
