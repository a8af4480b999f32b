/**
 * Rollout outcomes end to end: a rotation through the real on-rotation handler, as the least-privilege identity, on
 * a cluster whose pods really run (kube-scheduler and kwok on fake nodes), and whose pods fail on request (the stack's
 * fail label). Each test has its own secret and namespace.
 */
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { EventsV1Api, type V1Deployment, type V1StatefulSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelUpdatedEvent } from '../../scripts/label-event.js';
import { clustersYaml, onRotationHandler } from '../support/handlers.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import {
  adminApis,
  adminKubeConfig,
  type FreshNamespace,
  failLabel,
  freshNamespace,
  podsOf,
  rolledOut,
  secretsManager,
  stack,
  waitFor,
} from '../support/stack.js';
import { daemonSet, deployment, statefulSet } from '../support/workloads.js';

interface Report {
  results: Array<{
    action: string;
    restarted: Array<{ kind: string; name: string; rollout?: string }>;
    notes?: string[];
  }>;
  summary: { failed: number; restarts: number; rolledOut: number; progressing: number; rolloutFailed: number };
}

const run = Date.now().toString(36);
const K8S_NAME = 'app-db';
const output = recordOutput();
let cluster: string;
const namespaces: FreshNamespace[] = [];

/** A secret in the emulator, a handler syncing it into `namespace` with these rollout settings, and its event. */
async function rotation(name: string, namespace: string, rollout: string): Promise<() => Promise<Report>> {
  const id = `it/rollout-${name}-${run}`;
  const created = await secretsManager().send(
    new CreateSecretCommand({ Name: id, SecretString: JSON.stringify({ password: `pw-${name}-${run}-Qx71` }) }),
  );
  const handler = await onRotationHandler(`${clustersYaml([cluster])}defaults: { rollout: ${rollout} }
syncs:
  - source: { secret: ${id} }
    targets: [{ clusters: [${cluster}], namespaces: [${namespace}], secret: ${K8S_NAME} }]
`);
  const event = labelUpdatedEvent({ name: id, arn: created.ARN as string }, created.VersionId as string);
  return async () => (await handler(event, lambdaContext('onRotation'))) as Report;
}

/** The reasons of our Events about one workload, with their type and note. */
async function eventsAbout(namespace: string, kind: string, name: string) {
  const list = await adminKubeConfig(cluster).makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
  return list.items
    .filter(
      (e) => e.reportingController === 'eks-secret-sync' && e.regarding?.kind === kind && e.regarding.name === name,
    )
    .map((e) => ({ reason: e.reason, type: e.type, note: e.note, uid: e.regarding?.uid }));
}

function restarts(report: Report): Record<string, string | undefined> {
  const [result] = report.results;
  return Object.fromEntries((result?.restarted ?? []).map((w) => [`${w.kind}/${w.name}`, w.rollout]));
}

/** Pod templates labelled so that kwok never makes their pods Ready (`never-ready`) or crash-loops them. */
function failing<T extends V1Deployment | V1StatefulSet>(workload: T, how: 'never-ready' | 'crash-loop'): T {
  const labels = workload.spec?.template.metadata?.labels;
  if (labels) labels[failLabel()] = how;
  return workload;
}

describe('rollout outcome of a rotation on the local stack', () => {
  beforeAll(() => {
    cluster = stack().clusters[0] as string;
    failLabel();
  });

  afterAll(async () => {
    output.stop();
    await Promise.all(namespaces.map((ns) => ns.cleanup()));
  });

  it('reports every consumer of a healthy rotation rolledOut, its pods replaced by Ready ones', async () => {
    // Prepare: running consumers of each kind, and one scaled to zero.
    const ns = await freshNamespace([cluster], { prefix: 'rollout-ok' });
    namespaces.push(ns);
    const { apps } = adminApis(cluster);
    const web = deployment('web', K8S_NAME, 'env');
    if (web.spec) web.spec.replicas = 2;
    const idle = deployment('idle', K8S_NAME, 'envFrom');
    if (idle.spec) idle.spec.replicas = 0;
    await apps.createNamespacedDeployment({ namespace: ns.name, body: web });
    await apps.createNamespacedDeployment({ namespace: ns.name, body: idle });
    await apps.createNamespacedStatefulSet({ namespace: ns.name, body: statefulSet('db', K8S_NAME, 'volume') });
    await apps.createNamespacedDaemonSet({ namespace: ns.name, body: daemonSet('agent', K8S_NAME, 'envFrom') });
    await waitFor(
      async () => rolledOut(await apps.readNamespacedDeployment({ namespace: ns.name, name: 'web' })),
      30_000,
    );
    await waitFor(async () => {
      const [db, agent] = await Promise.all([
        apps.readNamespacedStatefulSet({ namespace: ns.name, name: 'db' }),
        apps.readNamespacedDaemonSet({ namespace: ns.name, name: 'agent' }),
      ]);
      const nodes = agent.status?.desiredNumberScheduled ?? 0;
      return db.status?.readyReplicas === 1 && nodes > 0 && agent.status?.numberAvailable === nodes;
    }, 30_000);
    const before = (await podsOf(cluster, ns.name, 'web')).map((p) => p.metadata?.name);
    const deliver = await rotation('ok', ns.name, '{ waitMs: 45000, readyTimeoutMs: 20000 }');

    // Act
    const report = await deliver();

    // Assess
    expect(report.results.map((r) => r.action)).toEqual(['created']);
    expect(restarts(report)).toEqual({
      'Deployment/web': 'rolledOut',
      'Deployment/idle': 'rolledOut',
      'StatefulSet/db': 'rolledOut',
      'DaemonSet/agent': 'rolledOut',
    });
    expect(report.summary).toMatchObject({ failed: 0, restarts: 4, rolledOut: 4, progressing: 0, rolloutFailed: 0 });
    // What the report says is what the cluster shows: new pods, all Ready, the old ones gone.
    const now = await apps.readNamespacedDeployment({ namespace: ns.name, name: 'web' });
    expect(now.metadata?.generation).toBe(2);
    expect(rolledOut(now)).toBe(true);
    const pods = await waitFor(async () => {
      const list = await podsOf(cluster, ns.name, 'web');
      return list.length === 2 && list;
    }, 30_000);
    expect(pods.filter((p) => before.includes(p.metadata?.name))).toEqual([]);
    expect(await eventsAbout(ns.name, 'Deployment', 'web')).toContainEqual(
      expect.objectContaining({ reason: 'RolledOut', type: 'Normal', uid: now.metadata?.uid }),
    );
  });

  it('reports a rollout whose new pods never become Ready failed, without failing the binding or the handler', async () => {
    // Prepare: a Deployment with a short progress deadline and a StatefulSet without one, both failing their pods.
    const ns = await freshNamespace([cluster], { prefix: 'rollout-bad' });
    namespaces.push(ns);
    const { apps } = adminApis(cluster);
    const broken = failing(deployment('broken', K8S_NAME, 'env'), 'never-ready');
    if (broken.spec) broken.spec.progressDeadlineSeconds = 2;
    await apps.createNamespacedDeployment({ namespace: ns.name, body: broken });
    await apps.createNamespacedStatefulSet({
      namespace: ns.name,
      body: failing(statefulSet('stuck', K8S_NAME, 'envFrom'), 'crash-loop'),
    });
    const deliver = await rotation('bad', ns.name, '{ waitMs: 45000, readyTimeoutMs: 8000 }');

    // Act: resolves (an EventBridge delivery would throw if a binding had failed).
    const report = await deliver();

    // Assess
    expect(report.results.map((r) => r.action)).toEqual(['created']);
    expect(restarts(report)).toEqual({ 'Deployment/broken': 'failed', 'StatefulSet/stuck': 'failed' });
    expect(report.summary).toMatchObject({ failed: 0, restarts: 2, rolloutFailed: 2, rolledOut: 0 });
    const notes = report.results[0]?.notes ?? [];
    expect(notes).toContainEqual(
      expect.stringMatching(/^Deployment\/broken rollout failed: progress deadline exceeded/),
    );
    expect(notes).toContainEqual(
      expect.stringMatching(/^StatefulSet\/stuck rollout failed: no progress for 8 s \(new pods not Ready\)/),
    );
    const now = await apps.readNamespacedDeployment({ namespace: ns.name, name: 'broken' });
    expect(now.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('ProgressDeadlineExceeded');
    expect(await eventsAbout(ns.name, 'Deployment', 'broken')).toContainEqual(
      expect.objectContaining({
        reason: 'RolloutFailed',
        type: 'Warning',
        note: expect.stringMatching(/^Rollout after the restart failed: progress deadline exceeded/),
      }),
    );
  });

  it('reports a rollout still going when the wait ends progressing', async () => {
    // Prepare
    const ns = await freshNamespace([cluster], { prefix: 'rollout-wait' });
    namespaces.push(ns);
    await adminApis(cluster).apps.createNamespacedDeployment({
      namespace: ns.name,
      body: failing(deployment('slow', K8S_NAME, 'env'), 'never-ready'),
    });
    const deliver = await rotation('wait', ns.name, '{ waitMs: 1500, readyTimeoutMs: 60000 }');

    // Act
    const report = await deliver();

    // Assess
    expect(restarts(report)).toEqual({ 'Deployment/slow': 'progressing' });
    expect(report.results[0]?.notes).toEqual([
      expect.stringMatching(/^Deployment\/slow rollout: still rolling out when the wait ended/),
    ]);
    expect(report.summary).toMatchObject({ failed: 0, progressing: 1 });
    // Still rolling: no verdict to record yet.
    expect((await eventsAbout(ns.name, 'Deployment', 'slow')).map((e) => e.reason)).toEqual(['Restarted']);
    expect(output.text()).not.toContain(`pw-wait-${run}`);
  });
});
