/**
 * What a person sees in the cluster after a sync, on the local stack as the least-privilege sync identity (its
 * events grant from deploy/rbac.yaml included): the Events on the Secret and on each restarted workload, the
 * Secret's synced-at and fingerprint annotations, and the change cause in `kubectl rollout history`.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { EventsV1Api, type EventsV1Event } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { createConfiguredConnector } from '../../lib/clusters/connector.js';
import { parseConfig } from '../../lib/config/index.js';
import {
  CHANGE_CAUSE_ANNOTATION,
  consumerHashAnnotation,
  FINGERPRINT_ANNOTATION,
  HASH_ANNOTATION,
  SYNCED_AT_ANNOTATION,
} from '../../lib/domain/names.js';
import type { SyncRequest } from '../../lib/domain/request.js';
import { createSecretsManagerSource } from '../../lib/source/secrets-manager.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import { expectNoSecretValueIn } from '../support/assertions.js';
import { clustersYaml } from '../support/handlers.js';
import {
  adminApis,
  adminKubeConfig,
  freshNamespace,
  replicaSetsOf,
  secretsManager,
  stack,
  waitFor,
} from '../support/stack.js';
import { deployment, statefulSet } from '../support/workloads.js';

const run = Date.now().toString(36);
const secretId = `it/visible-${run}`;
const k8sName = 'app-db';
const values = { first: `first-${run}-Vq27`, second: `second-${run}-Kd58`, user: `user-${run}-Pz11` };

let cluster: string;
let namespace: string;
let engine: SyncEngine;
let arn: string;

function kubectl(...args: string[]): string {
  const info = stack();
  return execFileSync(
    join(info.kubectlDir, 'kubectl'),
    ['--kubeconfig', info.kubeconfig, '--context', cluster, ...args],
    {
      encoding: 'utf8',
    },
  );
}

/** Our Events in the namespace (events.k8s.io/v1), about one object. */
async function eventsAbout(kind: string, name: string): Promise<EventsV1Event[]> {
  const events = adminKubeConfig(cluster).makeApiClient(EventsV1Api);
  const list = await events.listNamespacedEvent({ namespace });
  return list.items.filter(
    (e) => e.reportingController === 'eks-secret-sync' && e.regarding?.kind === kind && e.regarding.name === name,
  );
}

function request(overrides: Partial<SyncRequest> = {}): SyncRequest {
  return { trigger: 'backfill', dryRun: false, restart: true, secrets: [secretId], ...overrides };
}

function secretValue(password: string): string {
  return JSON.stringify({ username: values.user, password });
}

describe('what the sync leaves in the cluster', () => {
  beforeAll(async () => {
    cluster = stack().clusters[0] as string;
    namespace = (await freshNamespace([cluster], { prefix: 'it-vis' })).name;
    arn = (
      await secretsManager().send(new CreateSecretCommand({ Name: secretId, SecretString: secretValue(values.first) }))
    ).ARN as string;
    const { apps } = adminApis(cluster);
    await apps.createNamespacedDeployment({ namespace, body: deployment('web', k8sName, 'env') });
    await apps.createNamespacedStatefulSet({ namespace, body: statefulSet('db', k8sName, 'volume') });
    // The Deployment controller's first revision annotation: the restart then adds its change cause to a map that exists.
    await waitFor(
      async () => ((await replicaSetsOf(cluster, namespace, 'web')).length === 1 ? true : undefined),
      20_000,
    );

    const config = parseConfig(`${clustersYaml([cluster])}syncs:
  - source: { secret: ${secretId} }
    targets:
      - clusters: [${cluster}]
        namespaces: [${namespace}]
        secret: ${k8sName}
  - source: { secret: ${secretId} }
    targets:
      - clusters: [${cluster}]
        namespaces: [${namespace}]
        secret: not-ours
`);
    const { timeouts } = config.defaults;
    engine = new SyncEngine({
      config,
      source: createSecretsManagerSource(secretsManager()),
      clusters: createConfiguredConnector(config.clusters, timeouts),
      reportingInstance: 'it-visibility',
    });
    // A Secret of the same name that is not ours: every pass refuses it (NotManaged).
    await adminApis(cluster).core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'not-ours' }, stringData: { token: 'theirs' } },
    });
  });

  it('creates the Secret with synced-at and the fingerprint its consumers carry, and records Synced', async () => {
    // Act
    const report = await engine.run(request());

    // Assess
    const ours = report.results.find((r) => r.secret === k8sName);
    expect(ours?.action).toBe('created');
    const secret = await adminApis(cluster).core.readNamespacedSecret({ namespace, name: k8sName });
    const annotations = secret.metadata?.annotations ?? {};
    expect(Date.parse(annotations[SYNCED_AT_ANNOTATION] ?? '')).not.toBeNaN();
    expect(annotations[HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
    const web = await adminApis(cluster).apps.readNamespacedDeployment({ namespace, name: 'web' });
    const carried = web.spec?.template.metadata?.annotations?.[consumerHashAnnotation(k8sName)];
    expect(annotations[FINGERPRINT_ANNOTATION]).toBe(carried);
    expect(annotations[FINGERPRINT_ANNOTATION]).toBe(ours?.hash);

    const [synced, ...more] = await eventsAbout('Secret', k8sName);
    expect(more).toEqual([]);
    expect(synced).toMatchObject({
      type: 'Normal',
      reason: 'Synced',
      action: 'Sync',
      reportingInstance: 'it-visibility',
      regarding: { kind: 'Secret', name: k8sName, namespace, uid: secret.metadata?.uid },
    });
    expect(synced?.note).toContain(`from ${arn} version `);
    expect(synced?.note).toContain('changed keys: password, username');
  });

  it('on a rotation records Synced and Restarted, sets the change cause, and holds no value anywhere', async () => {
    // Prepare
    const put = await secretsManager().send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: secretValue(values.second) }),
    );
    const version = put.VersionId as string;
    const before = (await adminApis(cluster).core.readNamespacedSecret({ namespace, name: k8sName })).metadata
      ?.annotations?.[SYNCED_AT_ANNOTATION];

    // Act
    const report = await engine.run(request({ trigger: 'rotation', versionId: version }));

    // Assess: the Secret
    expect(report.results.find((r) => r.secret === k8sName)).toMatchObject({ action: 'updated' });
    const secret = await adminApis(cluster).core.readNamespacedSecret({ namespace, name: k8sName });
    expect(secret.metadata?.annotations?.[SYNCED_AT_ANNOTATION]).not.toBe(before);
    const synced = (await eventsAbout('Secret', k8sName)).find((e) => e.note?.includes(version));
    expect(synced?.note).toBe(`Updated from ${arn} version ${version}; changed keys: password`);
    // `kubectl describe secret` lists no Events (its describer has none): it shows the annotations; Events are read
    // with `kubectl events --for` (or `kubectl get events --field-selector`).
    const described = kubectl('describe', 'secret', k8sName, '-n', namespace);
    expect(described).toContain(`${FINGERPRINT_ANNOTATION}: ${secret.metadata?.annotations?.[FINGERPRINT_ANNOTATION]}`);
    expect(described).toContain(`${SYNCED_AT_ANNOTATION}: `);
    const listed = kubectl('events', '-n', namespace, '--for', `secret/${k8sName}`);
    expect(listed).toMatch(new RegExp(`Normal\\s+Synced\\s+Secret/${k8sName}\\s+Updated from .* version ${version}`));

    // Assess: the workloads, their Events and change cause
    const cause = `eks-secret-sync: Secret ${namespace}/${k8sName} version ${version}`;
    for (const [kind, name] of [
      ['Deployment', 'web'],
      ['StatefulSet', 'db'],
    ] as const) {
      const [restarted] = (await eventsAbout(kind, name)).filter((e) => e.note?.includes(version));
      expect(restarted).toMatchObject({ type: 'Normal', reason: 'Restarted', action: 'Restart' });
      expect(restarted?.regarding?.uid).toMatch(/.+/);
      expect(restarted?.note).toBe(`Rolling restart for Secret ${namespace}/${k8sName} version ${version}`);
    }
    const web = await adminApis(cluster).apps.readNamespacedDeployment({ namespace, name: 'web' });
    expect(web.metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe(cause);
    expect(web.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBeDefined();
    const db = await adminApis(cluster).apps.readNamespacedStatefulSet({ namespace, name: 'db' });
    expect(db.metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe(cause);
    // The controller copies the cause to the ReplicaSet of the new revision: `kubectl rollout history` reads it there.
    const history = await waitFor(async () => {
      const text = kubectl('rollout', 'history', 'deployment/web', '-n', namespace);
      return text.includes(cause) ? text : undefined;
    }, 20_000);
    expect(history).toMatch(new RegExp(`\\n\\d+\\s+${cause.replace(/[/.]/g, '\\$&')}`));
    expect(kubectl('describe', 'deployment', 'web', '-n', namespace)).toMatch(/Normal\s+Restarted\s+/);

    // Assess: no value in any Event, description or history
    const all = await adminKubeConfig(cluster).makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
    expectNoSecretValueIn(
      [all.items, described, listed, history, kubectl('get', 'events', '-n', namespace)],
      values.first,
      values.second,
      values.user,
    );
  });

  it('counts a repeated failure into one Event series, and records nothing for passes that change nothing', async () => {
    // Prepare: the first pass already refused not-ours once (backfill), the rotation a second time.
    const ours = (await eventsAbout('Secret', k8sName)).map((e) => [e.metadata?.name, e.series?.count]);
    const secret = await adminApis(cluster).core.readNamespacedSecret({ namespace, name: k8sName });

    // Act: a reconcile that finds our Secret and its consumers current, and refuses not-ours again.
    const report = await engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(report.results.find((r) => r.secret === k8sName)?.action).toBe('unchanged');
    expect(report.results.find((r) => r.secret === 'not-ours')?.error?.code).toBe('NotManaged');
    const failed = await eventsAbout('Secret', 'not-ours');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ type: 'Warning', reason: 'SyncFailed', series: { count: 3 } });
    expect(failed[0]?.note).toMatch(/^NotManaged: Secret .*\/not-ours in cluster ".*" exists and is not managed/);
    expect(kubectl('events', '-n', namespace, '--for', 'secret/not-ours')).toMatch(
      /\(x3 over .*\)\s+Warning\s+SyncFailed\s+Secret\/not-ours\s+NotManaged: /,
    );
    expect((await eventsAbout('Secret', k8sName)).map((e) => [e.metadata?.name, e.series?.count])).toEqual(ours);
    const after = await adminApis(cluster).core.readNamespacedSecret({ namespace, name: k8sName });
    expect(after.metadata?.resourceVersion).toBe(secret.metadata?.resourceVersion);
  });
});
