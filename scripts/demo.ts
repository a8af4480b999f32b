/**
 * `npm run demo`: the main job on embedded defaults. Brings up the local stack (two simulated clusters and the AWS
 * emulator; their pods run on fake nodes), seeds a secret and workloads, runs a backfill, rotates the secret, delivers
 * the `Secret Label Updated` event to the real on-rotation handler, and prints what happened, down to the pods that
 * replaced the consumers' old ones. Values are never printed: key names and hashes.
 *
 * Options: --summary FILE (machine-readable outcome, used by the test), --verbose (handler logs on stdout).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1Container,
  type V1PodSpec,
  type V1PodTemplateSpec,
} from '@kubernetes/client-node';
import { labelUpdatedEvent } from './label-event.js';
import { lambdaContext } from './lambda-context.js';
import { readStackInfo } from './stack/info.js';

const { values: options } = parseArgs({
  options: { summary: { type: 'string' }, verbose: { type: 'boolean', default: false } },
});

const SECRET_ID = 'demo/app-db';
const NAMESPACE = 'demo';
const K8S_SECRET = 'app-db';
const WORKLOADS = [
  { kind: 'Deployment', name: 'web', how: 'env' },
  { kind: 'Deployment', name: 'worker', how: 'envFrom' },
  { kind: 'StatefulSet', name: 'db', how: 'volume' },
  { kind: 'DaemonSet', name: 'agent', how: 'envFrom' },
  { kind: 'Deployment', name: 'unrelated', how: 'none' },
] as const;
type Kind = (typeof WORKLOADS)[number]['kind'];

interface BindingLine {
  cluster: string;
  namespace: string;
  secret: string;
  action: string;
  hash?: string;
  changedKeys?: string[];
  restarted: Array<{ kind: string; name: string }>;
  error?: { message: string };
}
interface Report {
  results: BindingLine[];
  summary: Record<string, number>;
  durationMs: number;
  notes: string[];
}

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const ms = (start: number) => `${Math.round(performance.now() - start)} ms`;
const short = (hash?: string) => (hash === undefined ? '-' : `${hash.slice(0, 12)}…`);

function step(n: number, text: string): void {
  console.log(`\n${bold(`[${n}/7]`)} ${text}`);
}

function apis(kubeconfig: string, context: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.setCurrentContext(context);
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
  };
}
type Apis = ReturnType<typeof apis>;

const sleep = (n: number) => new Promise((resolve) => setTimeout(resolve, n));
const isNotFound = (e: unknown) => (e as { code?: number }).code === 404;

function podTemplate(name: string, how: string): V1PodTemplateSpec {
  const container: V1Container = { name: 'app', image: 'registry.invalid/demo:1' };
  const spec: V1PodSpec = { containers: [container] };
  if (how === 'env')
    container.env = [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: K8S_SECRET, key: 'password' } } }];
  if (how === 'envFrom') container.envFrom = [{ secretRef: { name: K8S_SECRET } }];
  if (how === 'volume') spec.volumes = [{ name: 'db', secret: { secretName: K8S_SECRET } }];
  return { metadata: { labels: { app: name } }, spec };
}

/** A clean demo namespace: bound to the sync identity, our workloads recreated, the Secret removed. */
async function seedNamespace({ core, apps, rbac }: Apis): Promise<void> {
  try {
    await core.readNamespace({ name: NAMESPACE });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  }
  const binding = {
    metadata: { name: 'eks-secret-sync' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'eks-secret-sync' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'eks-secret-sync' }],
  };
  await rbac.deleteNamespacedRoleBinding({ name: binding.metadata.name, namespace: NAMESPACE }).catch(() => undefined);
  await rbac.createNamespacedRoleBinding({ namespace: NAMESPACE, body: binding });
  await core.deleteNamespacedSecret({ name: K8S_SECRET, namespace: NAMESPACE }).catch(() => undefined);
  const remove = {
    Deployment: (name: string) =>
      apps.deleteNamespacedDeployment({ name, namespace: NAMESPACE, propagationPolicy: 'Foreground' }),
    StatefulSet: (name: string) =>
      apps.deleteNamespacedStatefulSet({ name, namespace: NAMESPACE, propagationPolicy: 'Foreground' }),
    DaemonSet: (name: string) =>
      apps.deleteNamespacedDaemonSet({ name, namespace: NAMESPACE, propagationPolicy: 'Foreground' }),
  };
  const read = {
    Deployment: (name: string) => apps.readNamespacedDeployment({ name, namespace: NAMESPACE }),
    StatefulSet: (name: string) => apps.readNamespacedStatefulSet({ name, namespace: NAMESPACE }),
    DaemonSet: (name: string) => apps.readNamespacedDaemonSet({ name, namespace: NAMESPACE }),
  };
  for (const w of WORKLOADS) {
    await remove[w.kind](w.name).catch(() => undefined);
    // Foreground deletion: wait until the object (and its ReplicaSets/revisions) is gone before recreating.
    for (let i = 0; i < 100; i++) {
      const gone = await read[w.kind](w.name).then(
        () => false,
        (e: unknown) => isNotFound(e),
      );
      if (gone) break;
      await sleep(100);
    }
  }
  for (const w of WORKLOADS) {
    const selector = { matchLabels: { app: w.name } };
    const template = podTemplate(w.name, w.how);
    const metadata = { name: w.name };
    if (w.kind === 'Deployment') {
      await apps.createNamespacedDeployment({
        namespace: NAMESPACE,
        body: { metadata, spec: { replicas: 1, selector, template } },
      });
    } else if (w.kind === 'StatefulSet') {
      await apps.createNamespacedStatefulSet({
        namespace: NAMESPACE,
        body: { metadata, spec: { replicas: 1, serviceName: w.name, selector, template } },
      });
    } else {
      await apps.createNamespacedDaemonSet({ namespace: NAMESPACE, body: { metadata, spec: { selector, template } } });
    }
  }
}

/** The workload's current revision: newest ReplicaSet of a Deployment, else the newest ControllerRevision. */
async function revisionOf({ apps }: Apis, kind: Kind, name: string): Promise<string | undefined> {
  const workload =
    kind === 'Deployment'
      ? await apps.readNamespacedDeployment({ name, namespace: NAMESPACE })
      : kind === 'StatefulSet'
        ? await apps.readNamespacedStatefulSet({ name, namespace: NAMESPACE })
        : await apps.readNamespacedDaemonSet({ name, namespace: NAMESPACE });
  const uid = workload.metadata?.uid;
  const owned = <
    T extends { metadata?: { ownerReferences?: Array<{ uid: string }>; creationTimestamp?: Date; name?: string } },
  >(
    items: T[],
  ) => items.filter((i) => i.metadata?.ownerReferences?.some((o) => o.uid === uid));
  if (kind === 'Deployment') {
    const sets = owned((await apps.listNamespacedReplicaSet({ namespace: NAMESPACE })).items);
    const revision = (s: (typeof sets)[number]) =>
      Number(s.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
    return sets.sort((a, b) => revision(b) - revision(a))[0]?.metadata?.name;
  }
  const revisions = owned((await apps.listNamespacedControllerRevision({ namespace: NAMESPACE })).items);
  return revisions.sort((a, b) => b.revision - a.revision)[0]?.metadata?.name;
}

interface PodName {
  name: string;
  uid: string;
}

/** A workload's pods (the demo labels them `app=<name>`), those being deleted left out. */
async function podsOf({ core }: Apis, name: string): Promise<PodName[]> {
  const { items } = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `app=${name}` });
  return items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => ({ name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '' }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** True when a workload's rollout is complete: every replica runs the latest template and is available. */
async function rolledOut({ apps }: Apis, kind: Kind, name: string): Promise<boolean> {
  const read = { name, namespace: NAMESPACE };
  if (kind === 'Deployment') {
    const { metadata, spec, status: s = {} } = await apps.readNamespacedDeployment(read);
    const want = spec?.replicas ?? 1;
    const fresh = (s.observedGeneration ?? 0) >= (metadata?.generation ?? 1);
    return fresh && s.updatedReplicas === want && s.replicas === want && s.availableReplicas === want;
  }
  if (kind === 'StatefulSet') {
    const { metadata, spec, status } = await apps.readNamespacedStatefulSet(read);
    const want = spec?.replicas ?? 1;
    const fresh = (status?.observedGeneration ?? 0) >= (metadata?.generation ?? 1);
    return fresh && status?.currentRevision === status?.updateRevision && status?.readyReplicas === want;
  }
  const { metadata, status } = await apps.readNamespacedDaemonSet(read);
  const fresh = (status?.observedGeneration ?? 0) >= (metadata?.generation ?? 1);
  const want = status?.desiredNumberScheduled ?? 0;
  return fresh && status?.updatedNumberScheduled === want && status?.numberAvailable === want;
}

/** Waits (up to a minute) until the rollouts of `keys` (`Kind/name`) are complete; returns the ones that are not. */
async function awaitRollouts(api: Apis, keys: Iterable<string>): Promise<string[]> {
  let pending = [...keys];
  for (let i = 0; i < 300 && pending.length > 0; i++) {
    const done = await Promise.all(
      pending.map((key) => {
        const [kind, name] = key.split('/') as [Kind, string];
        return rolledOut(api, kind, name);
      }),
    );
    pending = pending.filter((_, n) => !done[n]);
    if (pending.length > 0) await sleep(200);
  }
  return pending;
}

async function podsOfAll(api: Apis): Promise<Map<string, PodName[]>> {
  const out = new Map<string, PodName[]>();
  for (const w of WORKLOADS) out.set(`${w.kind}/${w.name}`, await podsOf(api, w.name));
  return out;
}

/** `web-5d8f-abcde, ...`; a pod recreated under the same name (a StatefulSet's) shows the start of its uid. */
function podList(pods: PodName[], other: PodName[] = []): string {
  if (pods.length === 0) return '(no pods)';
  return pods
    .map((p) => (other.some((o) => o.name === p.name) ? `${p.name} (uid ${p.uid.slice(0, 8)})` : p.name))
    .join(', ');
}

async function revisionsOf(api: Apis): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for (const w of WORKLOADS) out.set(`${w.kind}/${w.name}`, await revisionOf(api, w.kind, w.name));
  return out;
}

/** Waits until the controllers have created a revision for every consumer whose revision must change. */
async function settle(api: Apis, before: Map<string, string | undefined>, expectChange: Set<string>) {
  let now = await revisionsOf(api);
  for (let i = 0; i < 100; i++) {
    const pending = [...expectChange].filter((k) => now.get(k) === before.get(k) || now.get(k) === undefined);
    if (pending.length === 0) break;
    await sleep(100);
    now = await revisionsOf(api);
  }
  return now;
}

function printReport(report: Report, label: string, took: string): void {
  const s = report.summary;
  console.log(
    `  ${label}: ${s.created ?? 0} created, ${s.updated ?? 0} updated, ${s.unchanged ?? 0} unchanged, ${s.failed ?? 0} failed, ${s.restarts ?? 0} restarts (${took}; engine ${report.durationMs} ms)`,
  );
  for (const r of report.results) {
    const keys = r.changedKeys?.length ? ` keys: ${r.changedKeys.join(', ')}` : '';
    console.log(`    ${r.cluster}/${r.namespace}/${r.secret}  ${r.action.padEnd(9)} hash ${short(r.hash)}${keys}`);
    if (r.error) console.log(`      error: ${r.error.message}`);
  }
  for (const note of report.notes) console.log(`    note: ${note}`);
}

async function main(): Promise<void> {
  const total = performance.now();
  console.log(bold('eks-secret-sync demo: one secret rotation, two clusters, exact rolling restarts'));

  step(1, 'local stack: 2 Kubernetes API servers (+ controller-managers, schedulers, fake nodes) and the AWS emulator');
  let t = performance.now();
  execFileSync('bash', [join(import.meta.dirname, 'stack.sh'), 'up', '--clusters', '2'], { stdio: 'inherit' });
  const stack = readStackInfo();
  const clusters = stack.clusters.slice(0, 2).map((name) => ({ name, context: name, server: stack.servers[name] }));
  Object.assign(process.env, stack.env);
  console.log(
    `  ready: ${clusters.map((c) => `${c.name} (${c.server})`).join(', ')}, moto at ${stack.env.AWS_ENDPOINT_URL} (${ms(t)})`,
  );

  step(2, `demo secret "${SECRET_ID}" in Secrets Manager`);
  t = performance.now();
  const sm = new SecretsManagerClient({});
  const value = (password: string) => JSON.stringify({ username: 'app', password, host: 'db.demo.internal' });
  let arn: string;
  try {
    arn = (await sm.send(new CreateSecretCommand({ Name: SECRET_ID, SecretString: value(crypto.randomUUID()) })))
      .ARN as string;
  } catch (e) {
    if ((e as Error).name !== 'ResourceExistsException') throw e;
    arn = (await sm.send(new PutSecretValueCommand({ SecretId: SECRET_ID, SecretString: value(crypto.randomUUID()) })))
      .ARN as string;
  }
  console.log(`  ${arn} with keys username, password, host (${ms(t)})`);

  step(3, `namespace "${NAMESPACE}" in both clusters with workloads`);
  t = performance.now();
  const admin = new Map(clusters.map((c) => [c.name, apis(stack.kubeconfig, c.context)]));
  await Promise.all([...admin.values()].map(seedNamespace));
  for (const w of WORKLOADS) {
    const how = w.how === 'none' ? 'does not use the Secret' : `reads Secret ${K8S_SECRET} via ${w.how}`;
    console.log(`  ${`${w.kind}/${w.name}`.padEnd(22)} ${how}`);
  }
  console.log(`  (${ms(t)})`);

  const dir = join(stack.stackDir, 'demo');
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'eks-secret-sync.yaml');
  writeFileSync(
    configFile,
    [
      '# Written by npm run demo: the two local clusters, as the least-privilege eks-secret-sync identity.',
      'clusters:',
      ...clusters.map((c) => `  ${c.name}: { kubeconfig: { path: ${stack.syncKubeconfig}, context: ${c.context} } }`),
      'syncs:',
      `  - source: { secret: ${SECRET_ID} }`,
      '    targets:',
      `      - clusters: [${clusters.map((c) => c.name).join(', ')}]`,
      `        namespaces: [${NAMESPACE}]`,
      `        secret: ${K8S_SECRET}`,
      '        restart: auto',
      '',
    ].join('\n'),
  );
  process.env.EKS_SYNC_CONFIG = configFile;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  if (!options.verbose) process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const { handler: backfill } = await import('../functions/backfill.js');
  const { handler: onRotation } = await import('../functions/on-rotation.js');

  step(4, 'initial backfill (the backfill handler, everything in the configuration)');
  t = performance.now();
  const initial = (await backfill({}, lambdaContext('backfill'))) as Report;
  printReport(initial, 'backfill', ms(t));
  const consumers = new Set(WORKLOADS.filter((w) => w.how !== 'none').map((w) => `${w.kind}/${w.name}`));
  const baseline = new Map<string, Map<string, string | undefined>>();
  const podsBefore = new Map<string, Map<string, PodName[]>>();
  const allWorkloads = WORKLOADS.map((w) => `${w.kind}/${w.name}`);
  for (const [name, api] of admin) {
    baseline.set(name, await settle(api, new Map(), consumers));
    const late = await awaitRollouts(api, allWorkloads);
    if (late.length > 0) console.log(`    ${name}: still rolling out after a minute: ${late.join(', ')}`);
    podsBefore.set(name, await podsOfAll(api));
  }

  step(5, 'rotate: PutSecretValue, then the "Secret Label Updated" (AWSCURRENT) event to the on-rotation handler');
  t = performance.now();
  const put = await sm.send(
    new PutSecretValueCommand({ SecretId: SECRET_ID, SecretString: value(crypto.randomUUID()) }),
  );
  const event = labelUpdatedEvent({ name: SECRET_ID, arn }, put.VersionId, { region: stack.env.AWS_REGION });
  const rotationStart = performance.now();
  const rotation = (await onRotation(event, lambdaContext('onRotation'))) as Report;
  printReport(rotation, 'rotation', ms(rotationStart));
  const restarted: Array<{
    cluster: string;
    kind: string;
    name: string;
    from?: string;
    to?: string;
    podsBefore: PodName[];
    podsAfter: PodName[];
    rolledOut: boolean;
  }> = [];
  const untouched: Array<{ cluster: string; kind: string; name: string; revision?: string }> = [];
  for (const [cluster, api] of admin) {
    const before = baseline.get(cluster) ?? new Map();
    const patched = new Set(
      rotation.results
        .filter((r) => r.cluster === cluster)
        .flatMap((r) => r.restarted.map((w) => `${w.kind}/${w.name}`)),
    );
    const after = await settle(api, before, patched);
    const late = await awaitRollouts(api, patched);
    const pods = await podsOfAll(api);
    for (const w of WORKLOADS) {
      const key = `${w.kind}/${w.name}`;
      if (patched.has(key)) {
        const podsOld = podsBefore.get(cluster)?.get(key) ?? [];
        const podsNew = pods.get(key) ?? [];
        const done = !late.includes(key);
        restarted.push({
          cluster,
          kind: w.kind,
          name: w.name,
          from: before.get(key),
          to: after.get(key),
          podsBefore: podsOld,
          podsAfter: podsNew,
          rolledOut: done,
        });
        console.log(`    ${cluster}: restarted ${key.padEnd(22)} ${before.get(key)} -> ${after.get(key)}`);
        console.log(
          `      pods ${podList(podsOld, podsNew)} -> ${podList(podsNew, podsOld)}${done ? ' (rolled out)' : ' (still rolling out)'}`,
        );
      } else {
        untouched.push({ cluster, kind: w.kind, name: w.name, revision: after.get(key) });
        console.log(`    ${cluster}: left alone ${key.padEnd(21)} ${after.get(key) ?? '(no revision)'}`);
      }
    }
  }
  console.log(`  secret rotated and propagated in ${ms(t)}`);

  step(6, 'redeliver the same event (EventBridge delivers at least once)');
  t = performance.now();
  const again = (await onRotation(event, lambdaContext('onRotation'))) as Report;
  printReport(again, 'redelivery', ms(t));
  const changedOnRedelivery: string[] = [];
  for (const [cluster, api] of admin) {
    const now = await revisionsOf(api);
    for (const r of restarted.filter((x) => x.cluster === cluster)) {
      if (now.get(`${r.kind}/${r.name}`) !== r.to) changedOnRedelivery.push(`${cluster}/${r.kind}/${r.name}`);
    }
  }
  console.log(
    changedOnRedelivery.length === 0
      ? '  nothing written, nothing restarted'
      : `  unexpected new revisions: ${changedOnRedelivery.join(', ')}`,
  );

  step(7, 'look around (the stack keeps running)');
  console.log(`  eval "$(npm run --silent stack -- env)"     # KUBECONFIG, AWS_ENDPOINT_URL, kubectl on PATH`);
  console.log(
    `  kubectl --context ${clusters[0]?.context} -n ${NAMESPACE} get secret ${K8S_SECRET} -o jsonpath='{.metadata.annotations}'`,
  );
  console.log(`  kubectl --context ${clusters[0]?.context} -n ${NAMESPACE} get replicasets,controllerrevisions,pods`);
  console.log(`  EKS_SYNC_CONFIG=${configFile} npm run --silent cli -- plan`);
  console.log('  npm run stack -- down                        # stop everything the stack started');
  console.log(`\ndone in ${ms(total)}`);

  if (options.summary !== undefined) {
    writeFileSync(
      options.summary,
      JSON.stringify(
        {
          clusters: clusters.map((c) => c.name),
          namespace: NAMESPACE,
          secret: K8S_SECRET,
          versionId: put.VersionId,
          backfill: initial,
          rotation,
          redelivery: again,
          restarted,
          untouched,
          changedOnRedelivery,
        },
        null,
        2,
      ),
    );
  }
  const failed =
    [initial, rotation, again].some((r) => (r.summary.failed ?? 0) > 0) ||
    changedOnRedelivery.length > 0 ||
    restarted.some((r) => !r.rolledOut);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error: unknown) => {
  if (error instanceof ResourceNotFoundException) console.error(`demo failed: ${error.name}`);
  else console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
