/**
 * What the sections share on the local stack: the fan-out cases, the names of their secrets, namespaces and
 * consumers, and `setup`, which seeds them (idempotently) and writes the configuration files the sections load.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { kubernetesNameFor } from '../lib/domain/names.js';
import { mapLimit } from '../lib/sync/concurrency.js';
import {
  type AdminApis,
  consumerDeployment,
  ensureDeployment,
  ensureNamespace,
  ensureSecrets,
  type StackEnv,
  settleConsumers,
} from './stack.js';

export interface Fanout {
  clusters: number;
  namespaces: number;
}

export const CLUSTERS = 5;
export const ROTATION_CASES: Fanout[] = [1, 3, 5].flatMap((clusters) =>
  [1, 10].map((namespaces) => ({ clusters, namespaces })),
);
export const ROTATION_NAMESPACES = Array.from({ length: 10 }, (_, i) => `bench-rot-${i + 1}`);
const ROTATION_PREFIX = 'bench/rotation/';
const RECONCILE_PREFIX = 'bench/reconcile/';
const RECONCILE_SECRETS = Array.from({ length: 100 }, (_, i) => `${RECONCILE_PREFIX}s${String(i).padStart(3, '0')}`);
export const RECONCILE_CASES = [
  { bindings: 100, clusters: 1, namespaces: ['bench-rc0'] },
  { bindings: 1000, clusters: 2, namespaces: ['bench-rc1', 'bench-rc2', 'bench-rc3', 'bench-rc4', 'bench-rc5'] },
];
export const CONSUMER = 'bench-consumer';

export const caseId = (c: Fanout) => `c${c.clusters}-n${c.namespaces}`;
export const rotationSecret = (c: Fanout) => `${ROTATION_PREFIX}${caseId(c)}`;
export const rotationK8sSecret = (c: Fanout) => `bench-${caseId(c)}`;

/** The configuration files the sections load, by name. */
export interface ConfigFiles {
  rotation: string;
  /** The same with `clusterConcurrency: 1`. */
  'rotation-sequential': string;
  [reconcile: `reconcile-${number}`]: string;
}

function clusterYaml(stack: StackEnv, concurrency?: number): string[] {
  return [
    'clusters:',
    ...stack.clusters.map(
      (c) => `  ${c.name}: { kubeconfig: { path: ${stack.syncKubeconfig}, context: ${c.context} } }`,
    ),
    ...(concurrency === undefined ? [] : ['defaults:', `  clusterConcurrency: ${concurrency}`]),
  ];
}

function rotationConfig(stack: StackEnv, concurrency?: number): string {
  const names = stack.clusters.map((c) => c.name);
  return [
    '# Written by npm run bench: one secret per fan-out case, as the eks-secret-sync identity.',
    ...clusterYaml(stack, concurrency),
    'syncs:',
    ...ROTATION_CASES.flatMap((c) => [
      `  - source: { secret: ${rotationSecret(c)} }`,
      '    targets:',
      `      - clusters: [${names.slice(0, c.clusters).join(', ')}]`,
      `        namespaces: [${ROTATION_NAMESPACES.slice(0, c.namespaces).join(', ')}]`,
      `        secret: ${rotationK8sSecret(c)}`,
      '        restart: auto',
    ]),
    '',
  ].join('\n');
}

function reconcileConfig(stack: StackEnv, c: (typeof RECONCILE_CASES)[number]): string {
  const names = stack.clusters.map((x) => x.name);
  return [
    `# Written by npm run bench: ${c.bindings} bindings (100 secrets by prefix).`,
    ...clusterYaml(stack),
    'syncs:',
    `  - source: { namePrefix: ${RECONCILE_PREFIX} }`,
    '    targets:',
    `      - clusters: [${names.slice(0, c.clusters).join(', ')}]`,
    `        namespaces: [${c.namespaces.join(', ')}]`,
    '        restart: auto',
    '',
  ].join('\n');
}

/** Seeds secrets, namespaces and consumers (create-if-missing) and writes the configuration files. */
export async function setup(
  stack: StackEnv,
  admins: AdminApis[],
  sm: SecretsManagerClient,
  log: (line: string) => void,
): Promise<ConfigFiles> {
  const created =
    (await ensureSecrets(sm, ROTATION_PREFIX, ROTATION_CASES.map(rotationSecret))) +
    (await ensureSecrets(sm, RECONCILE_PREFIX, RECONCILE_SECRETS));
  log(`  Secrets Manager: ${ROTATION_CASES.length + RECONCILE_SECRETS.length} secrets (${created} created)`);

  const rotationConsumer = consumerDeployment(CONSUMER, ROTATION_CASES.map(rotationK8sSecret));
  const reconcileConsumer = consumerDeployment(CONSUMER, RECONCILE_SECRETS.map(kubernetesNameFor));
  await Promise.all(
    admins.map(async (admin, index) => {
      const work: Array<{ namespace: string; deployment: typeof rotationConsumer }> = ROTATION_NAMESPACES.map(
        (namespace) => ({ namespace, deployment: rotationConsumer }),
      );
      for (const c of RECONCILE_CASES) {
        if (index < c.clusters)
          work.push(...c.namespaces.map((namespace) => ({ namespace, deployment: reconcileConsumer })));
      }
      await mapLimit(work, 4, async ({ namespace, deployment }) => {
        await ensureNamespace(admin, namespace);
        await ensureDeployment(admin, namespace, deployment);
      });
    }),
  );
  log(`  Kubernetes: namespaces, RoleBindings and one consuming Deployment each, on ${admins.length} clusters`);

  const dir = join(stack.stackDir, 'bench');
  mkdirSync(dir, { recursive: true });
  const files: ConfigFiles = {
    rotation: join(dir, 'rotation.yaml'),
    'rotation-sequential': join(dir, 'rotation-sequential.yaml'),
  };
  writeFileSync(files.rotation, rotationConfig(stack));
  writeFileSync(files['rotation-sequential'], rotationConfig(stack, 1));
  for (const c of RECONCILE_CASES) {
    const file = join(dir, `reconcile-${c.bindings}.yaml`);
    writeFileSync(file, reconcileConfig(stack, c));
    files[`reconcile-${c.bindings}`] = file;
  }
  return files;
}

/** The consumers of one fan-out case, at rest before the next rotation; returns how many were still moving. */
export function settleCase(admins: AdminApis[], c: Fanout): Promise<number> {
  const targets = admins
    .slice(0, c.clusters)
    .flatMap((admin) =>
      ROTATION_NAMESPACES.slice(0, c.namespaces).map((namespace) => ({ admin, namespace, name: CONSUMER })),
    );
  return settleConsumers(targets);
}
