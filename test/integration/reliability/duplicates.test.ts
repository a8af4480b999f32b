/**
 * Duplicates and concurrency on the real on-rotation handler: the same event delivered five times one after the
 * other, five times at once (Promise.all on one handler, and across five cold-started containers), and one rotation
 * announced by three event families at once. Each Secret is written once (counted on an admin watch) and each
 * consumer restarted once (one new ReplicaSet / ControllerRevision), whatever the interleaving.
 */
import { type V1Secret, Watch } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { deployment, statefulSet } from '../../support/workloads.js';
import * as helpers from './helpers.js';

const { output, guard, run, value: newValue } = helpers.reliabilityRun();
const k8sName = 'dup-db';
const N = 5;
let clusters: string[];
let namespace: string;
let secret: helpers.SeededSecret;
let config: string;
let handler: helpers.Handler;

/** Counts the writes of one Secret seen by an admin watch, and how many of them changed its data. */
class SecretWatch {
  events = 0;
  dataChanges = 0;
  private last: string | undefined;
  private controller: AbortController | undefined;

  static async start(cluster: string, ns: string, name: string): Promise<SecretWatch> {
    const watch = new SecretWatch();
    const { core } = helpers.adminApis(cluster);
    const current = await core.readNamespacedSecret({ namespace: ns, name });
    watch.last = dataKey(current);
    watch.controller = await new Watch(helpers.adminKubeConfig(cluster)).watch(
      `/api/v1/namespaces/${ns}/secrets`,
      { fieldSelector: `metadata.name=${name}`, resourceVersion: current.metadata?.resourceVersion },
      (phase, object: V1Secret) => {
        if (phase !== 'MODIFIED' && phase !== 'ADDED') return;
        watch.events += 1;
        const key = dataKey(object);
        if (key !== watch.last) watch.dataChanges += 1;
        watch.last = key;
      },
      () => {},
    );
    return watch;
  }

  stop(): void {
    this.controller?.abort();
  }
}

/** A digest-free identity of the data: sorted keys with their base64 values, kept in memory only. */
function dataKey(secret: V1Secret): string {
  return JSON.stringify(Object.entries(secret.data ?? {}).sort(([a], [b]) => a.localeCompare(b)));
}

async function controllerRevisions(cluster: string, owner: string): Promise<number> {
  const { items } = await helpers.adminApis(cluster).apps.listNamespacedControllerRevision({ namespace });
  return items.filter((i) => i.metadata?.ownerReferences?.some((o) => o.name === owner)).length;
}

interface Revisions {
  web: number;
  db: number;
  otherGeneration: number;
}

async function revisions(cluster: string): Promise<Revisions> {
  const other = await helpers.adminApis(cluster).apps.readNamespacedDeployment({ namespace, name: 'other' });
  return {
    web: (await helpers.replicaSetsOf(cluster, namespace, 'web')).length,
    db: await controllerRevisions(cluster, 'db'),
    otherGeneration: other.metadata?.generation ?? 0,
  };
}

async function allRevisions(): Promise<Map<string, Revisions>> {
  return new Map(await Promise.all(clusters.map(async (c) => [c, await revisions(c)] as const)));
}

/** Waits until each consumer has exactly one more revision than in `before`, then checks that it stays so. */
async function expectOneRestartEach(before: Map<string, Revisions>): Promise<void> {
  const expected = (c: string) => ({
    web: (before.get(c)?.web ?? 0) + 1,
    db: (before.get(c)?.db ?? 0) + 1,
    otherGeneration: before.get(c)?.otherGeneration ?? 1,
  });
  await helpers.waitFor(
    async () => {
      const now = await allRevisions();
      return clusters.every((c) => JSON.stringify(now.get(c)) === JSON.stringify(expected(c)));
    },
    30_000,
    200,
  );
  await helpers.sleep(1_500);
  const settled = await allRevisions();
  for (const c of clusters) expect(settled.get(c), c).toEqual(expected(c));
}

/**
 * Each cluster's Secret changed once (watched), the reports together updated it once and restarted both consumers
 * once, and the cluster shows one new revision of each.
 */
async function expectWrittenAndRestartedOnce(
  watches: Map<string, SecretWatch>,
  reports: helpers.Report[],
  before: Map<string, Revisions>,
): Promise<void> {
  const counts = tally(reports);
  for (const cluster of clusters) {
    expect(watches.get(cluster)?.dataChanges, cluster).toBe(1);
    expect(counts.get(cluster)?.updated, cluster).toBe(1);
    expect(counts.get(cluster)?.restarted.sort(), cluster).toEqual(['Deployment/web', 'StatefulSet/db']);
  }
  await expectOneRestartEach(before);
}

/** Watches the Secret in every cluster while `act` runs; returns per-cluster counts. */
async function watched(act: () => Promise<void>): Promise<Map<string, SecretWatch>> {
  const watches = new Map(
    await Promise.all(clusters.map(async (c) => [c, await SecretWatch.start(c, namespace, k8sName)] as const)),
  );
  try {
    await act();
    await helpers.sleep(1_000);
  } finally {
    for (const w of watches.values()) w.stop();
  }
  return watches;
}

/** Counts, across reports, the bindings updated per cluster and the workloads reported restarted per cluster. */
function tally(reports: helpers.Report[]): Map<string, { updated: number; restarted: string[] }> {
  const out = new Map<string, { updated: number; restarted: string[] }>();
  for (const report of reports) {
    for (const result of report.results) {
      const entry = out.get(result.cluster) ?? { updated: 0, restarted: [] };
      if (result.action === 'updated' || result.action === 'created') entry.updated += 1;
      entry.restarted.push(...result.restarted.map((w) => `${w.kind}/${w.name}`));
      out.set(result.cluster, entry);
    }
  }
  return out;
}

async function deliver(h: helpers.Handler, event: unknown): Promise<helpers.Report> {
  const { result, error } = await helpers.invoke(h, event, 'onRotation');
  guard.collect(result ?? null);
  if (error !== undefined) guard.collect(error);
  expect(error).toBeUndefined();
  return result as helpers.Report;
}

beforeAll(async () => {
  clusters = helpers.stack().clusters.slice(0, 2);
  namespace = (await helpers.freshNamespace(clusters, { prefix: 'rel-dup' })).name;
  for (const cluster of clusters) {
    const { apps } = helpers.adminApis(cluster);
    await apps.createNamespacedDeployment({ namespace, body: deployment('web', k8sName, 'envFrom') });
    await apps.createNamespacedStatefulSet({ namespace, body: statefulSet('db', k8sName, 'volume') });
    await apps.createNamespacedDeployment({ namespace, body: deployment('other', 'not-ours', 'envFrom') });
  }
  secret = await helpers.createSecret(`rel/dup-${run}`, newValue('dup-v1'));
  config = `clusters:
${helpers.kubeconfigClusters(clusters)}
syncs:
  - source: { secret: ${secret.name} }
    targets:
      - { clusters: [${clusters.join(', ')}], namespaces: [${namespace}], secret: ${k8sName} }
`;
  handler = await helpers.loadFunction('on-rotation', config);
  await deliver(handler, helpers.labelEvent(secret, secret.versionId));
  // The first sync gives every consumer its hash annotation (one restart); wait for the rollouts to settle.
  await helpers.waitFor(
    async () => {
      const now = await allRevisions();
      return clusters.every((c) => now.get(c)?.web === 2 && now.get(c)?.db === 2);
    },
    30_000,
    200,
  );
});

describe('the same event delivered again and again', () => {
  it(`writes once and restarts once when delivered ${N} times in a row`, async () => {
    const before = await allRevisions();
    const versionId = await helpers.putSecret(secret.name, newValue('dup-v2'));
    const event = helpers.labelEvent(secret, versionId);
    const reports: helpers.Report[] = [];

    const watches = await watched(async () => {
      for (let i = 0; i < N; i++) reports.push(await deliver(handler, event));
    });

    expect(reports[0]?.results.map((r) => r.action)).toEqual(clusters.map(() => 'updated'));
    for (const report of reports.slice(1)) {
      expect(report.results.map((r) => r.action)).toEqual(clusters.map(() => 'unchanged'));
      expect(report.results.every((r) => r.restarted.length === 0)).toBe(true);
    }
    for (const [cluster, watch] of watches) expect(watch.dataChanges, cluster).toBe(1);
    await expectOneRestartEach(before);
  });

  it(`writes once and restarts once when delivered ${N} times at once to one handler`, async () => {
    const before = await allRevisions();
    const versionId = await helpers.putSecret(secret.name, newValue('dup-v3'));
    const event = helpers.labelEvent(secret, versionId);
    let reports: helpers.Report[] = [];

    const watches = await watched(async () => {
      reports = await Promise.all(Array.from({ length: N }, () => deliver(handler, event)));
    });

    await expectWrittenAndRestartedOnce(watches, reports, before);
  });

  it(`writes once and restarts once when delivered to ${N} containers at once`, async () => {
    const containers = await Promise.all(Array.from({ length: N }, () => helpers.loadFunction('on-rotation', config)));
    const before = await allRevisions();
    const versionId = await helpers.putSecret(secret.name, newValue('dup-v4'));
    const event = helpers.labelEvent(secret, versionId);
    let reports: helpers.Report[] = [];

    const watches = await watched(async () => {
      reports = await Promise.all(containers.map((h) => deliver(h, event)));
    });

    await expectWrittenAndRestartedOnce(watches, reports, before);
  });

  it('writes once and restarts once when three event families announce the same rotation at once', async () => {
    const before = await allRevisions();
    const versionId = await helpers.putSecret(secret.name, newValue('dup-v5'));
    const base = helpers.labelEvent(secret, versionId);
    const cloudTrail = {
      ...base,
      id: crypto.randomUUID(),
      'detail-type': 'AWS API Call via CloudTrail',
      detail: {
        eventSource: 'secretsmanager.amazonaws.com',
        eventName: 'PutSecretValue',
        requestParameters: { secretId: secret.arn, clientRequestToken: versionId },
        responseElements: { arn: secret.arn, versionId },
      },
    };
    const service = {
      ...base,
      id: crypto.randomUUID(),
      resources: [],
      'detail-type': 'AWS Service Event via CloudTrail',
      detail: {
        eventSource: 'secretsmanager.amazonaws.com',
        eventName: 'RotationSucceeded',
        additionalEventData: { SecretId: secret.arn },
      },
    };
    let reports: helpers.Report[] = [];

    const watches = await watched(async () => {
      reports = await Promise.all([base, cloudTrail, service, base, cloudTrail].map((e) => deliver(handler, e)));
    });

    await expectWrittenAndRestartedOnce(watches, reports, before);
  });
});

describe('leakage', () => {
  it('no seeded value appears in any log line, metric, report or error of this file', () => {
    expect(guard.seedCount).toBeGreaterThan(5);
    expect(guard.hits(output.text())).toEqual([]);
  });
});
