import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterConnector } from '../../lib/clusters/connector.js';
import { createKubeApi } from '../../lib/kube/api.js';
import type { KubeApi, KubeSecretWrite } from '../../lib/sync/ports/kube.js';
import { rejection } from '../support/assertions.js';
import {
  adminApis,
  adminKubeConfig,
  type FreshNamespace,
  freshNamespace,
  stack,
  syncKubeConfigPath,
  waitFor,
} from '../support/stack.js';
import { daemonSet, deployment, statefulSet } from '../support/workloads.js';

const CLUSTER = 'stack-1';
const VALUE = 'integration-secret-value-1';

function secret(namespace: string, name: string, value = VALUE): KubeSecretWrite {
  return {
    namespace,
    name,
    type: 'Opaque',
    data: { password: Buffer.from(value).toString('base64') },
    labels: { 'app.kubernetes.io/managed-by': 'eks-secret-sync' },
    annotations: { 'eks-secret-sync.io/hash': 'h1' },
  };
}

describe('createKubeApi against a real API server', () => {
  let api: KubeApi;
  let ns: FreshNamespace;
  let unbound: FreshNamespace;

  beforeAll(async () => {
    stack();
    // Through the connector and the sync identity's kubeconfig: only what deploy/rbac.yaml grants.
    const connector = createClusterConnector({
      [CLUSTER]: { kubeconfig: { path: syncKubeConfigPath(), context: CLUSTER } },
    });
    api = await connector.connect(CLUSTER);
    ns = await freshNamespace([CLUSTER], { prefix: 'kube-api' });
    unbound = await freshNamespace([CLUSTER], { prefix: 'kube-api-unbound', bound: false });
  });

  afterAll(async () => {
    await ns?.cleanup();
    await unbound?.cleanup();
  });

  it('creates, reads and replaces a Secret, refusing a stale resourceVersion with Conflict', async () => {
    // Prepare
    const created = await api.createSecret(secret(ns.name, 'db'));

    // Act
    const read = await api.getSecret(ns.name, 'db');
    const replaced = await api.replaceSecret({
      ...secret(ns.name, 'db', 'rotated'),
      resourceVersion: created.resourceVersion,
    });
    const stale = await rejection(
      api.replaceSecret({ ...secret(ns.name, 'db', 'lost-update'), resourceVersion: created.resourceVersion }),
    );
    const duplicate = await rejection(api.createSecret(secret(ns.name, 'db')));

    // Assess
    expect(created).toMatchObject({ namespace: ns.name, name: 'db', type: 'Opaque', immutable: false, ownerKinds: [] });
    expect(created.uid).not.toBe('');
    expect(read).toMatchObject({
      data: { password: Buffer.from(VALUE).toString('base64') },
      labels: { 'app.kubernetes.io/managed-by': 'eks-secret-sync' },
      annotations: { 'eks-secret-sync.io/hash': 'h1' },
      resourceVersion: created.resourceVersion,
    });
    expect(replaced.data.password).toBe(Buffer.from('rotated').toString('base64'));
    expect(replaced.resourceVersion).not.toBe(created.resourceVersion);
    expect(stale.code).toBe('Conflict');
    expect(stale.message).toContain(`secret "${ns.name}/db"`);
    expect(duplicate.code).toBe('Conflict');
    expect(duplicate.message).toBe(`secret "${ns.name}/db" already exists in cluster "${CLUSTER}"`);
    for (const error of [stale, duplicate]) {
      expect(error.message).not.toContain(Buffer.from('lost-update').toString('base64'));
      expect(error.message).not.toContain(Buffer.from(VALUE).toString('base64'));
    }
  });

  it('returns undefined for a missing Secret and deletes idempotently', async () => {
    // Prepare
    await api.createSecret(secret(ns.name, 'short-lived'));

    // Act
    await api.deleteSecret(ns.name, 'short-lived');
    await api.deleteSecret(ns.name, 'short-lived');

    // Assess
    expect(await api.getSecret(ns.name, 'short-lived')).toBeUndefined();
    expect(await api.getSecret(ns.name, 'never-existed')).toBeUndefined();
  });

  it('deletes with preconditions only the object that was read (409 Conflict for one recreated since)', async () => {
    // Prepare
    const first = await api.createSecret(secret(ns.name, 'recreated'));
    await api.deleteSecret(ns.name, 'recreated');
    const second = await api.createSecret(secret(ns.name, 'recreated'));

    // Act
    const stale = await rejection(
      api.deleteSecret(ns.name, 'recreated', { uid: first.uid, resourceVersion: first.resourceVersion }),
    );
    const afterStale = await api.getSecret(ns.name, 'recreated');
    await api.deleteSecret(ns.name, 'recreated', { uid: second.uid, resourceVersion: second.resourceVersion });

    // Assess
    expect(stale.code).toBe('Conflict');
    expect(afterStale?.uid).toBe(second.uid);
    expect(await api.getSecret(ns.name, 'recreated')).toBeUndefined();
  });

  it('removes an annotation only while it holds the expected value', async () => {
    // Prepare
    const marker = 'eks-secret-sync.io/restart-pending';
    await api.createSecret({
      ...secret(ns.name, 'annotated'),
      annotations: { 'eks-secret-sync.io/hash': 'h1', [marker]: 'h1/pass-b', 'example.io/x': 'y' },
    });

    // Act
    const other = await api.clearSecretAnnotation(ns.name, 'annotated', marker, 'h1/pass-a');
    const afterOther = await api.getSecret(ns.name, 'annotated');
    const own = await api.clearSecretAnnotation(ns.name, 'annotated', marker, 'h1/pass-b');
    const again = await api.clearSecretAnnotation(ns.name, 'annotated', marker, 'h1/pass-b');
    const gone = await api.clearSecretAnnotation(ns.name, 'never-existed', marker, 'h1/pass-b');

    // Assess
    expect([other, own, again, gone]).toEqual([false, true, false, false]);
    expect(afterOther?.annotations[marker]).toBe('h1/pass-b');
    const read = await api.getSecret(ns.name, 'annotated');
    expect(read?.annotations).toEqual({ 'eks-secret-sync.io/hash': 'h1', 'example.io/x': 'y' });
    expect(read?.data.password).toBe(Buffer.from(VALUE).toString('base64'));
  });

  it('reads a Secret as metadata only (no data), undefined when missing, Forbidden where get is not granted', async () => {
    // Prepare
    const created = await api.createSecret(secret(ns.name, 'metadata-only'));

    // Act
    const read = await api.getSecretMetadata(ns.name, 'metadata-only');
    const missing = await api.getSecretMetadata(ns.name, 'never-existed');
    const error = await rejection(api.getSecretMetadata(unbound.name, 'db'));

    // Assess
    expect(read).toEqual({
      namespace: ns.name,
      name: 'metadata-only',
      labels: { 'app.kubernetes.io/managed-by': 'eks-secret-sync' },
      annotations: { 'eks-secret-sync.io/hash': 'h1' },
      uid: created.uid,
      resourceVersion: created.resourceVersion,
    });
    expect(JSON.stringify(read)).not.toContain(Buffer.from(VALUE).toString('base64'));
    expect(missing).toBeUndefined();
    expect(error.code).toBe('Forbidden');
  });

  it('reports Forbidden naming verb, namespace, cluster and the denied user, not the API server message', async () => {
    // Act
    const error = await rejection(api.createSecret(secret(unbound.name, 'db')));

    // Assess
    expect(error.code).toBe('Forbidden');
    expect(error.message).toMatch(
      new RegExp(`^forbidden: cannot create secrets in namespace "${unbound.name}" of cluster "${CLUSTER}" \\(`),
    );
    expect(error.message).toContain('(HTTP 403 Forbidden; user "eks-secret-sync" is not authorized)');
    expect(error.message).not.toContain(Buffer.from(VALUE).toString('base64'));
    expect(error.retryable).toBe(false);
  });

  it('reports NamespaceNotFound when the namespace does not exist', async () => {
    // Prepare: the admin identity, since RBAC answers 403 before admission for an identity without cluster rights.
    const admin = createKubeApi(CLUSTER, adminKubeConfig(CLUSTER));

    // Act
    const error = await rejection(admin.createSecret(secret('no-such-namespace-kube-api', 'db')));

    // Assess
    expect(error.code).toBe('NamespaceNotFound');
    expect(error.message).toBe(`namespace "no-such-namespace-kube-api" not found in cluster "${CLUSTER}"`);
  });

  it('lists Deployments, StatefulSets and DaemonSets with their Secret references', async () => {
    // Prepare
    const { apps } = adminApis(CLUSTER);
    const paused = deployment('web', 'db', 'env');
    if (paused.spec) paused.spec.paused = true;
    await apps.createNamespacedDeployment({ namespace: ns.name, body: paused });
    await apps.createNamespacedStatefulSet({ namespace: ns.name, body: statefulSet('store', 'db', 'volume') });
    await apps.createNamespacedDaemonSet({ namespace: ns.name, body: daemonSet('agent', 'db', 'projected') });

    // Act
    const [deployments, statefulSets, daemonSets] = await Promise.all([
      api.listWorkloads(ns.name, 'Deployment'),
      api.listWorkloads(ns.name, 'StatefulSet'),
      api.listWorkloads(ns.name, 'DaemonSet'),
    ]);

    // Assess
    expect(deployments).toHaveLength(1);
    expect(deployments[0]).toMatchObject({ kind: 'Deployment', namespace: ns.name, name: 'web', paused: true });
    expect(deployments[0]?.podSpec.containers?.[0]?.env?.[0]?.valueFrom?.secretKeyRef?.name).toBe('db');
    expect(deployments[0]?.resourceVersion).not.toBe('');
    expect(statefulSets).toHaveLength(1);
    expect(statefulSets[0]).toMatchObject({ kind: 'StatefulSet', name: 'store', paused: false });
    expect(statefulSets[0]?.podSpec.volumes?.[0]?.secret?.secretName).toBe('db');
    expect(daemonSets).toHaveLength(1);
    expect(daemonSets[0]).toMatchObject({ kind: 'DaemonSet', name: 'agent', paused: false });
    expect(daemonSets[0]?.podSpec.volumes?.[0]?.projected?.sources?.[0]?.secret?.name).toBe('db');
  });

  it('patches pod template annotations with our field manager, conditionally on the annotations read', async () => {
    // Prepare: a fresh Deployment, whose status the controller is still writing (resourceVersion keeps moving).
    const { apps } = adminApis(CLUSTER);
    await apps.createNamespacedDeployment({ namespace: ns.name, body: deployment('api', 'db', 'envFrom') });
    const [before] = (await api.listWorkloads(ns.name, 'Deployment')).filter((w) => w.name === 'api');
    if (before === undefined) throw new Error('deployment api not listed');

    // Act: status writes do not defeat the condition; a second writer holding the old annotations does.
    await api.patchTemplateAnnotations(
      ns.name,
      'Deployment',
      'api',
      { 'eks-secret-sync.io/db': 'h1' },
      before.templateAnnotations,
    );
    const stale = await rejection(
      api.patchTemplateAnnotations(
        ns.name,
        'Deployment',
        'api',
        { 'eks-secret-sync.io/db': 'h2' },
        before.templateAnnotations,
      ),
    );
    await api.patchTemplateAnnotations(
      ns.name,
      'Deployment',
      'api',
      { 'eks-secret-sync.io/other': 'x' },
      {
        'eks-secret-sync.io/db': 'h1',
      },
    );
    await api.patchTemplateAnnotations(ns.name, 'StatefulSet', 'store', { 'eks-secret-sync.io/db': 'h1' });
    await api.patchTemplateAnnotations(ns.name, 'DaemonSet', 'agent', { 'eks-secret-sync.io/db': 'h1' });

    // Assess
    const patched = await apps.readNamespacedDeployment({ namespace: ns.name, name: 'api' });
    expect(patched.spec?.template.metadata?.annotations).toEqual({
      'eks-secret-sync.io/db': 'h1',
      'eks-secret-sync.io/other': 'x',
    });
    expect(patched.spec?.template.metadata?.labels).toEqual({ app: 'api' });
    expect(patched.metadata?.managedFields?.map((f) => f.manager)).toContain('eks-secret-sync');
    expect(stale.code).toBe('Conflict');
    const store = await apps.readNamespacedStatefulSet({ namespace: ns.name, name: 'store' });
    const agent = await apps.readNamespacedDaemonSet({ namespace: ns.name, name: 'agent' });
    expect(store.spec?.template.metadata?.annotations?.['eks-secret-sync.io/db']).toBe('h1');
    expect(agent.spec?.template.metadata?.annotations?.['eks-secret-sync.io/db']).toBe('h1');
  });

  it('reads the rollout status of each kind as the sync identity, the generation moving with a template patch', async () => {
    // Prepare
    const { apps } = adminApis(CLUSTER);
    const zero = {
      ...deployment('status-zero', 'db', 'none'),
      spec: { ...deployment('status-zero', 'db', 'none').spec, replicas: 0 },
    };
    await apps.createNamespacedDeployment({ namespace: ns.name, body: deployment('status-web', 'db', 'envFrom') });
    await apps.createNamespacedDeployment({ namespace: ns.name, body: zero as ReturnType<typeof deployment> });
    await apps.createNamespacedStatefulSet({ namespace: ns.name, body: statefulSet('status-db', 'db', 'envFrom') });
    await apps.createNamespacedDaemonSet({ namespace: ns.name, body: daemonSet('status-agent', 'db', 'envFrom') });

    // Act
    await api.patchTemplateAnnotations(ns.name, 'Deployment', 'status-web', { 'eks-secret-sync.io/db': 'h1' });
    const web = await waitFor(async () => {
      const status = await api.readWorkloadStatus(ns.name, 'Deployment', 'status-web');
      return status?.kind === 'Deployment' && status.observedGeneration === 2 && status;
    });
    const idle = await waitFor(async () => {
      const status = await api.readWorkloadStatus(ns.name, 'Deployment', 'status-zero');
      return status?.kind === 'Deployment' && status.observedGeneration === 1 && status;
    });
    const db = await waitFor(async () => {
      const status = await api.readWorkloadStatus(ns.name, 'StatefulSet', 'status-db');
      return status?.kind === 'StatefulSet' && status.updateRevision !== '' && status;
    });
    const agent = await waitFor(async () => {
      const status = await api.readWorkloadStatus(ns.name, 'DaemonSet', 'status-agent');
      return status?.kind === 'DaemonSet' && status.observedGeneration === 1 && status;
    });
    const missing = await api.readWorkloadStatus(ns.name, 'Deployment', 'status-gone');
    const forbidden = await rejection(api.readWorkloadStatus(unbound.name, 'Deployment', 'status-web'));

    // Assess
    expect(web).toMatchObject({ kind: 'Deployment', generation: 2, specReplicas: 1, paused: false });
    expect(idle).toMatchObject({ kind: 'Deployment', generation: 1, specReplicas: 0, replicas: 0 });
    expect(db).toMatchObject({ kind: 'StatefulSet', generation: 1, specReplicas: 1, onDelete: false, partition: 0 });
    expect(agent).toMatchObject({ kind: 'DaemonSet', generation: 1, onDelete: false });
    expect(missing).toBeUndefined();
    expect(forbidden.code).toBe('Forbidden');
    expect(forbidden.message).toContain(
      `cannot get deployments in namespace "${unbound.name}" of cluster "${CLUSTER}"`,
    );
  });

  it('reports a missing workload as a non-retryable KubernetesError', async () => {
    // Act
    const error = await rejection(api.patchTemplateAnnotations(ns.name, 'Deployment', 'gone', { a: 'b' }));

    // Assess
    expect(error).toMatchObject({ code: 'KubernetesError', retryable: false });
    expect(error.message).toBe(`deployment "${ns.name}/gone" not found in cluster "${CLUSTER}"`);
  });
});
