/**
 * The local stack is real: RBAC of the `eks-secret-sync` identity is enforced by a real API server, a controller
 * manager rolls Deployments, each simulated cluster has its own store, and moto keeps Secrets Manager version stages.
 */
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { ApiException, PatchStrategy, setHeaderOptions, VersionApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminApis,
  adminKubeConfig,
  type FreshNamespace,
  freshNamespace,
  replicaSetsOf,
  secretsManager,
  stack,
  syncApis,
  waitFor,
} from '../support/stack.js';
import { deployment } from '../support/workloads.js';

async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

describe('local stack', () => {
  let cluster: string;
  let bound: FreshNamespace;
  let unbound: FreshNamespace;

  beforeAll(async () => {
    // Prepare
    const [first] = stack().clusters;
    if (!first) throw new Error('the stack has no cluster');
    cluster = first;
    bound = await freshNamespace([cluster]);
    unbound = await freshNamespace([cluster], { bound: false });
  });

  afterAll(async () => {
    await Promise.all([bound?.cleanup(), unbound?.cleanup()]);
  });

  it('serves the pinned Kubernetes version on at least three clusters, over TLS checked against the stack CA', async () => {
    // Act
    const info = stack();
    const version = await adminKubeConfig(cluster).makeApiClient(VersionApi).getCode();
    // Without the stack's CA a client must refuse the serving certificate.
    const untrusted = await fetch(`${info.servers[cluster]}/version`).then(
      () => 'accepted',
      () => 'refused',
    );

    // Assess
    expect(info.clusters.length).toBeGreaterThanOrEqual(3);
    expect(version.gitVersion).toBe(info.versions.kubernetes);
    expect(untrusted).toBe('refused');
  });

  it('lets the eks-secret-sync identity write a Secret in a bound namespace', async () => {
    // Act
    const created = await syncApis(cluster).core.createNamespacedSecret({
      namespace: bound.name,
      body: { metadata: { name: 'written-by-sync' }, stringData: { token: 'not-a-real-secret' } },
    });
    const read = await adminApis(cluster).core.readNamespacedSecret({ name: 'written-by-sync', namespace: bound.name });

    // Assess
    expect(created.metadata?.uid).toBeTruthy();
    expect(Buffer.from(read.data?.token ?? '', 'base64').toString()).toBe('not-a-real-secret');
  });

  it('answers 403 Forbidden to the eks-secret-sync identity in a namespace without the binding', async () => {
    // Act
    const status = await statusOf(
      syncApis(cluster).core.createNamespacedSecret({
        namespace: unbound.name,
        body: { metadata: { name: 'refused' }, stringData: { token: 'x' } },
      }),
    );

    // Assess
    expect(status).toBe(403);
  });

  it('grants no more than deploy/rbac.yaml documents (no listing Secrets, even where bound)', async () => {
    // Act
    const list = await statusOf(syncApis(cluster).core.listNamespacedSecret({ namespace: bound.name }));
    const configMap = await statusOf(
      syncApis(cluster).core.createNamespacedConfigMap({ namespace: bound.name, body: { metadata: { name: 'c' } } }),
    );

    // Assess
    expect(list).toBe(403);
    expect(configMap).toBe(403);
  });

  it('keeps each cluster in its own store', async () => {
    // Prepare
    const other = stack().clusters[1];
    if (!other) throw new Error('the stack has one cluster only');

    // Act
    const status = await statusOf(adminApis(other).core.readNamespace({ name: bound.name }));

    // Assess
    expect(status).toBe(404);
  });

  it('rolls a Deployment to a new ReplicaSet when the sync identity patches its pod template', async () => {
    // Prepare
    await adminApis(cluster).apps.createNamespacedDeployment({
      namespace: bound.name,
      body: deployment('web', 'app-db', 'env'),
    });
    const [first] = await waitFor(async () => {
      const sets = await replicaSetsOf(cluster, bound.name, 'web');
      return sets.length === 1 ? sets : undefined;
    }, 20_000);

    // Act
    await syncApis(cluster).apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: bound.name,
        fieldManager: 'eks-secret-sync',
        body: {
          spec: {
            template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const sets = await waitFor(async () => {
      const all = await replicaSetsOf(cluster, bound.name, 'web');
      return all.length === 2 ? all : undefined;
    }, 20_000);

    // Assess
    expect(sets[0]?.metadata?.name).toBe(first?.metadata?.name);
    expect(sets[1]?.metadata?.name).not.toBe(first?.metadata?.name);
    expect(sets[1]?.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBeTruthy();
  });

  it('serves AWSCURRENT and AWSPREVIOUS from moto after PutSecretValue', async () => {
    // Prepare
    const sm = secretsManager();
    const name = `it/stack-${Date.now().toString(36)}`;
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'old-value' }));

    // Act
    const put = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'new-value' }));
    const current = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
    const previous = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }));
    const listed = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }] }));

    // Assess
    expect(current.SecretString).toBe('new-value');
    expect(current.VersionId).toBe(put.VersionId);
    expect(current.VersionStages).toContain('AWSCURRENT');
    expect(previous.SecretString).toBe('old-value');
    expect(previous.VersionId).not.toBe(put.VersionId);
    expect(listed.SecretList?.map((s) => s.Name)).toEqual([name]);
  });
});
