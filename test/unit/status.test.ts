import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.js';
import { RESTART_PENDING_ANNOTATION, SYNCED_AT_ANNOTATION, VERSION_ANNOTATION } from '../../lib/domain/names.js';
import { InputError, SyncError } from '../../lib/errors.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import type { BindingStatus, StatusReport } from '../../lib/sync/status.js';
import { b64, envFromSpec } from '../support/fakes.js';
import {
  bindingOf,
  CANARY,
  eksClusters,
  FLEET,
  FLEET_NAMESPACES,
  fakeWorld,
  NOW,
  seedConsumerAt,
  seedConsumers,
} from '../support/fixtures.js';

/** Two clusters with consumers of `db` in both namespaces, a source, and an engine over them, at NOW. */
function world(yaml = FLEET) {
  const w = fakeWorld(yaml, FLEET_NAMESPACES, { now: NOW });
  seedConsumers(w.apis);
  return w;
}

/** The world after a first backfill wrote every Secret and restarted every consumer. */
async function synced(yaml = FLEET) {
  const w = world(yaml);
  const versionId = w.source.put('prod/db', { password: CANARY });
  const report = await w.engine.run({ trigger: 'backfill', dryRun: false, restart: true });
  expect(report.summary.failed).toBe(0);
  for (const name of ['eu', 'us']) w.api(name).book.reset();
  return { ...w, versionId };
}

const row = (report: StatusReport, cluster: string, namespace: string, secret?: string): BindingStatus =>
  bindingOf(report.bindings, cluster, namespace, secret);

describe('SyncEngine.status', () => {
  it('reports every binding current after a sync, reading no secret value (DescribeSecret once per source, Secret metadata only)', async () => {
    // Prepare
    const w = await synced();
    const reads = w.source.reads();

    // Act
    const report = await w.engine.status();

    // Assess
    expect(w.source.reads()).toBe(reads);
    expect(w.source.calls('describeVersions')).toBe(1);
    expect(report.summary).toEqual({ current: 4, behind: 0, unreadable: 0 });
    expect(report.sources).toEqual([{ id: 'prod/db', arn: w.source.arnOf('prod/db'), versionId: w.versionId }]);
    expect(row(report, 'eu', 'payments')).toEqual({
      cluster: 'eu',
      namespace: 'payments',
      secret: 'db',
      source: 'prod/db',
      state: 'current',
      sourceVersionId: w.versionId,
      clusterVersionId: w.versionId,
      secretExists: true,
      // Written by the sync with the content (the engine's clock).
      syncedAt: NOW.toISOString(),
      consumers: [{ kind: 'Deployment', name: 'web', state: 'current' }],
    });
    for (const api of ['eu', 'us'].map(w.api)) {
      expect(api.writes()).toBe(0);
      // The Secrets are read without their data.
      expect(api.calls('getSecret')).toBe(0);
      expect(api.calls('getSecretMetadata')).toBe(2);
    }
    const text = JSON.stringify(report);
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(b64(CANARY));
  });

  it('reports a binding behind once AWSCURRENT moves, with both version ids, and current again after a sync', async () => {
    // Prepare
    const w = await synced();
    const rotated = w.source.put('prod/db', { password: `${CANARY}-2` });

    // Act
    const before = await w.engine.status();
    await w.engine.run({ trigger: 'rotation', secrets: ['prod/db'], versionId: rotated, dryRun: false, restart: true });
    const after = await w.engine.status();

    // Assess
    expect(before.summary).toEqual({ current: 0, behind: 4, unreadable: 0 });
    expect(row(before, 'us', 'canary')).toMatchObject({
      state: 'behind',
      sourceVersionId: rotated,
      clusterVersionId: w.versionId,
    });
    expect(after.summary).toEqual({ current: 4, behind: 0, unreadable: 0 });
    expect(row(after, 'us', 'canary')).toMatchObject({ clusterVersionId: rotated, sourceVersionId: rotated });
  });

  it('reports a missing Secret behind, its consumers stale', async () => {
    // Prepare
    const w = await synced();
    await w.api('eu').deleteSecret('canary', 'db');

    // Act
    const report = await w.engine.status();

    // Assess
    expect(row(report, 'eu', 'canary')).toMatchObject({
      state: 'behind',
      secretExists: false,
      consumers: [{ kind: 'Deployment', name: 'web', state: 'stale' }],
    });
    expect(row(report, 'eu', 'canary')).not.toHaveProperty('clusterVersionId');
    expect(report.summary).toEqual({ current: 3, behind: 1, unreadable: 0 });
  });

  it('tells current, stale and restart-pending consumers apart, and a row with either is behind', async () => {
    // Prepare: eu/payments: "old" carries another fingerprint; eu/canary: the Secret has a restart pending.
    const w = await synced();
    const eu = w.api('eu');
    seedConsumerAt(eu, 'payments', 'old', 'an-older-fingerprint');
    eu.seedWorkload({ namespace: 'payments', name: 'unrelated', podSpec: envFromSpec('other') });
    eu.seedWorkload({ namespace: 'canary', name: 'late', podSpec: envFromSpec('db') });
    eu.touchSecret('canary', 'db', (s) => {
      s.annotations[RESTART_PENDING_ANNOTATION] = 'somehash/somepass';
    });

    // Act
    const report = await w.engine.status();

    // Assess
    expect(row(report, 'eu', 'payments')).toMatchObject({
      state: 'behind',
      consumers: [
        { kind: 'Deployment', name: 'old', state: 'stale' },
        { kind: 'Deployment', name: 'web', state: 'current' },
      ],
    });
    // `web` carries the current fingerprint; `late` has none and a restart is pending for it.
    expect(row(report, 'eu', 'canary')).toMatchObject({
      state: 'behind',
      consumers: [
        { kind: 'Deployment', name: 'late', state: 'pending' },
        { kind: 'Deployment', name: 'web', state: 'current' },
      ],
    });
    expect(row(report, 'us', 'payments').state).toBe('current');
  });

  it('counts a consumer without our fingerprint and no restart pending as current (it started after the write)', async () => {
    // Prepare
    const w = await synced();
    w.api('us').seedWorkload({ namespace: 'payments', name: 'new', podSpec: envFromSpec('db') });

    // Act
    const report = await w.engine.status({ clusters: ['us'], namespaces: ['payments'] });

    // Assess
    expect(report.bindings).toHaveLength(1);
    expect(row(report, 'us', 'payments')).toMatchObject({
      state: 'current',
      consumers: [
        { name: 'new', state: 'current' },
        { name: 'web', state: 'current' },
      ],
    });
  });

  it('shows the synced-at annotation when the Secret carries it', async () => {
    // Prepare
    const w = await synced();
    w.api('eu').touchSecret('payments', 'db', (s) => {
      s.annotations[SYNCED_AT_ANNOTATION] = '2026-12-03T09:58:12Z';
    });

    // Act
    const report = await w.engine.status({ clusters: ['eu'] });

    // Assess
    expect(row(report, 'eu', 'payments').syncedAt).toBe('2026-12-03T09:58:12Z');
    // The sync itself writes synced-at; a Secret without the annotation shows none.
    expect(row(report, 'eu', 'canary').syncedAt).toBe(NOW.toISOString());
    w.api('eu').touchSecret('canary', 'db', (s) => {
      delete s.annotations[SYNCED_AT_ANNOTATION];
    });
    expect(row(await w.engine.status({ clusters: ['eu'] }), 'eu', 'canary')).not.toHaveProperty('syncedAt');
  });

  it('reports an unavailable cluster and a forbidden namespace unreadable with their codes, the rest as they are', async () => {
    // Prepare
    const w = await synced();
    w.connector.unavailable.add('us');
    w.api('eu').forbidden.add('canary');

    // Act
    const report = await w.engine.status();

    // Assess
    expect(report.summary).toEqual({ current: 1, behind: 0, unreadable: 3 });
    expect(row(report, 'eu', 'payments').state).toBe('current');
    expect(row(report, 'eu', 'canary')).toMatchObject({ state: 'unreadable', error: { code: 'Forbidden' } });
    expect(row(report, 'us', 'payments')).toMatchObject({
      state: 'unreadable',
      error: { code: 'ClusterUnavailable' },
    });
    expect(row(report, 'us', 'payments')).not.toHaveProperty('secretExists');
  });

  it('reports the consumers of a namespace it may not list unreadable, keeping the Secret it read', async () => {
    // Prepare
    const w = await synced();
    w.api('eu').fail('listWorkloads', () => new SyncError('Forbidden', 'list deployments in payments: forbidden'), {
      when: (args) => args[0] === 'payments',
    });

    // Act
    const report = await w.engine.status({ clusters: ['eu'] });

    // Assess
    expect(row(report, 'eu', 'payments')).toMatchObject({ state: 'unreadable', error: { code: 'Forbidden' } });
    expect(row(report, 'eu', 'canary').state).toBe('current');
  });

  it('tells the log each cluster as its rows are read, with the unreadable ones counted', async () => {
    // Prepare
    const w = await synced();
    w.connector.unavailable.add('us');
    const done: unknown[] = [];
    const engine = new SyncEngine({
      config: parseConfig(FLEET),
      source: w.source,
      clusters: w.connector,
      log: { info: () => {}, warn: () => {}, clusterDone: (progress) => done.push(progress) },
    });

    // Act
    await engine.status();

    // Assess
    expect(done).toHaveLength(2);
    expect(done).toContainEqual({ cluster: 'eu', done: expect.any(Number), total: 2, bindings: 2, failed: 0 });
    expect(done).toContainEqual({ cluster: 'us', done: expect.any(Number), total: 2, bindings: 2, failed: 2 });
    expect(done.map((d) => (d as { done: number }).done).sort()).toEqual([1, 2]);
  });

  it('reports every binding of a source it cannot describe unreadable, naming the code', async () => {
    // Prepare
    const w = await synced();
    w.source.fail('describeVersions', () => new SyncError('Forbidden', 'access denied to DescribeSecret'));

    // Act
    const report = await w.engine.status();

    // Assess
    expect(report.summary).toEqual({ current: 0, behind: 0, unreadable: 4 });
    expect(report.sources).toEqual([
      { id: 'prod/db', error: { code: 'Forbidden', message: 'access denied to DescribeSecret' } },
    ]);
    expect(row(report, 'eu', 'payments')).toMatchObject({
      error: { code: 'Forbidden' },
      clusterVersionId: w.versionId,
      secretExists: true,
    });
  });

  it('reports a source scheduled for deletion unreadable (SecretNotFound)', async () => {
    // Prepare
    const w = await synced();
    w.source.scheduleDeletion('prod/db');

    // Act
    const report = await w.engine.status({ clusters: ['eu'] });

    // Assess
    expect(report.bindings.map((r) => r.error?.code)).toEqual(['SecretNotFound', 'SecretNotFound']);
  });

  it('ends a silent cluster at the deadline (DeadlineExceeded) and reports the others', async () => {
    // Prepare
    const w = await synced();
    w.api('us').stall('getSecretMetadata');

    // Act
    const report = await w.engine.status({}, { deadlineAt: NOW.getTime() + 100 });

    // Assess
    expect(row(report, 'eu', 'payments').state).toBe('current');
    expect(row(report, 'us', 'payments')).toMatchObject({
      state: 'unreadable',
      error: { code: 'DeadlineExceeded' },
    });
    expect(report.summary).toEqual({ current: 2, behind: 0, unreadable: 2 });
  });

  it('expands selectors with ListSecrets and shows a row per listed secret', async () => {
    // Prepare
    const w = world(`${eksClusters('eu')}syncs:
  - source: { namePrefix: team/ }
    targets:
      - clusters: [eu]
        namespaces: [payments]
`);
    w.source.put('team/a', { k: 'one' });
    w.source.put('team/b', { k: 'two' });
    expect((await w.engine.run({ trigger: 'backfill', dryRun: false, restart: true })).summary.created).toBe(2);
    w.source.put('team/b', { k: 'three' });

    // Act
    const report = await w.engine.status();

    // Assess
    expect(report.bindings.map((r) => `${r.secret}:${r.state}`)).toEqual(['team-a:current', 'team-b:behind']);
    expect(w.source.reads()).toBe(1);
  });

  it('shows only the requested secrets and clusters, and rejects filters that name nothing configured', async () => {
    // Prepare
    const w = await synced();

    // Act
    const report = await w.engine.status({ secrets: ['prod/db'], clusters: ['us'] });
    const unknownCluster = w.engine.status({ clusters: ['mars'] });
    const unknownSecret = w.engine.status({ secrets: ['nope/db'] });

    // Assess
    expect(report.bindings.map((r) => `${r.cluster}/${r.namespace}`)).toEqual(['us/canary', 'us/payments']);
    await expect(unknownCluster).rejects.toBeInstanceOf(InputError);
    await expect(unknownSecret).rejects.toThrow('secret "nope/db" matches no sync in the configuration');
  });

  it('reports two sources writing one Secret unreadable (InvalidConfig), as a pass refuses them', async () => {
    // Prepare: `app/db` and `app_db` both derive the Kubernetes name `app-db`.
    const w = world(`${eksClusters('eu')}syncs:
  - source: { namePrefix: app/ }
    targets: [{ clusters: [eu], namespaces: [payments] }]
  - source: { namePrefix: app_ }
    targets: [{ clusters: [eu], namespaces: [payments] }]
`);
    w.source.put('app/db', { k: 'one' });
    w.source.put('app_db', { k: 'two' });

    // Act
    const report = await w.engine.status();

    // Assess
    expect(report.bindings.map((r) => [r.secret, r.state, r.error?.code])).toEqual([
      ['app-db', 'unreadable', 'InvalidConfig'],
      ['app-db', 'unreadable', 'InvalidConfig'],
    ]);
    expect(report.summary).toEqual({ current: 0, behind: 0, unreadable: 2 });
  });

  it('tracks no consumers for a target with restart: none', async () => {
    // Prepare
    const w = await synced(FLEET.replace('secret: db', 'secret: db\n        restart: none'));

    // Act
    const report = await w.engine.status({ clusters: ['eu'] });

    // Assess
    expect(w.api('eu').calls('listWorkloads')).toBe(0);
    expect(row(report, 'eu', 'payments')).toMatchObject({ state: 'current', consumers: [] });
  });

  it('reports a Secret written by something else (no version annotation) behind', async () => {
    // Prepare
    const w = await synced();
    w.api('eu').touchSecret('payments', 'db', (s) => {
      delete s.annotations[VERSION_ANNOTATION];
    });

    // Act
    const report = await w.engine.status({ clusters: ['eu'], namespaces: ['payments'] });

    // Assess
    expect(row(report, 'eu', 'payments')).toMatchObject({ state: 'behind', secretExists: true });
    expect(row(report, 'eu', 'payments')).not.toHaveProperty('clusterVersionId');
  });
});
