/**
 * A burst: 20 secrets consumed by one Deployment rotated at once (5 PutSecretValue in flight, each message queued as
 * its rotation returns, as EventBridge delivers them), through the rotation queue path: the in-process SQS event
 * source (test/support/sqs-driver.ts) invokes onRotation's batch path with the real adapters, once with the default
 * batching window (2 s, serverless.yml `rotationBatchWindow`) and once with 0 (no coalescing). Restarts are counted
 * from the cluster (the Deployment's `metadata.generation`), calls at the ports.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { syncBatch } from '../../functions/rotation-batch.js';
import { buildRuntime } from '../../functions/runtime.js';
import { loadConfigFile } from '../../lib/config/index.js';
import { kubernetesNameFor } from '../../lib/domain/names.js';
import { readRotationBatch } from '../../lib/events/index.js';
import { mapLimit } from '../../lib/sync/concurrency.js';
import { createAdapters } from '../../lib/wiring/index.js';
import { lambdaContext } from '../../scripts/lambda-context.js';
import { SqsDriver } from '../../test/support/sqs-driver.js';
import { KubeCounter, SecretsManagerCounter } from '../counting.js';
import type { Bench, Column, Section } from '../section.js';
import {
  consumerDeployment,
  ensureDeployment,
  ensureNamespace,
  ensureSecrets,
  labelUpdatedEvent,
  rotate,
} from '../stack.js';
import { round } from '../stats.js';

const SECRETS = 20;
const PREFIX = 'bench/burst/';
const NAMES = Array.from({ length: SECRETS }, (_, i) => `${PREFIX}s${String(i).padStart(2, '0')}`);
const NAMESPACE = 'bench-burst';
const CONSUMER = 'bench-burst-consumer';
/** serverless.yml's defaults: rotationBatchSize 100, rotationBatchWindow 2 (seconds). */
const BATCH_SIZE = 100;
const VARIANTS = [
  { variant: 'coalescing (window 2 s)', windowMs: 2_000 },
  { variant: 'no coalescing (window 0)', windowMs: 0 },
];

export interface BurstRow {
  variant: string;
  windowMs: number;
  secrets: number;
  invocations: number;
  /** Template changes of the one consuming Deployment (each is one rolling restart). */
  restarts: number;
  smCalls: number;
  smValueReads: number;
  kubeCalls: number;
  /** From the first rotation sent to the last invocation returned, ms. */
  doneMs: number;
  failedMessages: number;
}

export const columns: Array<Column<BurstRow>> = [
  { header: 'batching', cell: (x) => x.variant },
  { header: 'secrets', cell: (x) => x.secrets },
  { header: 'invocations', cell: (x) => x.invocations },
  { header: 'restarts of the workload', cell: (x) => x.restarts },
  { header: 'SM calls', cell: (x) => x.smCalls },
  { header: 'SM value reads', cell: (x) => x.smValueReads },
  { header: 'k8s calls', cell: (x) => x.kubeCalls },
  { header: 'time to done, ms', cell: (x) => x.doneMs },
  { header: 'failed messages', cell: (x) => x.failedMessages },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seeds the secrets, the namespace and its consumer on the first cluster, and writes the configuration. */
async function seed({ stack, admins, sm }: Bench): Promise<string> {
  const [admin, cluster] = [admins[0], stack.clusters[0]];
  if (admin === undefined || cluster === undefined) throw new Error('burst: the stack has no cluster');
  await ensureSecrets(sm, PREFIX, NAMES);
  await ensureNamespace(admin, NAMESPACE);
  await ensureDeployment(admin, NAMESPACE, consumerDeployment(CONSUMER, NAMES.map(kubernetesNameFor)));
  const file = join(stack.stackDir, 'bench', 'burst.yaml');
  writeFileSync(
    file,
    [
      '# Written by npm run bench: the burst section, 20 secrets by prefix into one namespace.',
      'clusters:',
      `  ${cluster.name}: { kubeconfig: { path: ${stack.syncKubeconfig}, context: ${cluster.context} } }`,
      'syncs:',
      `  - source: { namePrefix: ${PREFIX} }`,
      '    targets:',
      `      - { clusters: [${cluster.name}], namespaces: [${NAMESPACE}], restart: auto }`,
      '',
    ].join('\n'),
  );
  return file;
}

async function generation(bench: Bench): Promise<number> {
  const admin = bench.admins[0];
  if (admin === undefined) return 0;
  const d = await admin.apps.readNamespacedDeployment({ namespace: NAMESPACE, name: CONSUMER });
  return d.metadata?.generation ?? 0;
}

/** One burst through the queue with this batching window. */
async function runBurst(bench: Bench, file: string, windowMs: number): Promise<Omit<BurstRow, 'variant'>> {
  const config = await loadConfigFile(file);
  const sm = new SecretsManagerCounter();
  const kube = new KubeCounter();
  const adapters = createAdapters(config, { onClient: (client) => sm.attach(client) });
  const runtime = buildRuntime({ config, source: adapters.source, clusters: kube.wrapConnector(adapters.clusters) });
  const handler = (event: SQSEvent, context: ReturnType<typeof lambdaContext>) =>
    syncBatch(runtime, readRotationBatch(event), context);
  const driver = new SqsDriver(handler, () => lambdaContext('onRotation'), {
    batchSize: BATCH_SIZE,
    windowMs,
    maxReceiveCount: 5,
  });
  const region = bench.stack.env.AWS_REGION ?? 'us-east-1';
  const before = await generation(bench);

  const start = performance.now();
  let sent = 0;
  const rotations = mapLimit(NAMES, 5, async (name) => {
    const { arn, versionId } = await rotate(bench.sm, name);
    driver.send(labelUpdatedEvent(name, arn, versionId, region));
    sent += 1;
  });
  // The event source polls while the rotations arrive; with a window it waits for them, without one it takes what
  // is there. One poll at a time (Lambda may run several batches at once, up to the mapping's maximum concurrency).
  let failed = 0;
  while (sent < NAMES.length || driver.depth > 0) {
    const invocation = await driver.poll();
    if (invocation === undefined) await sleep(10);
    else failed += invocation.failed.length;
  }
  await rotations;
  const doneMs = round(performance.now() - start, 0);

  return {
    windowMs,
    secrets: NAMES.length,
    invocations: driver.invocations.length,
    restarts: (await generation(bench)) - before,
    smCalls: sm.total,
    smValueReads: sm.valueReads,
    kubeCalls: Object.values(kube.methods).reduce((a, b) => a + b, 0),
    doneMs,
    failedMessages: failed,
  };
}

export const burst: Section<BurstRow[]> = {
  key: 'burst',
  title: () => `${SECRETS} secrets rotated at once through the rotation queue, batching window 2 s and 0`,
  async run(bench) {
    const file = await seed(bench);
    // First sync of the burst's Secrets (creates them, one restart), untimed: the timed bursts update.
    await runBurst(bench, file, 2_000);
    const rows: BurstRow[] = [];
    for (const { variant, windowMs } of VARIANTS) {
      const row = { variant, ...(await runBurst(bench, file, windowMs)) };
      rows.push(row);
      console.log(
        `  ${variant}: ${row.invocations} invocations, ${row.restarts} restarts, ${row.smCalls} SM calls, ${row.doneMs} ms`,
      );
    }
    return rows;
  },
  tables: (rows) => [
    {
      title: `Burst: ${SECRETS} secrets consumed by one Deployment rotated at once (5 PutSecretValue in flight), onRotation's batch path`,
      columns,
      rows,
    },
  ],
};
