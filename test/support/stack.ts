/**
 * Helpers for integration tests against the local stack (scripts/stack.sh): N real API servers with controller
 * managers, and moto. `test/support/global-setup.ts` brings the stack up once per run and provides its description.
 */
import { randomBytes } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1Deployment,
  type V1Pod,
  type V1ReplicaSet,
  type V1RoleBinding,
  type V1Secret,
} from '@kubernetes/client-node';
import { inject } from 'vitest';
import { readStackInfo, type StackInfo } from '../../scripts/stack/info.js';

export { readStackInfo, type StackInfo };

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

export interface KubeApis {
  core: CoreV1Api;
  apps: AppsV1Api;
  rbac: RbacAuthorizationV1Api;
}

let cached: StackInfo | undefined;

/**
 * The running stack. On first use it also points this process at the stack (`KUBECONFIG`, `AWS_ENDPOINT_URL`,
 * dummy AWS credentials, ...), so code that builds clients from the environment can never reach real AWS.
 */
export function stack(): StackInfo {
  if (cached) return cached;
  let info: StackInfo | undefined;
  try {
    info = inject('stack');
  } catch {
    // Not inside a vitest worker.
  }
  cached = info ?? readStackInfo();
  applyStackEnv(cached);
  return cached;
}

/** Overrides the AWS and Kubernetes variables of `env` with the stack's (and drops ones that could point elsewhere). */
export function applyStackEnv(info: StackInfo, env: NodeJS.ProcessEnv = process.env): void {
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']) {
    delete env[name];
  }
  Object.assign(env, info.env);
  if (!env.PATH?.split(':').includes(info.kubectlDir)) env.PATH = `${info.kubectlDir}:${env.PATH ?? ''}`;
}

function kubeConfigFor(file: string, cluster: string): KubeConfig {
  if (!stack().clusters.includes(cluster)) {
    throw new Error(`no cluster ${cluster} in the local stack (has ${stack().clusters.join(', ')})`);
  }
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  kc.setCurrentContext(cluster);
  return kc;
}

function apisOf(kc: KubeConfig): KubeApis {
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
  };
}

const adminCache = new Map<string, KubeApis>();

/** KubeConfig of the admin identity (system:masters) for one cluster, e.g. `stack-1`. */
export function adminKubeConfig(cluster: string): KubeConfig {
  return kubeConfigFor(stack().kubeconfig, cluster);
}

/** Admin API clients for one cluster: for test setup and for asserting what the sync did. */
export function adminApis(cluster: string): KubeApis {
  let apis = adminCache.get(cluster);
  if (!apis) {
    apis = apisOf(adminKubeConfig(cluster));
    adminCache.set(cluster, apis);
  }
  return apis;
}

/** A Secret as the admin identity reads it, or `undefined` when it does not exist (the API server's 404). */
export async function findSecret(cluster: string, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await adminApis(cluster).core.readNamespacedSecret({ namespace, name });
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

/** Path of the kubeconfig of the `eks-secret-sync` identity (contexts `stack-1` .. `stack-N`). */
/** One data key of a Secret as read, decoded (empty when absent). */
export function decode(secret: V1Secret, key: string): string {
  return Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
}

export function syncKubeConfigPath(): string {
  return stack().syncKubeconfig;
}

/** KubeConfig of the unprivileged `eks-secret-sync` identity for one cluster. */
export function syncKubeConfig(cluster: string): KubeConfig {
  return kubeConfigFor(stack().syncKubeconfig, cluster);
}

/** API clients acting as the `eks-secret-sync` identity: only what deploy/rbac.yaml grants. */
export function syncApis(cluster: string): KubeApis {
  return apisOf(syncKubeConfig(cluster));
}

/** Label on every namespace made by `freshNamespace`; global setup deletes leftovers of earlier runs by it. */
export const TEST_NAMESPACE_LABEL = 'eks-secret-sync.test/harness';

export interface FreshNamespace {
  name: string;
  /** Deletes the namespace in every cluster it was made in (without waiting for finalization). */
  cleanup(): Promise<void>;
}

function roleBinding(namespace: string, clusterRole: string): V1RoleBinding {
  return {
    metadata: { name: clusterRole, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'eks-secret-sync' }],
  };
}

/**
 * Creates one uniquely named namespace in each of `clusters`. Unless `bound: false`, binds the `eks-secret-sync`
 * group there to the ClusterRoles of deploy/rbac.yaml (`eks-secret-sync`, `eks-secret-sync-delete` unless
 * `allowDelete: false`, and the opt-in `eks-secret-sync-rollouts` with `rollouts: true`), as the RoleBinding
 * template in that file shows.
 */
export async function freshNamespace(
  clusters: readonly string[],
  opts: { bound?: boolean; allowDelete?: boolean; rollouts?: boolean; prefix?: string } = {},
): Promise<FreshNamespace> {
  const { bound = true, allowDelete = true, rollouts = false, prefix = 'it' } = opts;
  const name = `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  for (const cluster of clusters) {
    const { core, rbac } = adminApis(cluster);
    await core.createNamespace({ body: { metadata: { name, labels: { [TEST_NAMESPACE_LABEL]: 'true' } } } });
    if (bound) {
      await rbac.createNamespacedRoleBinding({ namespace: name, body: roleBinding(name, 'eks-secret-sync') });
      if (allowDelete) {
        await rbac.createNamespacedRoleBinding({ namespace: name, body: roleBinding(name, 'eks-secret-sync-delete') });
      }
      if (rollouts) {
        await rbac.createNamespacedRoleBinding({
          namespace: name,
          body: roleBinding(name, 'eks-secret-sync-rollouts'),
        });
      }
    }
  }
  return {
    name,
    async cleanup() {
      await Promise.all(clusters.map((cluster) => adminApis(cluster).core.deleteNamespace({ name })));
    },
  };
}

/** Secrets Manager client for the moto emulator (explicit endpoint, region and dummy credentials). */
export function secretsManager(): SecretsManagerClient {
  const { aws } = stack();
  return new SecretsManagerClient({
    endpoint: aws.endpoint,
    region: aws.region,
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
  });
}

/**
 * Polls `fn` until it returns a truthy value, and returns that value. Errors thrown by `fn` count as "not yet";
 * on timeout the last one is the cause.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as Exclude<T, false | 0 | '' | null | undefined>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`, lastError ? { cause: lastError } : undefined);
    }
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}

/** The ReplicaSets a Deployment owns, oldest revision first (a rolling restart adds one). */
export async function replicaSetsOf(cluster: string, namespace: string, deployment: string): Promise<V1ReplicaSet[]> {
  const { items } = await adminApis(cluster).apps.listNamespacedReplicaSet({ namespace });
  const revision = (rs: V1ReplicaSet) => Number(rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
  return items
    .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === deployment))
    .sort((a, b) => revision(a) - revision(b));
}

/** The pods of a workload whose template labels them `app=<app>`, by name, those being deleted left out. */
export async function podsOf(cluster: string, namespace: string, app: string): Promise<V1Pod[]> {
  const { items } = await adminApis(cluster).core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return items
    .filter((pod) => !pod.metadata?.deletionTimestamp)
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

/** True when the pod's Ready condition is True (kwok sets it on the stack's fake nodes). */
export function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * True when a Deployment's rollout is complete, as `kubectl rollout status` decides: the controller saw the latest
 * spec, every replica runs the new template and is available, and no old replica is left.
 */
export function rolledOut(d: V1Deployment): boolean {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
    (s.updatedReplicas ?? 0) === want &&
    (s.replicas ?? 0) === want &&
    (s.availableReplicas ?? 0) === want
  );
}

/**
 * The pod label that makes the stack's kwok fail a pod (scripts/stack/kwok/stages.yaml): `never-ready` (Running,
 * never Ready) or `crash-loop` (containers in CrashLoopBackOff). Put on a pod template, it fails that template's pods.
 */
export function failLabel(): string {
  const label = stack().kwok?.failLabel;
  if (!label) throw new Error('the local stack has no kwok (started by an older checkout): run npm run stack -- up');
  return label;
}
