/**
 * The local stack is real: RBAC of the `eks-secret-sync` identity is enforced by a real API server, a controller
 * manager rolls Deployments, a scheduler and kwok make their pods Running and Ready on fake nodes (or fail them on
 * request), each simulated cluster has its own store, and moto keeps Secrets Manager version stages.
 */
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  ApiException,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
  VersionApi,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminApis,
  adminKubeConfig,
  type FreshNamespace,
  failLabel,
  freshNamespace,
  podReady,
  podsOf,
  replicaSetsOf,
  rolledOut,
  secretsManager,
  stack,
  syncApis,
  waitFor,
} from '../support/stack.js';
import { deployment } from '../support/workloads.js';

const names = (pods: V1Pod[]) => pods.map((p) => p.metadata?.name ?? '');

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

  describe('pods (kube-scheduler and kwok on fake nodes)', () => {
    const readDeployment = (name: string) =>
      adminApis(cluster).apps.readNamespacedDeployment({ name, namespace: bound.name });
    const patchTemplate = (
      name: string,
      metadata: { labels?: Record<string, string>; annotations?: Record<string, string> },
    ) =>
      adminApis(cluster).apps.patchNamespacedDeployment(
        { name, namespace: bound.name, body: { spec: { template: { metadata } } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    const createReady = async (name: string, replicas: number): Promise<V1Pod[]> => {
      const body: V1Deployment = deployment(name, 'app-db', 'none');
      if (body.spec) Object.assign(body.spec, { replicas, progressDeadlineSeconds: 3 });
      await adminApis(cluster).apps.createNamespacedDeployment({ namespace: bound.name, body });
      await waitFor(async () => rolledOut(await readDeployment(name)), 30_000);
      return podsOf(cluster, bound.name, name);
    };

    it("schedules a Deployment's pods onto the fake nodes, where they become Running and Ready", async () => {
      // Act
      const pods = await createReady('ready', 2);

      // Assess
      expect(pods).toHaveLength(2);
      for (const pod of pods) {
        expect(pod.spec?.nodeName).toMatch(/^kwok-node-/);
        expect(stack().kwok?.nodes).toContain(pod.spec?.nodeName);
        expect(pod.status?.phase).toBe('Running');
        expect(podReady(pod)).toBe(true);
        expect(pod.status?.podIP).toBeTruthy();
      }
    });

    it('replaces every pod with a new one when the template is patched, and completes the rollout', async () => {
      // Prepare
      const old = names(await createReady('rolling', 2));

      // Act
      await patchTemplate('rolling', {
        annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() },
      });
      const done = await waitFor(async () => {
        const d = await readDeployment('rolling');
        return d.metadata?.generation === 2 && rolledOut(d) ? d : undefined;
      }, 30_000);
      const pods = await waitFor(async () => {
        const now = await podsOf(cluster, bound.name, 'rolling');
        return now.length === 2 ? now : undefined;
      }, 30_000);

      // Assess
      expect(names(pods).filter((name) => old.includes(name))).toEqual([]);
      expect(pods.every(podReady)).toBe(true);
      expect(done.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
    });

    it('never makes a pod with the never-ready fail label Ready: the rollout stalls with the old pod serving', async () => {
      // Prepare
      const [old] = names(await createReady('bad-rollout', 1));

      // Act: a template change whose new pods fail, as a bad secret value would make them
      await patchTemplate('bad-rollout', { labels: { [failLabel()]: 'never-ready' } });
      const stalled = await waitFor(async () => {
        const d = await readDeployment('bad-rollout');
        const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
        return progressing?.reason === 'ProgressDeadlineExceeded' ? d : undefined;
      }, 30_000);
      const pods = await podsOf(cluster, bound.name, 'bad-rollout');

      // Assess
      const fresh = pods.filter((p) => p.metadata?.name !== old);
      expect(fresh).toHaveLength(1);
      expect(fresh[0]?.status?.phase).toBe('Running');
      expect(podReady(fresh[0] as V1Pod)).toBe(false);
      expect(fresh[0]?.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('ContainersNotReady');
      expect(pods.find((p) => p.metadata?.name === old && podReady(p))).toBeDefined();
      expect(stalled.status?.availableReplicas).toBe(1);
      expect(stalled.status?.updatedReplicas).toBe(1);
    });

    it('keeps the containers of a pod with the crash-loop fail label in CrashLoopBackOff', async () => {
      // Act: the namespace's default ServiceAccount may still be on its way
      const pod = await waitFor(
        () =>
          adminApis(cluster).core.createNamespacedPod({
            namespace: bound.name,
            body: {
              metadata: { name: 'crashing', labels: { app: 'crashing', [failLabel()]: 'crash-loop' } },
              spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
            },
          }),
        10_000,
      );
      const running = await waitFor(async () => {
        const [now] = await podsOf(cluster, bound.name, 'crashing');
        return now?.status?.phase === 'Running' ? now : undefined;
      }, 30_000);

      // Assess
      expect(pod.metadata?.name).toBe('crashing');
      expect(podReady(running)).toBe(false);
      expect(running.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('CrashLoopBackOff');
      expect(running.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(1);
    });
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
