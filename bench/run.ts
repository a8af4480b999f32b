/**
 * `npm run bench`: propagation latency, API cost and scale on the local stack (issue 8).
 *
 * 1. rotation -> every binding written and its consumer restarted: the real on-rotation handler, wall time p50/p95
 *    for 1 secret x {1, 3, 5} clusters x {1, 10} namespaces, one consuming Deployment per namespace;
 * 2. API calls per event, counted at the ports (SDK middleware, KubeApi/EksAccess decorators) and cross-checked at
 *    the HTTP level (undici diagnostics channels), for a rotation and for its redelivery (nothing changed);
 * 3. the same fan-out with clusterConcurrency 1 vs the default, interleaved in the same run;
 * 4. reconcile over 100 and 1000 bindings, nothing changed and with 10% of the Secrets edited beforehand;
 * 5. bundle cold-init per function, from scripts/bench-bundles.mjs when it exists.
 * Prints tables and writes bench/results/latest.json. Values are never printed: names, counts and times only.
 *
 * Options: --iterations N (timed rotations per case, default 12), --reconcile-iterations N (default 3).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { createClusterConnector } from '../lib/clusters/connector.js';
import { createEksAccess } from '../lib/clusters/eks.js';
import { type Config, loadConfigFile } from '../lib/config/index.js';
import { parseSecretEvent, reconcileRequest, toSyncRequest } from '../lib/events/index.js';
import { createSecretsManagerSource } from '../lib/source/secrets-manager.js';
import { mapLimit } from '../lib/sync/concurrency.js';
import { SyncEngine } from '../lib/sync/engine.js';
import { kubernetesNameFor } from '../lib/sync/names.js';
import type { SyncReport, SyncRequest } from '../lib/sync/types.js';
import { EksCounter, HttpCounter, KubeCounter, SecretsManagerCounter } from './counting.js';
import {
  type AdminApis,
  adminApis,
  consumerDeployment,
  driftSecrets,
  ensureDeployment,
  ensureNamespace,
  ensureSecrets,
  labelUpdatedEvent,
  rotate,
  type StackEnv,
  stackEnv,
  stackScript,
} from './stack.js';
import { round, type Timing, table, timing } from './stats.js';

const { values: options } = parseArgs({
  options: {
    iterations: { type: 'string', default: '12' },
    'reconcile-iterations': { type: 'string', default: '3' },
  },
});
const ITERATIONS = Math.max(10, Number(options.iterations));
const RECONCILE_ITERATIONS = Math.max(1, Number(options['reconcile-iterations']));

const CLUSTERS = 5;
const ROTATION_CASES = [1, 3, 5].flatMap((clusters) => [1, 10].map((namespaces) => ({ clusters, namespaces })));
const ROTATION_NAMESPACES = Array.from({ length: 10 }, (_, i) => `bench-rot-${i + 1}`);
const ROTATION_PREFIX = 'bench/rotation/';
const RECONCILE_PREFIX = 'bench/reconcile/';
const RECONCILE_SECRETS = Array.from({ length: 100 }, (_, i) => `${RECONCILE_PREFIX}s${String(i).padStart(3, '0')}`);
const RECONCILE_CASES = [
  { bindings: 100, clusters: 1, namespaces: ['bench-rc0'] },
  { bindings: 1000, clusters: 2, namespaces: ['bench-rc1', 'bench-rc2', 'bench-rc3', 'bench-rc4', 'bench-rc5'] },
];
const FANOUT_CASES = [
  { clusters: 5, namespaces: 1 },
  { clusters: 5, namespaces: 10 },
];
const CONSUMER = 'bench-consumer';

const caseId = (c: { clusters: number; namespaces: number }) => `c${c.clusters}-n${c.namespaces}`;
const rotationSecret = (c: { clusters: number; namespaces: number }) => `${ROTATION_PREFIX}${caseId(c)}`;
const rotationK8sSecret = (c: { clusters: number; namespaces: number }) => `bench-${caseId(c)}`;

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const log = (s: string) => console.log(s);
const elapsed = (start: number) => `${((performance.now() - start) / 1000).toFixed(1)} s`;

function lambdaContext(functionName: string): Context {
  const id = crypto.randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: id,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: id,
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

// ---------------------------------------------------------------------------------------------------------- setup

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

async function setup(stack: StackEnv, admins: AdminApis[], sm: SecretsManagerClient): Promise<Record<string, string>> {
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
  const files: Record<string, string> = {
    rotation: join(dir, 'rotation.yaml'),
    'rotation-sequential': join(dir, 'rotation-sequential.yaml'),
  };
  writeFileSync(files.rotation as string, rotationConfig(stack));
  writeFileSync(files['rotation-sequential'] as string, rotationConfig(stack, 1));
  for (const c of RECONCILE_CASES) {
    const file = join(dir, `reconcile-${c.bindings}.yaml`);
    writeFileSync(file, reconcileConfig(stack, c));
    files[`reconcile-${c.bindings}`] = file;
  }
  return files;
}

// ------------------------------------------------------------------------------------------------ counting engine

interface Counted {
  engine: SyncEngine;
  sm: SecretsManagerCounter;
  kube: KubeCounter;
  eks: EksCounter;
}

/** The engine as functions/runtime.ts wires it (real adapters), with counting decorators at every port. */
function countedEngine(config: Config): Counted {
  const sm = new SecretsManagerCounter();
  const kube = new KubeCounter();
  const eks = new EksCounter();
  const client = new SecretsManagerClient({});
  sm.attach(client);
  const connector = createClusterConnector(config.clusters, { eks: eks.wrap(createEksAccess()) });
  const engine = new SyncEngine({
    config,
    source: createSecretsManagerSource(client),
    clusters: kube.wrapConnector(connector),
  });
  return { engine, sm, kube, eks };
}

interface CallCounts {
  secretsManager: { valueReads: number; total: number; commands: Record<string, number>; httpAttempts: number };
  eks: { describeCluster: number; token: number };
  kube: { reads: number; writes: number; patches: number; total: number; methods: Record<string, number> };
  http: { requests: number; byMethod: Record<string, number>; newConnections: number };
}

async function counted(
  c: Counted,
  http: HttpCounter,
  request: SyncRequest,
): Promise<{ report: SyncReport; ms: number; counts: CallCounts }> {
  c.sm.reset();
  c.kube.reset();
  c.eks.reset();
  http.start();
  const start = performance.now();
  const report = await c.engine.run(request);
  const ms = performance.now() - start;
  http.stop();
  return {
    report,
    ms,
    counts: {
      secretsManager: {
        valueReads: c.sm.valueReads,
        total: c.sm.total,
        commands: { ...c.sm.commands },
        httpAttempts: c.sm.attempts,
      },
      eks: { describeCluster: c.eks.describe, token: c.eks.token },
      kube: {
        reads: c.kube.reads,
        writes: c.kube.writes,
        patches: c.kube.patches,
        total: c.kube.reads + c.kube.writes + c.kube.patches,
        methods: { ...c.kube.methods },
      },
      http: { requests: http.total, byMethod: { ...http.requests }, newConnections: http.connections },
    },
  };
}

function failures(report: SyncReport): string[] {
  return [
    ...report.sources.filter((s) => s.error).map((s) => `${s.id}: ${s.error?.message}`),
    ...report.results
      .filter((r) => r.action === 'failed')
      .map((r) => `${r.cluster}/${r.namespace}/${r.secret}: ${r.error?.message}`),
  ];
}

// ------------------------------------------------------------------------------------------------------- sections

interface RotationRow {
  case: string;
  clusters: number;
  namespaces: number;
  bindings: number;
  handler: Timing;
  engine: Timing;
  httpRequestsPerEvent: number;
  newConnectionsPerEvent: number;
  allWrittenAndRestarted: boolean;
  problems: string[];
}

async function rotationWallTime(stack: StackEnv, sm: SecretsManagerClient, configFile: string, http: HttpCounter) {
  process.env.EKS_SYNC_CONFIG = configFile;
  const { handler } = await import('../functions/on-rotation.js');
  const rows: RotationRow[] = [];
  for (const c of ROTATION_CASES) {
    const bindings = c.clusters * c.namespaces;
    const wall: number[] = [];
    const engineMs: number[] = [];
    const requests: number[] = [];
    const connections: number[] = [];
    const problems = new Set<string>();
    // One untimed pass first: connections and caches as in a warm container.
    for (let i = 0; i <= ITERATIONS; i++) {
      const secret = rotationSecret(c);
      const { arn, versionId } = await rotate(sm, secret);
      const event = labelUpdatedEvent(secret, arn, versionId, stack.env.AWS_REGION ?? 'us-east-1');
      http.start();
      const start = performance.now();
      let report: SyncReport;
      try {
        report = (await handler(event, lambdaContext('onRotation'))) as SyncReport;
      } catch (error) {
        http.stop();
        const r = (error as { report?: SyncReport }).report;
        for (const f of r === undefined ? [(error as Error).message] : failures(r)) problems.add(f);
        continue;
      }
      const ms = performance.now() - start;
      http.stop();
      const updated = report.summary.updated + report.summary.created;
      if (updated !== bindings || report.summary.restarts !== bindings) {
        problems.add(
          `expected ${bindings} written + ${bindings} restarts, got ${updated} + ${report.summary.restarts}`,
        );
      }
      if (i === 0) continue;
      wall.push(ms);
      engineMs.push(report.durationMs);
      requests.push(http.total);
      connections.push(http.connections);
    }
    const row: RotationRow = {
      case: caseId(c),
      clusters: c.clusters,
      namespaces: c.namespaces,
      bindings,
      handler: timing(wall),
      engine: timing(engineMs),
      httpRequestsPerEvent: timing(requests).p50,
      newConnectionsPerEvent: timing(connections).p50,
      allWrittenAndRestarted: problems.size === 0,
      problems: [...problems].slice(0, 5),
    };
    rows.push(row);
    log(
      `  ${row.case}: p50 ${row.handler.p50} ms, p95 ${row.handler.p95} ms${problems.size ? ` (problems: ${[...problems][0]})` : ''}`,
    );
  }
  return rows;
}

interface CallRow {
  case: string;
  bindings: number;
  event: 'rotation' | 'redelivery';
  actions: string;
  counts: CallCounts;
}

async function callCounts(stack: StackEnv, sm: SecretsManagerClient, config: Config, http: HttpCounter) {
  const c = countedEngine(config);
  const rows: CallRow[] = [];
  for (const fanout of ROTATION_CASES) {
    const secret = rotationSecret(fanout);
    const { arn, versionId } = await rotate(sm, secret);
    const parsed = parseSecretEvent(labelUpdatedEvent(secret, arn, versionId, stack.env.AWS_REGION ?? 'us-east-1'));
    if (parsed.kind !== 'sync') throw new Error(`bench event not understood: ${parsed.reason}`);
    const request = toSyncRequest(parsed, { eventId: 'bench' });
    for (const event of ['rotation', 'redelivery'] as const) {
      const { report, counts } = await counted(c, http, request);
      const problems = failures(report);
      if (problems.length > 0) throw new Error(`counting run ${caseId(fanout)} failed: ${problems[0]}`);
      const s = report.summary;
      rows.push({
        case: caseId(fanout),
        bindings: fanout.clusters * fanout.namespaces,
        event,
        actions: `${s.updated + s.created} written, ${s.unchanged} unchanged, ${s.restarts} restarts`,
        counts,
      });
    }
  }
  return rows;
}

interface FanoutRow {
  case: string;
  bindings: number;
  sequential: Timing;
  parallel: Timing;
  ratio: number;
  slowestClusterAlone: number;
  sumOfClusters: number;
  parallelOverSlowest: number;
  perClusterAloneP50: Record<string, number>;
}

async function fanout(stack: StackEnv, sm: SecretsManagerClient, files: Record<string, string>) {
  const parallel = countedEngine(await loadConfigFile(files.rotation as string));
  const sequential = countedEngine(await loadConfigFile(files['rotation-sequential'] as string));
  const rows: FanoutRow[] = [];
  for (const fan of FANOUT_CASES) {
    const secret = rotationSecret(fan);
    const samples = { sequential: [] as number[], parallel: [] as number[] };
    const spans = new Map<string, number[]>();
    const slowest: number[] = [];
    const sums: number[] = [];
    for (let i = 0; i <= ITERATIONS; i++) {
      // Interleaved so that both modes see the same stack conditions.
      for (const [mode, c] of [
        ['sequential', sequential],
        ['parallel', parallel],
      ] as const) {
        const { arn, versionId } = await rotate(sm, secret);
        const parsed = parseSecretEvent(labelUpdatedEvent(secret, arn, versionId, stack.env.AWS_REGION ?? 'us-east-1'));
        if (parsed.kind !== 'sync') throw new Error('bench event not understood');
        c.kube.reset();
        const start = performance.now();
        const report = await c.engine.run(toSyncRequest(parsed));
        const ms = performance.now() - start;
        const problems = failures(report);
        if (problems.length > 0) throw new Error(`fan-out run failed: ${problems[0]}`);
        if (i === 0) continue;
        samples[mode].push(ms);
        if (mode === 'sequential') {
          // Sequentially, each cluster's busy span is that cluster alone: no contention from the others.
          const perCluster = c.kube.clusterSpans();
          for (const [cluster, span] of Object.entries(perCluster))
            spans.set(cluster, [...(spans.get(cluster) ?? []), span]);
          slowest.push(Math.max(...Object.values(perCluster)));
          sums.push(Object.values(perCluster).reduce((a, b) => a + b, 0));
        }
      }
    }
    const seq = timing(samples.sequential);
    const par = timing(samples.parallel);
    const slowestAlone = timing(slowest).p50;
    rows.push({
      case: caseId(fan),
      bindings: fan.clusters * fan.namespaces,
      sequential: seq,
      parallel: par,
      ratio: round(seq.p50 / par.p50, 2),
      slowestClusterAlone: slowestAlone,
      sumOfClusters: timing(sums).p50,
      parallelOverSlowest: round(par.p50 / slowestAlone, 2),
      perClusterAloneP50: Object.fromEntries([...spans].map(([cluster, s]) => [cluster, timing(s).p50])),
    });
    log(`  ${caseId(fan)}: sequential p50 ${seq.p50} ms, parallel p50 ${par.p50} ms`);
  }
  return rows;
}

interface ReconcileRow {
  bindings: number;
  scenario: 'first pass' | 'unchanged' | 'drift 10%';
  duration: Timing;
  drifted: number;
  repaired: number;
  counts: CallCounts;
}

async function reconcile(admins: AdminApis[], files: Record<string, string>, http: HttpCounter) {
  const rows: ReconcileRow[] = [];
  for (const rc of RECONCILE_CASES) {
    const config = await loadConfigFile(files[`reconcile-${rc.bindings}`] as string);
    const c = countedEngine(config);
    const run = async () => {
      const out = await counted(c, http, reconcileRequest({ origin: 'bench' }));
      const problems = failures(out.report);
      if (problems.length > 0) throw new Error(`reconcile ${rc.bindings} failed: ${problems[0]}`);
      if (out.report.results.length !== rc.bindings) {
        throw new Error(`reconcile ${rc.bindings}: planned ${out.report.results.length} bindings`);
      }
      return out;
    };
    const first = await run();
    rows.push({
      bindings: rc.bindings,
      scenario: 'first pass',
      duration: timing([first.ms]),
      drifted: 0,
      repaired: first.report.results.filter((r) => r.drift).length,
      counts: first.counts,
    });
    const results = first.report.results;

    const unchanged: Array<Awaited<ReturnType<typeof run>>> = [];
    for (let i = 0; i < RECONCILE_ITERATIONS; i++) unchanged.push(await run());
    rows.push(summarise(rc.bindings, 'unchanged', unchanged, 0));

    const drifted: Array<Awaited<ReturnType<typeof run>>> = [];
    let driftCount = 0;
    for (let i = 0; i < RECONCILE_ITERATIONS; i++) {
      const targets = results.filter((_, index) => index % 10 === i % 10);
      driftCount = targets.length;
      await Promise.all(
        admins.map((admin) =>
          driftSecrets(
            admin,
            targets.filter((t) => t.cluster === admin.cluster).map((t) => ({ namespace: t.namespace, name: t.secret })),
          ),
        ),
      );
      const out = await run();
      const repaired = out.report.results.filter((r) => r.action === 'updated').length;
      if (repaired !== driftCount)
        throw new Error(`reconcile ${rc.bindings}: drifted ${driftCount}, repaired ${repaired}`);
      drifted.push(out);
    }
    rows.push(summarise(rc.bindings, 'drift 10%', drifted, driftCount));
    log(
      `  ${rc.bindings} bindings: unchanged p50 ${rows.at(-2)?.duration.p50} ms, drift p50 ${rows.at(-1)?.duration.p50} ms`,
    );
  }
  return rows;
}

/** Durations over the runs; counts from the last run (they are the same for every run of a scenario). */
function summarise(
  bindings: number,
  scenario: ReconcileRow['scenario'],
  runs: Array<{ ms: number; report: SyncReport; counts: CallCounts }>,
  drifted: number,
): ReconcileRow {
  const last = runs.at(-1) as (typeof runs)[number];
  return {
    bindings,
    scenario,
    duration: timing(runs.map((r) => r.ms)),
    drifted,
    repaired: last.report.results.filter((r) => r.drift).length,
    counts: last.counts,
  };
}

function bundles(): { rows?: unknown; output?: string; skipped?: string } {
  const script = join(import.meta.dirname, '..', 'scripts', 'bench-bundles.mjs');
  if (!existsSync(script))
    return { skipped: 'scripts/bench-bundles.mjs does not exist (yet): bundle cold-init not measured' };
  let output: string;
  try {
    output = execFileSync(process.execPath, [script, '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    return { skipped: `scripts/bench-bundles.mjs failed: ${(error as Error).message.split('\n')[0]}` };
  }
  try {
    return { rows: JSON.parse(output) };
  } catch {
    return { output: output.trim() };
  }
}

// ----------------------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const total = performance.now();
  log(bold('eks-secret-sync benchmark'));
  let t = performance.now();
  log(`\n${bold('[1/6]')} local stack with ${CLUSTERS} clusters`);
  stackScript(['up', '--clusters', String(CLUSTERS)], true);
  const stack = stackEnv();
  if (stack.clusters.length < CLUSTERS)
    throw new Error(`the stack runs ${stack.clusters.length} clusters, need ${CLUSTERS}`);
  stack.clusters = stack.clusters.slice(0, CLUSTERS);
  Object.assign(process.env, stack.env);
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const sm = new SecretsManagerClient({});
  const admins = stack.clusters.map((c) => adminApis(stack.kubeconfig, c.context));
  const files = await setup(stack, admins, sm);
  log(`  ready (${elapsed(t)})`);
  const http = new HttpCounter(new Set(stack.clusters.map((c) => c.server)));

  t = performance.now();
  log(`\n${bold('[2/6]')} rotation wall time, real on-rotation handler (${ITERATIONS} timed + 1 warm-up per case)`);
  const rotation = await rotationWallTime(stack, sm, files.rotation as string, http);
  log(`  (${elapsed(t)})`);

  t = performance.now();
  log(`\n${bold('[3/6]')} API calls per event (engine with counting decorators; HTTP cross-check)`);
  const calls = await callCounts(stack, sm, await loadConfigFile(files.rotation as string), http);
  log(`  (${elapsed(t)})`);

  t = performance.now();
  log(`\n${bold('[4/6]')} fan-out: clusterConcurrency 1 vs default, interleaved`);
  const fan = await fanout(stack, sm, files);
  log(`  (${elapsed(t)})`);

  t = performance.now();
  log(`\n${bold('[5/6]')} reconcile over 100 and 1000 bindings (${RECONCILE_ITERATIONS} runs each)`);
  const rec = await reconcile(admins, files, http);
  log(`  (${elapsed(t)})`);

  log(`\n${bold('[6/6]')} bundle cold-init`);
  const bundle = bundles();
  log(bundle.skipped === undefined ? '  measured' : `  skipped: ${bundle.skipped}`);

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    commit: gitCommit(),
    stack: { clusters: stack.clusters.map((c) => c.name), versions: stack.versions ?? {} },
    iterations: ITERATIONS,
    rotation,
    calls,
    fanout: fan,
    reconcile: rec,
    bundles: bundle,
    notes: [
      'EKS DescribeCluster is 0 by construction here: the local clusters are kubeconfig contexts (counted, not assumed).',
      'Kubernetes reads = getSecret + listWorkloads (one per workload kind); writes = create/replace/delete Secret; patches = Secret annotation + pod-template patches.',
    ],
  };
  printTables(results);
  const out = join(import.meta.dirname, 'results', 'latest.json');
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  log(`\nresults: ${out}\ntotal ${elapsed(total)}`);
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function printTables(r: {
  rotation: RotationRow[];
  calls: CallRow[];
  fanout: FanoutRow[];
  reconcile: ReconcileRow[];
  bundles: { rows?: unknown; output?: string; skipped?: string };
}): void {
  log(
    table(
      'Rotation -> all bindings written + consumers restarted (on-rotation handler, warm)',
      ['case', 'bindings', 'p50 ms', 'p95 ms', 'min', 'max', 'engine p50', 'HTTP req', 'new conns', 'ok'],
      r.rotation.map((x) => [
        x.case,
        x.bindings,
        x.handler.p50,
        x.handler.p95,
        x.handler.min,
        x.handler.max,
        x.engine.p50,
        x.httpRequestsPerEvent,
        x.newConnectionsPerEvent,
        x.allWrittenAndRestarted ? 'yes' : 'NO',
      ]),
    ),
  );
  log(
    table(
      'API calls per event (counted at the ports; HTTP = requests seen by undici to the API servers)',
      [
        'case',
        'event',
        'SM reads',
        'SM calls',
        'EKS Describe',
        'k8s reads',
        'writes',
        'patches',
        'HTTP req',
        'new conns',
        'result',
      ],
      r.calls.map((x) => [
        x.case,
        x.event,
        x.counts.secretsManager.valueReads,
        x.counts.secretsManager.total,
        x.counts.eks.describeCluster,
        x.counts.kube.reads,
        x.counts.kube.writes,
        x.counts.kube.patches,
        x.counts.http.requests,
        x.counts.http.newConnections,
        x.actions,
      ]),
    ),
  );
  log(
    table(
      'Fan-out: sequential (clusterConcurrency 1) vs parallel (default 8), engine wall time',
      ['case', 'seq p50', 'seq p95', 'par p50', 'par p95', 'seq/par', 'slowest cluster', 'sum clusters', 'par/slowest'],
      r.fanout.map((x) => [
        x.case,
        x.sequential.p50,
        x.sequential.p95,
        x.parallel.p50,
        x.parallel.p95,
        x.ratio,
        x.slowestClusterAlone,
        x.sumOfClusters,
        x.parallelOverSlowest,
      ]),
    ),
  );
  log(
    table(
      'Reconcile (engine, real adapters)',
      [
        'bindings',
        'scenario',
        'p50 ms',
        'max ms',
        'repaired',
        'SM calls',
        'SM reads',
        'k8s reads',
        'writes',
        'patches',
        'HTTP req',
        'new conns',
      ],
      r.reconcile.map((x) => [
        String(x.bindings),
        x.scenario,
        x.duration.p50,
        x.duration.max,
        x.repaired,
        x.counts.secretsManager.total,
        x.counts.secretsManager.valueReads,
        x.counts.kube.reads,
        x.counts.kube.writes,
        x.counts.kube.patches,
        x.counts.http.requests,
        x.counts.http.newConnections,
      ]),
    ),
  );
  log('\nSecrets Manager commands per reconcile pass:');
  for (const x of r.reconcile)
    log(`  ${x.bindings} ${x.scenario}: ${JSON.stringify(x.counts.secretsManager.commands)}`);
  log('\nBundle cold-init');
  if (r.bundles.skipped !== undefined) log(`  skipped: ${r.bundles.skipped}`);
  else if (r.bundles.output !== undefined) log(r.bundles.output.replace(/^/gm, '  '));
  else log(`  ${JSON.stringify(r.bundles.rows, null, 2).replace(/\n/g, '\n  ')}`);
}

main()
  .then(() => process.exit(process.exitCode ?? 0))
  .catch((error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
