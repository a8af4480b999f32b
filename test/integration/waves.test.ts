/**
 * Health-gated waves end to end: rotations through the real on-rotation and reconcile handlers, as the
 * least-privilege identity, over three clusters of the local stack whose pods really run (kwok), one wave each.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { EventsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../lib/cli/run.js';
import { labelUpdatedEvent } from '../../scripts/label-event.js';
import { capturedIO } from '../support/cli.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import { QueueDriver } from '../support/sqs-driver.js';
import {
  adminApis,
  adminKubeConfig,
  decode,
  type FreshNamespace,
  failLabel,
  findSecret,
  freshNamespace,
  rolledOut,
  secretsManager,
  stack,
  syncKubeConfigPath,
  waitFor,
} from '../support/stack.js';
import { deployment } from '../support/workloads.js';

type Handler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

interface Report {
  results: Array<{
    cluster: string;
    action: string;
    restarted: Array<{ kind: string; name: string; rollout?: string }>;
    rolledBack?: { from: string; to: string; restarted: Array<{ kind: string; name: string; rollout?: string }> };
    notes?: string[];
  }>;
  waves?: Array<{ state: string; wave: number }>;
  summary: { failed: number; restarts: number; rolledOut: number; skipped: number };
  notes: string[];
}

const run = Date.now().toString(36);
const K8S_NAME = 'app-db';
const VERSION = 'eks-secret-sync.io/version-id';
const HOLD = 'eks-secret-sync.io/hold';
const output = recordOutput();
const namespaces: FreshNamespace[] = [];
let clusters: string[];

/** A secret in the emulator, the on-rotation and reconcile handlers syncing it in three waves, and its rotations. */
async function world(
  name: string,
  namespace: string,
  options: { queueUrl?: string; waitMs?: number; onFailure?: 'halt' | 'rollback' } = {},
) {
  const id = `it/waves-${name}-${run}`;
  const created = await secretsManager().send(
    new CreateSecretCommand({ Name: id, SecretString: JSON.stringify({ password: `pw1-${name}-${run}` }) }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'eks-sync-waves-'));
  const path = join(dir, 'eks-secret-sync.yaml');
  writeFileSync(
    path,
    `
clusters:
${clusters.map((c) => `  ${c}: { kubeconfig: { path: ${syncKubeConfigPath()}, context: ${c} } }`).join('\n')}
defaults: { rollout: { waitMs: ${options.waitMs ?? 45000}, readyTimeoutMs: 8000 } }
syncs:
  - source: { secret: ${id} }
    targets: [{ clusters: [${clusters.join(', ')}], namespaces: [${namespace}], secret: ${K8S_NAME} }]
    rollout: { waves: [${clusters.map((c) => `[${c}]`).join(', ')}], healthTimeout: 5m, checkEvery: 1s, onFailure: ${options.onFailure ?? 'halt'} }
`,
  );
  process.env.EKS_SYNC_CONFIG = path;
  if (options.queueUrl === undefined) delete process.env.EKS_SYNC_CONTINUATION_QUEUE_URL;
  else process.env.EKS_SYNC_CONTINUATION_QUEUE_URL = options.queueUrl;
  vi.resetModules();
  const onRotation = (await import('../../functions/on-rotation.js')).handler as unknown as Handler;
  const reconcile = (await import('../../functions/reconcile.js')).handler as unknown as Handler;
  const continueWaves = (await import('../../functions/continue-waves.js')).handler as unknown as Handler;
  const secret = { name: id, arn: created.ARN as string };
  return {
    id,
    path,
    version: created.VersionId as string,
    deliver: async (versionId: string) =>
      (await onRotation(labelUpdatedEvent(secret, versionId), lambdaContext('onRotation'))) as Report,
    reconcile: async () => (await reconcile({}, lambdaContext('reconcile'))) as Report,
    continueWaves,
    rotate: async (value: string) => {
      const put = await secretsManager().send(
        new PutSecretValueCommand({ SecretId: id, SecretString: JSON.stringify({ password: value }) }),
      );
      return put.VersionId as string;
    },
  };
}

/** A running, Ready consumer `web` of the Secret in every cluster. */
async function consumers(namespace: string): Promise<void> {
  for (const cluster of clusters) {
    const { apps } = adminApis(cluster);
    await apps.createNamespacedDeployment({ namespace, body: deployment('web', K8S_NAME, 'envFrom') });
  }
  for (const cluster of clusters) {
    const { apps } = adminApis(cluster);
    await waitFor(async () => rolledOut(await apps.readNamespacedDeployment({ namespace, name: 'web' })), 30_000);
  }
}

async function generation(cluster: string, namespace: string): Promise<number | undefined> {
  return (await adminApis(cluster).apps.readNamespacedDeployment({ namespace, name: 'web' })).metadata?.generation;
}

/** Puts the fail label on `web`'s pod template (its new pods never become Ready), or takes it off. */
async function breakPods(cluster: string, namespace: string, broken: boolean): Promise<void> {
  const { apps } = adminApis(cluster);
  const web = await apps.readNamespacedDeployment({ namespace, name: 'web' });
  const labels = web.spec?.template.metadata?.labels ?? {};
  if (broken) labels[failLabel()] = 'never-ready';
  else delete labels[failLabel()];
  await apps.replaceNamespacedDeployment({ namespace, name: 'web', body: web });
}

function of(report: Report, cluster: string) {
  return report.results.find((r) => r.cluster === cluster);
}

describe('health-gated waves on the local stack', () => {
  beforeAll(() => {
    clusters = stack().clusters.slice(0, 3);
    expect(clusters).toHaveLength(3);
  });

  afterAll(async () => {
    delete process.env.EKS_SYNC_CONTINUATION_QUEUE_URL;
    output.stop();
    await Promise.all(namespaces.map((ns) => ns.cleanup()));
  });

  it('completes three waves in order, each consumer restarted once and rolledOut; a duplicate changes nothing', async () => {
    // Prepare
    const ns = await freshNamespace(clusters, { prefix: 'waves-ok' });
    namespaces.push(ns);
    await consumers(ns.name);
    const w = await world('ok', ns.name);

    // Act
    const report = await w.deliver(w.version);
    const duplicate = await w.deliver(w.version);

    // Assess
    for (const cluster of clusters) {
      expect(of(report, cluster)).toMatchObject({
        action: 'created',
        restarted: [{ kind: 'Deployment', name: 'web', rollout: 'rolledOut' }],
      });
      expect(of(duplicate, cluster)).toMatchObject({ action: 'unchanged', restarted: [] });
      expect(await generation(cluster, ns.name)).toBe(2);
    }
    expect(report.summary).toMatchObject({ failed: 0, restarts: 3, rolledOut: 3, skipped: 0 });
    // In order: each wave's Secret was written after the previous wave's consumers rolled out.
    const written = await Promise.all(
      clusters.map(
        async (c) => (await findSecret(c, ns.name, K8S_NAME))?.metadata?.annotations?.['eks-secret-sync.io/synced-at'],
      ),
    );
    expect([...written].sort()).toEqual(written);
    expect(new Set(written).size).toBe(3);
  });

  it('continues three waves through the continuation queue: in order, each consumer restarted once and rolledOut', async () => {
    // Prepare
    const ns = await freshNamespace(clusters, { prefix: 'waves-cont' });
    namespaces.push(ns);
    await consumers(ns.name);
    const queue = await QueueDriver.createQueue(`it-waves-${run}`);
    const w = await world('cont', ns.name, { queueUrl: queue.queueUrl, waitMs: 30000 });
    const driver = new QueueDriver(queue, w.continueWaves, () => lambdaContext('continueWaves'));
    const from = output.text().length;

    // Act: the rotation writes wave 1 only; the driver runs the continuations the passes send; then a duplicate.
    const report = await w.deliver(w.version);
    await driver.drain(120_000);
    const duplicate = await w.deliver(w.version);
    const sentByDuplicate = await driver.pending();

    // Assess
    const [wave1, ...later] = clusters as [string, ...string[]];
    expect(of(report, wave1)).toMatchObject({
      action: 'created',
      restarted: [{ kind: 'Deployment', name: 'web', rollout: 'rolledOut' }],
    });
    for (const cluster of later) {
      expect(of(report, cluster)?.notes?.[0]).toMatch(/waits: wave 1 is done; wave 2 continues in a new pass$/);
    }
    for (const cluster of clusters)
      expect(of(duplicate, cluster)).toMatchObject({ action: 'unchanged', restarted: [] });
    expect(sentByDuplicate).toBe(0);
    expect(driver.invocations.length).toBeGreaterThanOrEqual(2);
    expect(driver.invocations.flatMap((i) => i.failed)).toEqual([]);
    // One rollout per consumer, in wave order, each rolled out: wave 1 by onRotation, waves 2 and 3 by continueWaves.
    const rollouts = output
      .text()
      .slice(from)
      .split('\n')
      .filter((l) => l.includes('"message":"rollout '))
      .map((l) => JSON.parse(l) as { message: string; cluster: string; function_name: string; namespace: string })
      .filter((l) => l.namespace === ns.name);
    expect(rollouts.map((l) => [l.cluster, l.message, l.function_name])).toEqual([
      [wave1, 'rollout rolledOut', 'onRotation'],
      ...later.map((c) => [c, 'rollout rolledOut', 'continueWaves']),
    ]);
    for (const cluster of clusters) expect(await generation(cluster, ns.name)).toBe(2);
    const written = await Promise.all(
      clusters.map(
        async (c) => (await findSecret(c, ns.name, K8S_NAME))?.metadata?.annotations?.['eks-secret-sync.io/synced-at'],
      ),
    );
    expect([...written].sort()).toEqual(written);
    expect(output.text().slice(from)).not.toContain(`pw1-cont-${run}`);
  });

  it('halts after wave 1 when its new pods never become Ready; a duplicate and a reconcile change nothing', async () => {
    // Prepare: version 1 everywhere, then wave 1's consumer gets a template whose new pods never become Ready.
    const ns = await freshNamespace(clusters, { prefix: 'waves-bad' });
    namespaces.push(ns);
    await consumers(ns.name);
    const w = await world('bad', ns.name);
    const first = await w.deliver(w.version);
    expect(first.summary).toMatchObject({ failed: 0, rolledOut: 3 });
    const [wave1, ...later] = clusters as [string, ...string[]];
    const { apps } = adminApis(wave1);
    const web = await apps.readNamespacedDeployment({ namespace: ns.name, name: 'web' });
    const labels = web.spec?.template.metadata?.labels ?? {};
    labels[failLabel()] = 'never-ready';
    await apps.replaceNamespacedDeployment({ namespace: ns.name, name: 'web', body: web });
    const value = `pw2-bad-${run}`;
    const second = await w.rotate(value);
    const before = await Promise.all(later.map((c) => generation(c, ns.name)));

    // Act
    const report = await w.deliver(second);
    const duplicate = await w.deliver(second);
    const reconciled = await w.reconcile();

    // Assess: wave 1 written and its rollout failed; waves 2-3 untouched, gated in every pass.
    expect(of(report, wave1)).toMatchObject({ action: 'updated', restarted: [{ rollout: 'failed' }] });
    // The version is held (halt): the duplicate and the reconcile write and restart nothing anywhere.
    for (const r of [duplicate, reconciled]) {
      for (const cluster of clusters) {
        expect(of(r, cluster)).toMatchObject({ action: 'skipped', restarted: [] });
        expect(of(r, cluster)?.notes?.[0]).toMatch(
          new RegExp(`^Held: version ${second} is held since \\S+: wave 1 of 3 failed \\(halted\\): `),
        );
      }
    }
    for (const cluster of later) {
      expect(of(report, cluster)?.action).toBe('skipped');
      expect(of(report, cluster)?.notes?.[0]).toMatch(/^WaitingForWave: wave \d of 3 waits: wave 1 failed: /);
      const secret = await findSecret(cluster, ns.name, K8S_NAME);
      expect(secret?.metadata?.annotations?.[VERSION]).toBe(w.version);
      expect(decode(secret as NonNullable<typeof secret>, 'password')).not.toBe(value);
    }
    expect(await Promise.all(later.map((c) => generation(c, ns.name)))).toEqual(before);
    // One restart for version 2 on top of the template change: the duplicate and the reconcile restarted nothing.
    expect(await generation(wave1, ns.name)).toBe(4);
    // The halt is on wave 1's Secret, naming the bad version; the later waves' Secrets have none.
    const halted = async (cluster: string) =>
      (await adminKubeConfig(cluster).makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns.name })).items
        .filter((e) => e.reason === 'RolloutHalted' && e.regarding?.kind === 'Secret' && e.regarding.name === K8S_NAME)
        .map((e) => ({ type: e.type, note: e.note }));
    expect(await halted(wave1)).toContainEqual({
      type: 'Warning',
      note: expect.stringContaining(`Version ${second} of `),
    });
    for (const cluster of later) expect(await halted(cluster)).toEqual([]);
    expect(JSON.stringify(await halted(wave1))).not.toContain(value);
    expect(report.notes).toContainEqual(expect.stringContaining(`version ${second} of `));
    expect(JSON.stringify([report, duplicate, reconciled])).not.toContain(value);
  });

  it('rolls a failed wave 1 back and holds the version; a reconcile and a duplicate change nothing; release continues', async () => {
    // Prepare: version 1 everywhere; then wave 1's new pods never become Ready, and version 2 is rotated in.
    const ns = await freshNamespace(clusters, { prefix: 'waves-rb' });
    namespaces.push(ns);
    await consumers(ns.name);
    const w = await world('rb', ns.name, { onFailure: 'rollback' });
    const first = await w.deliver(w.version);
    expect(first.summary).toMatchObject({ failed: 0, rolledOut: 3 });
    const [wave1, ...later] = clusters as [string, ...string[]];
    await breakPods(wave1, ns.name, true);
    const value = `pw2-rb-${run}`;
    const second = await w.rotate(value);
    const before = await Promise.all(later.map((c) => generation(c, ns.name)));

    // Act: the rotation fails wave 1 and rolls it back; then a duplicate and a reconcile.
    const report = await w.deliver(second);
    const rolledBack = await findSecret(wave1, ns.name, K8S_NAME);
    const generationAfter = await generation(wave1, ns.name);
    const duplicate = await w.deliver(second);
    const reconciled = await w.reconcile();

    // Assess: wave 1 holds version 1 again and its consumer was restarted for version 2 and back, once each.
    expect(of(report, wave1)).toMatchObject({
      action: 'updated',
      restarted: [{ kind: 'Deployment', name: 'web', rollout: 'failed' }],
      rolledBack: { from: second, to: w.version, restarted: [{ kind: 'Deployment', name: 'web' }] },
    });
    expect(rolledBack?.metadata?.annotations?.[VERSION]).toBe(w.version);
    expect(decode(rolledBack as NonNullable<typeof rolledBack>, 'password')).toBe(`pw1-rb-${run}`);
    expect(JSON.parse(rolledBack?.metadata?.annotations?.[HOLD] ?? '{}')).toMatchObject({
      versionId: second,
      wave: 1,
      of: 3,
      policy: 'rollback',
    });
    // 2: version 1's restart; 3: the fail label; 4: version 2's restart; 5: the restart back.
    expect(generationAfter).toBe(5);
    expect(report.waves).toEqual([expect.objectContaining({ state: 'failed', wave: 1 })]);
    // Held: the duplicate and the reconcile write nothing and restart nothing, anywhere.
    for (const r of [duplicate, reconciled]) {
      expect(r.waves).toEqual([expect.objectContaining({ state: 'held', wave: 1 })]);
      for (const cluster of clusters) {
        expect(of(r, cluster)).toMatchObject({ action: 'skipped', restarted: [] });
        expect(of(r, cluster)?.notes?.[0]).toMatch(new RegExp(`^Held: version ${second} is held since `));
      }
    }
    expect(await generation(wave1, ns.name)).toBe(5);
    expect((await findSecret(wave1, ns.name, K8S_NAME))?.metadata?.resourceVersion).toBe(
      rolledBack?.metadata?.resourceVersion,
    );
    // The later waves were never written with version 2, nor restarted.
    for (const cluster of later) {
      const secret = await findSecret(cluster, ns.name, K8S_NAME);
      expect(secret?.metadata?.annotations?.[VERSION]).toBe(w.version);
    }
    expect(await Promise.all(later.map((c) => generation(c, ns.name)))).toEqual(before);

    // Act: a person fixes the pods, sees the hold in status, releases it; the next pass continues the waves.
    await breakPods(wave1, ns.name, false);
    const { apps } = adminApis(wave1);
    await waitFor(
      async () => rolledOut(await apps.readNamespacedDeployment({ namespace: ns.name, name: 'web' })),
      30_000,
    );
    const status = capturedIO(process.cwd());
    const statusCode = await runCli(['status', '--config', w.path, '--secret', w.id], status.io);
    const release = capturedIO(process.cwd());
    const releaseCode = await runCli(['release', '--config', w.path, '--secret', w.id], release.io);
    const continued = await w.reconcile();

    // Assess
    expect(statusCode).toBe(1);
    expect(status.out.stdout).toMatch(
      new RegExp(`\\nHeld:\\n  version ${second} of ${w.id} held since \\S+: wave 1 of 3 failed \\(rolled back\\): `),
    );
    expect(releaseCode).toBe(0);
    expect(release.out.stdout).toContain(
      `released the hold on version ${second} (wave 1 of 3 failed) on ${wave1}/${ns.name}/${K8S_NAME}`,
    );
    for (const cluster of clusters) {
      expect(of(continued, cluster)).toMatchObject({
        action: 'updated',
        restarted: [{ kind: 'Deployment', name: 'web', rollout: 'rolledOut' }],
      });
      const secret = await findSecret(cluster, ns.name, K8S_NAME);
      expect(secret?.metadata?.annotations?.[VERSION]).toBe(second);
      expect(secret?.metadata?.annotations?.[HOLD]).toBeUndefined();
    }
    expect(continued.waves).toEqual([expect.objectContaining({ state: 'done' })]);
    const all = JSON.stringify([report, duplicate, reconciled, continued]) + status.out.stdout + release.out.stdout;
    expect(all).not.toContain(value);
    expect(output.text()).not.toContain(value);
  });
});
