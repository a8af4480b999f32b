/**
 * The benchmark's fixtures on the local stack: Secrets Manager secrets, namespaces bound to the sync identity, and
 * consuming Deployments. Every step is idempotent (fixed names, create-if-missing), so reruns reuse the setup.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1Deployment,
} from '@kubernetes/client-node';
import { mapLimit } from '../lib/sync/concurrency.js';
import { labelUpdatedEvent as sharedLabelEvent } from '../scripts/label-event.js';
import { readStackInfo, type StackInfo } from '../scripts/stack/info.js';

/** The stack's description (scripts/stack/info.ts) with each cluster as one object. */
export type StackEnv = Omit<StackInfo, 'clusters'> & {
  clusters: Array<{ name: string; context: string; server: string }>;
};

const STACK_SCRIPT = join(import.meta.dirname, '..', 'scripts', 'stack.sh');

export function stackScript(args: string[], inherit = false): string {
  return execFileSync('bash', [STACK_SCRIPT, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', inherit ? 'inherit' : 'pipe', 'inherit'],
  });
}

/** `stack.sh env --json`, each cluster name (also its context name) paired with its API server URL. */
export function stackEnv(): StackEnv {
  const info = readStackInfo();
  const clusters = info.clusters.map((name) => ({ name, context: name, server: info.servers[name] ?? '' }));
  return { ...info, clusters };
}

export interface AdminApis {
  cluster: string;
  core: CoreV1Api;
  apps: AppsV1Api;
  rbac: RbacAuthorizationV1Api;
}

export function adminApis(kubeconfig: string, context: string): AdminApis {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.setCurrentContext(context);
  return {
    cluster: context,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
  };
}

const status = (e: unknown) => (e as { code?: number }).code;
const ignoreConflict = (e: unknown) => {
  if (status(e) !== 409) throw e;
};

/** Namespace + RoleBinding of ClusterRole `eks-secret-sync` to group `eks-secret-sync` (as scripts/demo.ts does). */
export async function ensureNamespace({ core, rbac }: AdminApis, namespace: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch(ignoreConflict);
  await rbac
    .createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'eks-secret-sync' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'eks-secret-sync' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'eks-secret-sync' }],
      },
    })
    .catch(ignoreConflict);
}

/**
 * A Deployment reading every named Secret through `envFrom` (optional, so a missing Secret is no error). Zero
 * replicas: a restart is the same template patch for us, and without pods the controllers settle at once and leave
 * the shared CPUs to the API servers.
 */
export function consumerDeployment(name: string, secrets: string[]): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: 0,
      revisionHistoryLimit: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'registry.invalid/bench:1',
              envFrom: secrets.map((secret) => ({ secretRef: { name: secret, optional: true } })),
            },
          ],
        },
      },
    },
  };
}

/** Creates the Deployment, or recreates it when it consumes a different set of Secrets or has replicas. */
export async function ensureDeployment({ apps }: AdminApis, namespace: string, body: V1Deployment): Promise<void> {
  const name = body.metadata?.name ?? '';
  try {
    const existing = await apps.readNamespacedDeployment({ name, namespace });
    const want = JSON.stringify(body.spec?.template.spec?.containers[0]?.envFrom);
    const sameRefs = JSON.stringify(existing.spec?.template.spec?.containers[0]?.envFrom) === want;
    if (sameRefs && existing.spec?.replicas === body.spec?.replicas) return;
    await apps.deleteNamespacedDeployment({ name, namespace });
  } catch (e) {
    if (status(e) !== 404) throw e;
  }
  await apps.createNamespacedDeployment({ namespace, body });
}

/** Edits the `password` key of each Secret as the admin (drift the sync must repair). No value is logged. */
export async function driftSecrets(admin: AdminApis, targets: Array<{ namespace: string; name: string }>) {
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  await mapLimit(targets, 16, async ({ namespace, name }) => {
    const data = { password: Buffer.from(`drift-${crypto.randomUUID()}`).toString('base64') };
    await admin.core.patchNamespacedSecret({ namespace, name, body: { data } }, mergePatch);
  });
}

export function secretValue(): string {
  return JSON.stringify({ username: 'bench', password: crypto.randomUUID() });
}

/** Names that already exist under a prefix (ListSecrets pages of 100). */
async function existingNames(sm: SecretsManagerClient, prefix: string): Promise<Set<string>> {
  const names = new Set<string>();
  let token: string | undefined;
  do {
    const page = await sm.send(
      new ListSecretsCommand({
        MaxResults: 100,
        Filters: [{ Key: 'name', Values: [prefix] }],
        ...(token === undefined ? {} : { NextToken: token }),
      }),
    );
    for (const s of page.SecretList ?? []) if (s.Name?.startsWith(prefix)) names.add(s.Name);
    token = page.NextToken || undefined;
  } while (token !== undefined);
  return names;
}

/** Creates the missing secrets (in parallel); returns how many were created. */
export async function ensureSecrets(sm: SecretsManagerClient, prefix: string, names: string[]): Promise<number> {
  const have = await existingNames(sm, prefix);
  const missing = names.filter((n) => !have.has(n));
  await mapLimit(missing, 16, async (Name) => {
    try {
      await sm.send(new CreateSecretCommand({ Name, SecretString: secretValue() }));
    } catch (e) {
      if ((e as Error).name !== 'ResourceExistsException') throw e;
    }
  });
  return missing.length;
}

/** PutSecretValue with a new value: the new version becomes AWSCURRENT. Returns its ARN and version id. */
export async function rotate(sm: SecretsManagerClient, id: string): Promise<{ arn: string; versionId: string }> {
  const out = await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: secretValue() }));
  return { arn: out.ARN ?? '', versionId: out.VersionId ?? '' };
}

/** The EventBridge event Secrets Manager sends when AWSCURRENT moves (see events/*.json). */
export function labelUpdatedEvent(name: string, arn: string, versionId: string, region: string) {
  return sharedLabelEvent({ name, arn }, versionId, { region });
}

/**
 * Waits (at most `timeoutMs`) until the deployment controller has caught up with the last restart of each consumer,
 * so that the next rotation meets a workload at rest, as a real one usually does; a rollout still being written
 * bumps the resourceVersion the restart patch is conditioned on (409, re-list, re-patch). Returns how many were
 * still moving at the deadline.
 */
export async function settleConsumers(
  targets: Array<{ admin: AdminApis; namespace: string; name: string }>,
  timeoutMs = 1500,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let moving = targets;
  while (moving.length > 0 && performance.now() < deadline) {
    const still = await mapLimit(moving, 16, async (t) => {
      const d = await t.admin.apps.readNamespacedDeployment({ name: t.name, namespace: t.namespace });
      return (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) ? undefined : t;
    });
    moving = still.filter((t) => t !== undefined);
    if (moving.length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return moving.length;
}
