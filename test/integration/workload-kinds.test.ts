/**
 * Argo Rollouts, CronJobs and Reloader's annotations on the real stack, as the least-privilege identity: the Rollout
 * CRD is installed (scripts/stack/crds) with no controller, so a restart shows as `spec.restartAt` and nothing else.
 */
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { BatchV1Api, CustomObjectsApi, type V1Deployment } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.js';
import { consumerHashAnnotation, RESTARTED_AT_ANNOTATION } from '../../lib/domain/names.js';
import type { SyncReport } from '../../lib/sync/types.js';
import { createEngine } from '../../lib/wiring/index.js';
import {
  adminApis,
  adminKubeConfig,
  freshNamespace,
  secretsManager,
  stack,
  syncKubeConfigPath,
} from '../support/stack.js';
import { cronJob, deployment, ROLLOUTS, rollout } from '../support/workloads.js';

const run = Date.now().toString(36);
const SECRET = 'app-db';
let cluster: string;

/** A source secret, and an engine syncing it into `namespace` as `app-db` (with these target settings). */
async function syncOf(name: string, namespace: string, target = '', annotations = '{}') {
  const id = `it/kinds-${name}-${run}`;
  await secretsManager().send(
    new CreateSecretCommand({ Name: id, SecretString: JSON.stringify({ password: `pw-${name}-${run}-Kd42` }) }),
  );
  const config = parseConfig(`
clusters:
  ${cluster}: { kubeconfig: { path: ${syncKubeConfigPath()}, context: ${cluster} } }
defaults: { rollout: { waitMs: 0 } }
syncs:
  - source: { secret: ${id} }
    targets: [{ clusters: [${cluster}], namespaces: [${namespace}], secret: ${SECRET}, annotations: ${annotations} ${target} }]
`);
  const engine = createEngine({ config });
  return {
    sync: (): Promise<SyncReport> => engine.run({ trigger: 'backfill', secrets: [id], dryRun: false, restart: true }),
    rotate: (value: string) => secretsManager().send(new PutSecretValueCommand({ SecretId: id, SecretString: value })),
  };
}

async function readRollout(namespace: string, name: string) {
  const custom = adminKubeConfig(cluster).makeApiClient(CustomObjectsApi);
  return (await custom.getNamespacedCustomObject({ ...ROLLOUTS, namespace, name })) as {
    metadata: { annotations?: Record<string, string>; generation?: number };
    spec: { restartAt?: string; template: { metadata?: { annotations?: Record<string, string> } } };
  };
}

describe('workload kinds on the stack', () => {
  beforeAll(() => {
    cluster = stack().clusters[0] as string;
  });

  it('restarts a Rollout by spec.restartAt once per change, leaving its pod template alone', async () => {
    // Prepare
    const ns = await freshNamespace([cluster], { rollouts: true });
    const custom = adminKubeConfig(cluster).makeApiClient(CustomObjectsApi);
    const { sync, rotate } = await syncOf('rollout', ns.name);
    // The Secret first, then a Rollout reading it (deployed after the content was written: not restarted for it).
    await sync();
    await custom.createNamespacedCustomObject({ ...ROLLOUTS, namespace: ns.name, body: rollout('canary', SECRET) });
    const first = await readRollout(ns.name, 'canary');

    // Act: one change, delivered twice.
    await rotate(JSON.stringify({ password: `pw-rollout-2-${run}-Kd43` }));
    const changed = await sync();
    const afterChange = await readRollout(ns.name, 'canary');
    const duplicate = await sync();
    const afterDuplicate = await readRollout(ns.name, 'canary');

    // Assess
    expect(changed.results[0]).toMatchObject({
      action: 'updated',
      restarted: [{ kind: 'Rollout', name: 'canary', rollout: 'progressing' }],
    });
    expect(duplicate.results[0]).toMatchObject({ action: 'unchanged', restarted: [] });
    expect(first.spec.restartAt).toBeUndefined();
    expect(afterChange.spec.restartAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(afterDuplicate.spec.restartAt).toBe(afterChange.spec.restartAt);
    expect(afterDuplicate.metadata.generation).toBe(afterChange.metadata.generation);
    expect(afterChange.metadata.annotations?.[consumerHashAnnotation(SECRET)]).toBe(changed.results[0]?.hash);
    expect(afterChange.spec.template.metadata?.annotations ?? {}).toEqual({});
    expect(changed.summary.failed).toBe(0);
  });

  it('skips Rollouts without failing where their role is not bound', async () => {
    // Prepare
    const ns = await freshNamespace([cluster]);
    const custom = adminKubeConfig(cluster).makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({ ...ROLLOUTS, namespace: ns.name, body: rollout('canary', SECRET) });
    await adminApis(cluster).apps.createNamespacedDeployment({
      namespace: ns.name,
      body: deployment('web', SECRET, 'envFrom'),
    });
    const { sync } = await syncOf('unbound', ns.name);

    // Act
    const report = await sync();

    // Assess
    expect(report.results[0]).toMatchObject({ action: 'created', restarted: [{ kind: 'Deployment', name: 'web' }] });
    expect((await readRollout(ns.name, 'canary')).spec.restartAt).toBeUndefined();
  });

  it("updates a CronJob's job template for the next run and restarts nothing", async () => {
    // Prepare
    const ns = await freshNamespace([cluster]);
    const batch = adminKubeConfig(cluster).makeApiClient(BatchV1Api);
    await batch.createNamespacedCronJob({ namespace: ns.name, body: cronJob('backup', SECRET) });
    const { sync } = await syncOf('cronjob', ns.name);

    // Act
    const report = await sync();
    const again = await sync();

    // Assess
    const job = await batch.readNamespacedCronJob({ namespace: ns.name, name: 'backup' });
    const annotations = job.spec?.jobTemplate.spec?.template.metadata?.annotations ?? {};
    expect(report.results[0]).toMatchObject({
      action: 'created',
      restarted: [],
      nextRun: [{ kind: 'CronJob', name: 'backup' }],
    });
    expect(report.summary.restarts).toBe(0);
    expect(annotations[consumerHashAnnotation(SECRET)]).toBe(report.results[0]?.hash);
    expect(annotations).not.toHaveProperty(RESTARTED_AT_ANNOTATION);
    expect((await batch.listNamespacedJob({ namespace: ns.name })).items).toEqual([]);
    expect(again.results[0]?.nextRun).toBeUndefined();
  });

  it("honours Reloader's annotations as documented, and restart: annotated restarts only workloads that ask", async () => {
    // Prepare: in two namespaces (one Secret each), one workload per annotation, and one that asks for nothing.
    const [plainNs, matchNs] = [await freshNamespace([cluster]), await freshNamespace([cluster])];
    const { apps } = adminApis(cluster);
    const annotated = (name: string, annotations: Record<string, string>, secret = SECRET): V1Deployment => {
      const d = deployment(name, secret, 'envFrom');
      return { ...d, metadata: { ...d.metadata, annotations } };
    };
    for (const ns of [plainNs, matchNs]) {
      const bodies = [
        annotated('auto', { 'reloader.stakater.com/auto': 'true' }),
        annotated('secret-auto', { 'secret.reloader.stakater.com/auto': 'true' }),
        annotated('named', { 'secret.reloader.stakater.com/reload': 'other, app-.*' }, 'unrelated'),
        annotated('search', { 'reloader.stakater.com/search': 'true' }),
        annotated('opted-out', { 'reloader.stakater.com/auto': 'false' }),
        deployment('plain', SECRET, 'envFrom'),
      ];
      for (const body of bodies) await apps.createNamespacedDeployment({ namespace: ns.name, body });
    }
    const optIn = await syncOf('annotated', plainNs.name, ', restart: annotated');
    const match = '{ reloader.stakater.com/match: "true" }';
    const matched = await syncOf('matched', matchNs.name, ', restart: annotated', match);

    // Act
    const names = async (s: { sync: () => Promise<SyncReport> }) =>
      ((await s.sync()).results[0]?.restarted ?? []).map((w) => w.name).sort();
    const withoutMatch = await names(optIn);
    const withMatch = await names(matched);

    // Assess: search restarts only for a Secret that says match; the plain and opted-out ones never, under annotated.
    expect(withoutMatch).toEqual(['auto', 'named', 'secret-auto']);
    expect(withMatch).toEqual(['auto', 'named', 'search', 'secret-auto']);
  });

  it('restarts nothing for a Secret that says reloader.stakater.com/ignore, and every consumer under auto otherwise', async () => {
    // Prepare
    const [ignoredNs, autoNs] = [await freshNamespace([cluster]), await freshNamespace([cluster])];
    const { apps } = adminApis(cluster);
    for (const ns of [ignoredNs, autoNs]) {
      const out = deployment('opted-out', SECRET, 'envFrom');
      out.metadata = { ...out.metadata, annotations: { 'reloader.stakater.com/auto': 'false' } };
      await apps.createNamespacedDeployment({ namespace: ns.name, body: deployment('plain', SECRET, 'envFrom') });
      await apps.createNamespacedDeployment({ namespace: ns.name, body: out });
    }
    const ignored = await syncOf('ignored', ignoredNs.name, '', '{ reloader.stakater.com/ignore: "true" }');
    const auto = await syncOf('auto', autoNs.name);

    // Act
    const ignoredReport = await ignored.sync();
    const autoReport = await auto.sync();

    // Assess
    expect(ignoredReport.results[0]).toMatchObject({ action: 'created', restarted: [] });
    expect(autoReport.results[0]?.restarted).toEqual([{ kind: 'Deployment', name: 'plain', rollout: 'progressing' }]);
  });
});
