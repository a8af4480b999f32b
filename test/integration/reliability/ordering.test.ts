/**
 * Ordering on the real stack: late, duplicate and crashed passes converge. A DeleteSecret event for a secret that
 * exists (replayed, or late after RestoreSecret) deletes nothing; an older pass never clears the restart marker a
 * newer pass set; concurrent `recreate`s delete once; a selector source that stops matching leaves no unreported
 * Secret behind; a `restart: false` backfill's restarts happen once, at the next reconcile.
 */
import { readFileSync } from 'node:fs';
import {
  DeleteSecretCommand,
  RestoreSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { type V1ClusterRole, Watch } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { createClusterConnector } from '../../../lib/clusters/connector.js';
import { parseConfig } from '../../../lib/config/index.js';
import { consumerHashAnnotation, RESTART_PENDING_ANNOTATION } from '../../../lib/domain/names.js';
import { SyncError } from '../../../lib/errors.js';
import { createSecretsManagerSource } from '../../../lib/source/secrets-manager.js';
import { SyncEngine } from '../../../lib/sync/engine.js';
import type { ClusterConnector, KubeApi } from '../../../lib/sync/ports/kube.js';
import type { SecretSource } from '../../../lib/sync/ports/source.js';
import { deployment } from '../../support/workloads.js';
import * as helpers from './helpers.js';

const { output, guard, run, value } = helpers.reliabilityRun();
let clusters: string[];

/** Invokes a handler and keeps what it returned or threw for the leak scan. */
async function call(handler: Parameters<typeof helpers.invoke>[0], event: unknown) {
  const outcome = await helpers.invoke(handler, event);
  guard.collect(outcome.result ?? null);
  if (outcome.error !== undefined) guard.collect(outcome.error);
  return { ...outcome, report: (outcome.result ?? outcome.error?.report) as helpers.Report };
}

/** A CloudTrail `DeleteSecret` event for `secret`, shaped like events/cloudtrail-delete-secret-arn-legacy.json. */
function deleteSecretEvent(secret: { name: string; arn: string }): unknown {
  const sample = JSON.parse(readFileSync('events/cloudtrail-delete-secret-arn-legacy.json', 'utf8'));
  sample.id = crypto.randomUUID();
  sample.region = helpers.stack().aws.region;
  sample.detail.awsRegion = helpers.stack().aws.region;
  sample.detail.requestParameters.secretId = secret.name;
  sample.detail.responseElements = { ...sample.detail.responseElements, name: secret.name, aRN: secret.arn };
  return sample;
}

/** The optional `eks-secret-sync-list` ClusterRole, exactly as deploy/rbac.yaml defines it. */
async function applyListRole(cluster: string): Promise<void> {
  const docs = parseAllDocuments(readFileSync('deploy/rbac.yaml', 'utf8')).map((d) => d.toJS());
  const role = docs.find((d) => d?.kind === 'ClusterRole' && d.metadata?.name === 'eks-secret-sync-list') as
    | V1ClusterRole
    | undefined;
  if (role === undefined) throw new Error('deploy/rbac.yaml defines no eks-secret-sync-list ClusterRole');
  const { rbac } = helpers.adminApis(cluster);
  try {
    await rbac.createClusterRole({ body: role });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
    await rbac.replaceClusterRole({ name: 'eks-secret-sync-list', body: role });
  }
}

async function bindListRole(cluster: string, namespace: string): Promise<void> {
  await helpers.adminApis(cluster).rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'eks-secret-sync-list', namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'eks-secret-sync-list' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'eks-secret-sync' }],
    },
  });
}

async function webAnnotation(cluster: string, namespace: string, secret: string): Promise<string | undefined> {
  const web = await helpers.adminApis(cluster).apps.readNamespacedDeployment({ namespace, name: 'web' });
  return web.spec?.template.metadata?.annotations?.[consumerHashAnnotation(secret)];
}

/** Waits until `web` has `count` ReplicaSets, then checks that no further one appears. */
/**
 * A fresh namespace on the first cluster with a Deployment `web` consuming the Secret `label` (envFrom), the source
 * secret `rel/<label>-<run>` holding `value(initial)`, and a configuration mapping one to the other (`extra` adds
 * target fields, e.g. `, recreate: true`).
 */
async function consumedSecret(label: string, initial: string, extra = '') {
  const cluster = clusters[0] as string;
  const namespace = (await helpers.freshNamespace([cluster], { prefix: 'rel-ord' })).name;
  await helpers.adminApis(cluster).apps.createNamespacedDeployment({
    namespace,
    body: deployment('web', label, 'envFrom'),
  });
  const secret = await helpers.createSecret(`rel/${label}-${run}`, value(initial));
  const config = `clusters:\n${helpers.kubeconfigClusters([cluster])}\nsyncs:\n  - source: { secret: ${secret.name} }\n    targets:\n      - { clusters: [${cluster}], namespaces: [${namespace}], secret: ${label}${extra} }\n`;
  return { cluster, namespace, secret, config };
}

async function expectReplicaSets(cluster: string, namespace: string, count: number): Promise<void> {
  await helpers.waitFor(
    async () => (await helpers.replicaSetsOf(cluster, namespace, 'web')).length === count,
    30_000,
    200,
  );
  await helpers.sleep(1_000);
  expect((await helpers.replicaSetsOf(cluster, namespace, 'web')).length).toBe(count);
}

beforeAll(() => {
  clusters = helpers.stack().clusters.slice(0, 2);
});

describe('a DeleteSecret event through the real on-rotation handler', () => {
  it('deletes nothing while the secret exists (replayed, or late after RestoreSecret), then deletes once it is gone', async () => {
    // Prepare: deletionPolicy delete, two clusters.
    const namespace = (await helpers.freshNamespace(clusters, { prefix: 'rel-ord' })).name;
    const secret = await helpers.createSecret(`rel/ord-del-${run}`, value('ord-del'));
    const handler = await helpers.loadFunction(
      'on-rotation',
      `clusters:\n${helpers.kubeconfigClusters(clusters)}\nsyncs:\n  - source: { secret: ${secret.name} }\n    deletionPolicy: delete\n    targets:\n      - { clusters: [${clusters.join(', ')}], namespaces: [${namespace}], secret: ord-del }\n`,
    );
    expect((await call(handler, helpers.labelEvent(secret, secret.versionId))).error).toBeUndefined();
    const sm = helpers.secretsManager();

    // Act: a replay while the secret exists; a late delivery after DeleteSecret + RestoreSecret; the real one.
    const replay = await call(handler, deleteSecretEvent(secret));
    await sm.send(new DeleteSecretCommand({ SecretId: secret.arn, RecoveryWindowInDays: 7 }));
    await sm.send(new RestoreSecretCommand({ SecretId: secret.arn }));
    const late = await call(handler, deleteSecretEvent(secret));
    const kept = await Promise.all(clusters.map((c) => helpers.findSecret(c, namespace, 'ord-del')));
    await sm.send(new DeleteSecretCommand({ SecretId: secret.arn, RecoveryWindowInDays: 7 }));
    const real = await call(handler, deleteSecretEvent(secret));

    // Assess
    for (const outcome of [replay, late]) {
      expect(outcome.error).toBeUndefined();
      expect(outcome.report.results.map((r) => [r.cluster, r.action])).toEqual(clusters.map((c) => [c, 'unchanged']));
      expect(outcome.report.results[0]?.notes).toEqual([
        'DeleteSecret event, but the source secret exists and is not scheduled for deletion; nothing deleted',
      ]);
    }
    expect(kept.every((s) => s !== undefined)).toBe(true);
    expect(real.error).toBeUndefined();
    expect(real.report.results.map((r) => r.action)).toEqual(clusters.map(() => 'deleted'));
    for (const cluster of clusters) expect(await helpers.findSecret(cluster, namespace, 'ord-del')).toBeUndefined();
  });
});

describe('an older pass and the restart-pending marker of a newer one', () => {
  it("never clears the newer pass's marker, so that its retry restarts the consumer for the newest value", async () => {
    // Prepare: v1 synced and its consumer restarted.
    const { cluster, namespace, secret, config } = await consumedSecret('ord-marker', 'ord-marker-v1');
    const handler = await helpers.loadFunction('on-rotation', config);
    expect((await call(handler, helpers.labelEvent(secret, secret.versionId))).error).toBeUndefined();
    await expectReplicaSets(cluster, namespace, 2);

    // Pass B (v3) runs between pass A's (v2) write and its restart, writes v3 and dies before its own restart.
    const v2 = await helpers.putSecret(secret.name, value('ord-marker-v2'));
    const parsed = parseConfig(config);
    const inner = createClusterConnector(parsed.clusters);
    const real = createSecretsManagerSource(helpers.runtimeSecretsManager());
    let b: helpers.Report | undefined;
    let v3: string | undefined;
    const racing: ClusterConnector = {
      connect: async (name) => {
        const api = await inner.connect(name);
        return {
          ...api,
          listWorkloads: async (...args) => {
            if (v3 === undefined) {
              v3 = await helpers.putSecret(secret.name, value('ord-marker-v3'));
              const dying = helpers.realEngine(config, {
                wrap: (c) => ({
                  connect: async (n): Promise<KubeApi> => ({
                    ...(await c.connect(n)),
                    patchTemplateAnnotations: async () => {
                      throw new SyncError('KubernetesError', 'injected: the pass died before its restart');
                    },
                  }),
                }),
              }).engine;
              b = (await dying.run({
                trigger: 'rotation',
                secrets: [secret.arn],
                versionId: v3,
                dryRun: false,
                restart: true,
              })) as unknown as helpers.Report;
            }
            return api.listWorkloads(...args);
          },
        };
      },
    };
    // A's post-write version check is throttled, so A does not notice v3 itself.
    const throttled: SecretSource = {
      ...real,
      currentVersionId: async () => {
        throw new SyncError('SourceError', 'injected: DescribeSecret throttled', { retryable: true });
      },
    };
    const a = new SyncEngine({ config: parsed, source: throttled, clusters: racing });

    // Act
    const first = await a.run({
      trigger: 'rotation',
      secrets: [secret.arn],
      versionId: v2,
      dryRun: false,
      restart: true,
    });
    guard.collect(first);
    guard.collect(b ?? null);
    const marker = (await helpers.findSecret(cluster, namespace, 'ord-marker'))?.metadata?.annotations?.[
      RESTART_PENDING_ANNOTATION
    ];
    const retry = await call(handler, helpers.labelEvent(secret, v3 as string));

    // Assess
    expect(b?.results.map((r) => r.action)).toEqual(['failed']);
    expect(marker).toBeDefined();
    expect(retry.error).toBeUndefined();
    expect(retry.report.results[0]).toMatchObject({
      action: 'unchanged',
      restarted: [{ kind: 'Deployment', name: 'web' }],
    });
    const stored = await helpers.findSecret(cluster, namespace, 'ord-marker');
    expect(Buffer.from(stored?.data?.password ?? '', 'base64').toString()).toContain('ord-marker-v3');
    expect(stored?.metadata?.annotations).not.toHaveProperty(RESTART_PENDING_ANNOTATION);
    expect(await webAnnotation(cluster, namespace, 'ord-marker')).toBe(retry.report.results[0]?.hash);
    // v1, A's v2, and the retry's v3: one restart each.
    await expectReplicaSets(cluster, namespace, 4);
    // A could not confirm its version, so it was not reported done either.
    expect(first.results.map((r) => [r.action, r.error?.code])).toEqual([['failed', 'VersionUnconfirmed']]);
  });
});

describe('recreate and a late duplicate', () => {
  it('never deletes the Secret another pass just recreated: one delete, one restart', async () => {
    // Prepare: an immutable Secret of ours (recreate: true), and its consumer.
    const { cluster, namespace, secret, config } = await consumedSecret(
      'ord-recreate',
      'ord-recreate-v1',
      ', recreate: true',
    );
    const handler = await helpers.loadFunction('on-rotation', config);
    expect((await call(handler, helpers.labelEvent(secret, secret.versionId))).error).toBeUndefined();
    await expectReplicaSets(cluster, namespace, 2);
    await helpers.adminApis(cluster).core.patchNamespacedSecret({
      namespace,
      name: 'ord-recreate',
      body: [{ op: 'add', path: '/immutable', value: true }],
    });
    const versionId = await helpers.putSecret(secret.name, value('ord-recreate-v2'));
    const event = helpers.labelEvent(secret, versionId);
    let deletes = 0;
    const watching = await new Watch(helpers.adminKubeConfig(cluster)).watch(
      `/api/v1/namespaces/${namespace}/secrets`,
      { fieldSelector: 'metadata.name=ord-recreate' },
      (phase) => {
        if (phase === 'DELETED') deletes += 1;
      },
      () => {},
    );
    // The late duplicate reads the immutable Secret, then stalls before its delete until the other pass is done.
    let reached: () => void = () => {};
    const atDelete = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const late = helpers.realEngine(config, {
      wrap: (inner) => ({
        connect: async (name): Promise<KubeApi> => {
          const api = await inner.connect(name);
          return {
            ...api,
            deleteSecret: async (...args) => {
              reached();
              await gate;
              return api.deleteSecret(...args);
            },
          };
        },
      }),
    }).engine;

    // Act
    const duplicate = late.run({ trigger: 'rotation', secrets: [secret.arn], versionId, dryRun: false, restart: true });
    await atDelete;
    const prompt = await call(handler, event);
    release();
    const second = await duplicate;
    guard.collect(second);
    await helpers.sleep(1_000);
    watching.abort();

    // Assess
    expect(prompt.error).toBeUndefined();
    expect(prompt.report.results.map((r) => r.action)).toEqual(['updated']);
    expect(second.results.map((r) => [r.action, r.restarted.length])).toEqual([['unchanged', 0]]);
    expect(deletes).toBe(1);
    const stored = await helpers.findSecret(cluster, namespace, 'ord-recreate');
    expect(Buffer.from(stored?.data?.password ?? '', 'base64').toString()).toContain('ord-recreate-v2');
    expect(await webAnnotation(cluster, namespace, 'ord-recreate')).toBe(prompt.report.results[0]?.hash);
    await expectReplicaSets(cluster, namespace, 3);
  });
});

describe('selector sources that stop matching, through the real reconcile handler', () => {
  it('reports the Secret of an untagged secret as orphaned (retain) and deletes it under delete', async () => {
    // Prepare: two tag selectors of this run, one retain, one delete; our Secrets may be listed there.
    const cluster = clusters[0] as string;
    const keep = (await helpers.freshNamespace([cluster], { prefix: 'rel-ord' })).name;
    const drop = (await helpers.freshNamespace([cluster], { prefix: 'rel-ord' })).name;
    await applyListRole(cluster);
    await bindListRole(cluster, keep);
    await bindListRole(cluster, drop);
    const tag = `ord-${run}`;
    const kept = await helpers.createSecret(`rel/ord-kept-${run}`, value('ord-kept'));
    const dropped = await helpers.createSecret(`rel/ord-dropped-${run}`, value('ord-dropped'));
    const sm = helpers.secretsManager();
    await sm.send(new TagResourceCommand({ SecretId: kept.arn, Tags: [{ Key: tag, Value: 'retain' }] }));
    await sm.send(new TagResourceCommand({ SecretId: dropped.arn, Tags: [{ Key: tag, Value: 'delete' }] }));
    const reconcile = await helpers.loadFunction(
      'reconcile',
      `clusters:\n${helpers.kubeconfigClusters([cluster])}\nsyncs:\n  - source: { tags: { ${tag}: retain } }\n    targets: [{ clusters: [${cluster}], namespaces: [${keep}] }]\n  - source: { tags: { ${tag}: delete } }\n    deletionPolicy: delete\n    targets: [{ clusters: [${cluster}], namespaces: [${drop}] }]\n`,
    );
    const created = await call(reconcile, {});
    expect(created.error).toBeUndefined();
    expect(created.report.results.map((r) => r.action)).toEqual(['created', 'created']);
    const keptName = `rel-ord-kept-${run}`;
    const droppedName = `rel-ord-dropped-${run}`;

    // Act: both lose their tag.
    await sm.send(new UntagResourceCommand({ SecretId: kept.arn, TagKeys: [tag] }));
    await sm.send(new UntagResourceCommand({ SecretId: dropped.arn, TagKeys: [tag] }));
    const logStart = output.text().length;
    const orphaned = await call(reconcile, {});
    const metrics = output
      .text()
      .slice(logStart)
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const again = await call(reconcile, {});

    // Assess
    expect(orphaned.error).toBeUndefined();
    expect(orphaned.report.results.map((r) => [r.namespace, r.secret, r.action])).toEqual(
      [
        [keep, keptName, 'orphaned'],
        [drop, droppedName, 'deleted'],
      ].sort((x, y) => `${x[0]}/${x[1]}`.localeCompare(`${y[0]}/${y[1]}`)),
    );
    const keptResult = orphaned.report.results.find((r) => r.secret === keptName);
    expect(keptResult?.notes).toEqual([
      `source secret "${kept.name}" no longer matches the selector; Secret kept (deletionPolicy retain)`,
    ]);
    expect(orphaned.report.summary).toMatchObject({ orphaned: 1, deleted: 1, failed: 0 });
    expect(metrics).toEqual([expect.objectContaining({ Orphaned: 1, Deleted: 1, Failed: 0 })]);
    expect(await helpers.findSecret(cluster, keep, keptName)).toBeDefined();
    expect(await helpers.findSecret(cluster, drop, droppedName)).toBeUndefined();
    expect(again.report.results.map((r) => [r.secret, r.action])).toEqual([[keptName, 'orphaned']]);
    // Both namespaces were looked at, the emptied one too.
    expect([...created.report.notes, ...orphaned.report.notes, ...again.report.notes]).toEqual([]);
  });
});

describe('listing our Secrets for the orphan check', () => {
  it('lists only Secrets with our label, metadata without data, and an empty namespace as empty', async () => {
    // Prepare
    const cluster = clusters[0] as string;
    const namespace = (await helpers.freshNamespace([cluster], { prefix: 'rel-ord' })).name;
    await applyListRole(cluster);
    await bindListRole(cluster, namespace);
    const api = await createClusterConnector({
      [cluster]: { kubeconfig: { path: helpers.stack().syncKubeconfig, context: cluster } },
    }).connect(cluster);
    const empty = await api.listManagedSecrets(namespace);
    const data = { password: Buffer.from(value('ord-list').password).toString('base64') };
    const { core } = helpers.adminApis(cluster);
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: {
          name: 'ours',
          labels: { 'app.kubernetes.io/managed-by': 'eks-secret-sync' },
          annotations: { 'eks-secret-sync.io/source': 'x' },
        },
        data,
      },
    });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'theirs' }, data } });

    // Act
    const listed = await api.listManagedSecrets(namespace);

    // Assess
    expect(empty).toEqual([]);
    expect(listed).toEqual([
      expect.objectContaining({ namespace, name: 'ours', annotations: { 'eks-secret-sync.io/source': 'x' } }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(data.password);
  });
});

describe('a restart: false backfill', () => {
  it('defers the restarts to the next reconcile, which restarts a consumer without our annotation once', async () => {
    // Prepare: a consumer deployed before the Secret exists (it never carried our annotation).
    const { cluster, namespace, config } = await consumedSecret('ord-defer', 'ord-defer');
    await expectReplicaSets(cluster, namespace, 1);
    const backfill = await helpers.loadFunction('backfill', config);
    const reconcile = await helpers.loadFunction('reconcile', config);

    // Act
    const filled = await call(backfill, { restart: false });
    await expectReplicaSets(cluster, namespace, 1);
    const first = await call(reconcile, {});
    const second = await call(reconcile, {});

    // Assess
    expect(filled.report.results.map((r) => [r.action, r.restarted.length])).toEqual([['created', 0]]);
    expect(first.report.results[0]).toMatchObject({
      action: 'unchanged',
      restarted: [{ kind: 'Deployment', name: 'web' }],
    });
    expect(second.report.results[0]).toMatchObject({ action: 'unchanged', restarted: [] });
    expect((await helpers.findSecret(cluster, namespace, 'ord-defer'))?.metadata?.annotations).not.toHaveProperty(
      RESTART_PENDING_ANNOTATION,
    );
    await expectReplicaSets(cluster, namespace, 2);
  });
});

describe('leakage', () => {
  it('no seeded value appears in any log line, metric, report or error of this file', () => {
    expect(guard.hits(output.text())).toEqual([]);
  });
});
