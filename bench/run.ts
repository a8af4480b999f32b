/**
 * `npm run bench`: propagation latency, API cost and scale on the local stack (issue 8). Sections (`--only`):
 *
 * - rotation: rotation -> every binding written and its consumer restarted, the real on-rotation handler, wall time
 *   p50/p95 for 1 secret x {1, 3, 5} clusters x {1, 10} namespaces, one consuming Deployment per namespace;
 * - calls: API calls per event, counted at the ports (SDK middleware, KubeApi/EksAccess decorators) and cross-checked
 *   at the HTTP level (undici diagnostics channels), for a rotation and its redelivery; per-method call latency;
 * - probe: one Secret GET over the pooled KubeConfig vs plain client-node (a new connection per request);
 * - fanout: the same fan-out with clusterConcurrency 1 vs the default, interleaved in the same run;
 * - model: the same engine over in-memory clusters with a fixed round trip per call (no shared CPU);
 * - reconcile: 100 and 1000 bindings, nothing changed and with 10% of the Secrets edited beforehand;
 * - bundles: cold-init per function, from scripts/bench-bundles.mjs when it exists.
 * Prints tables and writes bench/results/latest.json. Values are never printed: names, counts and times only.
 *
 * Options: --iterations N (timed rotations per case, default and minimum 10), --fanout-iterations N (default 5),
 * --reconcile-iterations N (default 3), --only rotation,calls,probe,fanout,model,reconcile,bundles.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createClusterConnector } from '../lib/clusters/connector.js';
import { createEksAccess } from '../lib/clusters/eks.js';
import { loadKubeConfig } from '../lib/clusters/kubeconfig.js';
import { type Config, loadConfigFile } from '../lib/config/index.js';
import { parseSecretEvent, reconcileRequest, toSyncRequest } from '../lib/events/index.js';
import { createKubeApi } from '../lib/kube/api.js';
import { createSecretsManagerSource } from '../lib/source/secrets-manager.js';
import { mapLimit } from '../lib/sync/concurrency.js';
import { SyncEngine } from '../lib/sync/engine.js';
import { kubernetesNameFor } from '../lib/sync/names.js';
import type { SyncReport, SyncRequest } from '../lib/sync/types.js';
import { lambdaContext } from '../scripts/lambda-context.js';
import { EksCounter, HttpCounter, KubeCounter, perRequestAgents, SecretsManagerCounter } from './counting.js';
import { type ModelRow, modelFanout } from './model.js';
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
  settleConsumers,
  stackEnv,
  stackScript,
} from './stack.js';
import { round, type Timing, table, timing } from './stats.js';

const SECTIONS = ['rotation', 'calls', 'probe', 'fanout', 'model', 'reconcile', 'bundles'] as const;
type Section = (typeof SECTIONS)[number];
const { values: options } = parseArgs({
  options: {
    iterations: { type: 'string', default: '10' },
    'fanout-iterations': { type: 'string', default: '5' },
    'reconcile-iterations': { type: 'string', default: '3' },
    only: { type: 'string', default: SECTIONS.join(',') },
  },
});
const ITERATIONS = Math.max(10, Number(options.iterations));
const FANOUT_ITERATIONS = Math.max(1, Number(options['fanout-iterations']));
const RECONCILE_ITERATIONS = Math.max(1, Number(options['reconcile-iterations']));
const ONLY = new Set(options.only.split(',').map((x) => x.trim()));
for (const x of ONLY) if (!SECTIONS.includes(x as Section)) throw new Error(`--only: unknown section "${x}"`);
const want = (section: Section) => ONLY.has(section);

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

interface CountedRun {
  report: SyncReport;
  ms: number;
  cpuMs: number;
  /** TCP sockets held by the process right after the pass (idle keep-alive sockets of per-request agents). */
  openSockets: number;
  counts: CallCounts;
}

const openSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

async function counted(c: Counted, http: HttpCounter, request: SyncRequest): Promise<CountedRun> {
  c.sm.reset();
  c.kube.reset();
  c.eks.reset();
  http.start();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const report = await c.engine.run(request);
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  http.stop();
  return {
    report,
    ms,
    cpuMs: round((used.user + used.system) / 1000),
    openSockets: openSockets(),
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

async function rotationRequest(stack: StackEnv, sm: SecretsManagerClient, secret: string): Promise<SyncRequest> {
  const { arn, versionId } = await rotate(sm, secret);
  const parsed = parseSecretEvent(labelUpdatedEvent(secret, arn, versionId, stack.env.AWS_REGION ?? 'us-east-1'));
  if (parsed.kind !== 'sync') throw new Error(`bench event not understood: ${parsed.reason}`);
  return toSyncRequest(parsed, { eventId: 'bench' });
}

/** The consumers of one fan-out case, at rest before the next rotation (untimed). */
async function settle(admins: AdminApis[], c: { clusters: number; namespaces: number }): Promise<void> {
  const targets = admins
    .slice(0, c.clusters)
    .flatMap((admin) =>
      ROTATION_NAMESPACES.slice(0, c.namespaces).map((namespace) => ({ admin, namespace, name: CONSUMER })),
    );
  unsettled += await settleConsumers(targets);
}
let unsettled = 0;

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

async function rotationWallTime(
  stack: StackEnv,
  admins: AdminApis[],
  sm: SecretsManagerClient,
  configFile: string,
  http: HttpCounter,
) {
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
      await settle(admins, c);
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
  /** Calls per cluster/namespace that differ from the expected pattern (explains odd totals). */
  irregular: Record<string, number>;
  /** Per KubeApi method: calls, mean and p95 latency (ms), and the sum (busy time). */
  latency: Record<string, { n: number; mean: number; p95: number; sum: number }>;
}

/** Expected KubeApi calls per binding (one Secret per namespace here): rotation and redelivery. */
const PER_BINDING: Record<CallRow['event'], Record<string, number>> = {
  rotation: {
    getSecret: 1,
    replaceSecret: 1,
    listWorkloads: 3,
    patchTemplateAnnotations: 1,
    clearSecretAnnotation: 1,
  },
  redelivery: { getSecret: 1 },
};

async function callCounts(
  stack: StackEnv,
  admins: AdminApis[],
  sm: SecretsManagerClient,
  config: Config,
  http: HttpCounter,
) {
  const c = countedEngine(config);
  const rows: CallRow[] = [];
  for (const fanout of ROTATION_CASES) {
    await settle(admins, fanout);
    const request = await rotationRequest(stack, sm, rotationSecret(fanout));
    for (const event of ['rotation', 'redelivery'] as const) {
      const { report, counts } = await counted(c, http, request);
      const problems = failures(report);
      if (problems.length > 0) throw new Error(`counting run ${caseId(fanout)} failed: ${problems[0]}`);
      const s = report.summary;
      const irregular = Object.fromEntries(
        Object.entries(c.kube.detail).filter(([key, n]) => PER_BINDING[event][key.split(' ')[1] ?? ''] !== n),
      );
      rows.push({
        case: caseId(fanout),
        bindings: fanout.clusters * fanout.namespaces,
        event,
        actions: `${s.updated + s.created} written, ${s.unchanged} unchanged, ${s.restarts} restarts`,
        counts,
        irregular,
        latency: Object.fromEntries(
          Object.entries(c.kube.latencies).map(([method, samples]) => {
            const sum = samples.reduce((a, b) => a + b, 0);
            return [
              method,
              { n: samples.length, mean: round(sum / samples.length), p95: timing(samples).p95, sum: round(sum) },
            ];
          }),
        ),
      });
    }
  }
  return rows;
}

interface ProbeRow {
  mode: 'pooled (lib/clusters, as shipped)' | 'plain client-node 2.0 (agent per request)';
  sequentialGet: Timing;
  burst50Ms: number;
  newConnections: number;
}

/**
 * Where a request's time goes: the same Secret GET over the product's pooled KubeConfig and over a plain client-node
 * KubeConfig (a new agent, so a new TCP + TLS connection, per request), sequentially and 50 at once.
 */
async function probe(stack: StackEnv, http: HttpCounter): Promise<ProbeRow[]> {
  const cluster = stack.clusters[0] as StackEnv['clusters'][number];
  const ref = { path: stack.syncKubeconfig, context: cluster.context };
  const modes = [
    { mode: 'pooled (lib/clusters, as shipped)', api: createKubeApi(cluster.name, loadKubeConfig(ref)) },
    {
      mode: 'plain client-node 2.0 (agent per request)',
      api: createKubeApi(cluster.name, perRequestAgents(loadKubeConfig(ref))),
    },
  ] as const;
  const namespace = ROTATION_NAMESPACES[0] as string;
  const name = rotationK8sSecret({ clusters: 1, namespaces: 1 });
  // Interleaved, request by request and burst by burst, so that machine noise hits both modes alike.
  const samples = modes.map(() => [] as number[]);
  const bursts = modes.map(() => [] as number[]);
  const connections = modes.map(() => 0);
  for (const { api } of modes) await api.getSecret(namespace, name);
  for (let i = 0; i < 40; i++) {
    for (const [m, { api }] of modes.entries()) {
      http.start();
      const start = performance.now();
      await api.getSecret(namespace, name);
      samples[m]?.push(performance.now() - start);
      http.stop();
      connections[m] = (connections[m] ?? 0) + http.connections;
    }
  }
  for (let i = 0; i < 5; i++) {
    for (const [m, { api }] of modes.entries()) {
      http.start();
      const start = performance.now();
      await Promise.all(Array.from({ length: 50 }, () => api.getSecret(namespace, name)));
      bursts[m]?.push(performance.now() - start);
      http.stop();
      connections[m] = (connections[m] ?? 0) + http.connections;
    }
  }
  const rows: ProbeRow[] = modes.map(({ mode }, m) => ({
    mode,
    sequentialGet: timing(samples[m] ?? []),
    burst50Ms: timing(bursts[m] ?? []).p50,
    newConnections: connections[m] ?? 0,
  }));
  for (const row of rows) {
    log(
      `  ${row.mode}: GET p50 ${row.sequentialGet.p50} ms, 50 at once p50 ${row.burst50Ms} ms, ${row.newConnections} new connections`,
    );
  }
  return rows;
}

type FanoutMode = 'sequential' | 'parallel';

interface FanoutRow {
  case: string;
  bindings: number;
  iterations: number;
  sequential: Timing;
  parallel: Timing;
  ratio: number;
  slowestClusterAlone: number;
  sumOfClusters: number;
  parallelOverSlowest: number;
  /** Spread of the clusters' first API call in the parallel runs: near 0 means the fan-out starts at once. */
  parallelStartSpreadMs: number;
  clientCpuMs: Record<FanoutMode, number>;
  perClusterAloneP50: Record<string, number>;
}

async function fanout(stack: StackEnv, admins: AdminApis[], sm: SecretsManagerClient, files: Record<string, string>) {
  const engines: Record<FanoutMode, Counted> = {
    sequential: countedEngine(await loadConfigFile(files['rotation-sequential'] as string)),
    parallel: countedEngine(await loadConfigFile(files.rotation as string)),
  };
  const rows: FanoutRow[] = [];
  for (const fan of FANOUT_CASES) {
    const secret = rotationSecret(fan);
    const samples: Record<FanoutMode, number[]> = { sequential: [], parallel: [] };
    const cpu: Record<FanoutMode, number[]> = { sequential: [], parallel: [] };
    const spans = new Map<string, number[]>();
    const slowest: number[] = [];
    const sums: number[] = [];
    const spreads: number[] = [];
    // Round 0 warms the engines up (first case only: they are shared by the cases).
    const first = fan === FANOUT_CASES[0] ? 0 : 1;
    for (let i = first; i <= FANOUT_ITERATIONS; i++) {
      // Interleaved so that every mode sees the same stack conditions; round 0 warms up.
      for (const mode of ['sequential', 'parallel'] as const) {
        const c = engines[mode];
        await settle(admins, fan);
        const request = await rotationRequest(stack, sm, secret);
        c.kube.reset();
        const used = process.cpuUsage();
        const start = performance.now();
        const report = await c.engine.run(request);
        const ms = performance.now() - start;
        const cpuUsed = process.cpuUsage(used);
        const problems = failures(report);
        if (problems.length > 0) throw new Error(`fan-out run failed: ${problems[0]}`);
        if (i === 0) continue;
        samples[mode].push(ms);
        cpu[mode].push((cpuUsed.user + cpuUsed.system) / 1000);
        const perCluster = c.kube.clusterSpans();
        if (mode === 'sequential') {
          // Sequentially, each cluster's busy span is that cluster alone: no contention from the others.
          for (const [cluster, span] of Object.entries(perCluster)) {
            spans.set(cluster, [...(spans.get(cluster) ?? []), span]);
          }
          slowest.push(Math.max(...Object.values(perCluster)));
          sums.push(Object.values(perCluster).reduce((a, b) => a + b, 0));
        } else if (mode === 'parallel') {
          const starts = [...c.kube.spans.values()].map((s) => s.start);
          spreads.push(Math.max(...starts) - Math.min(...starts));
        }
      }
    }
    const t = {
      sequential: timing(samples.sequential),
      parallel: timing(samples.parallel),
    };
    const slowestAlone = timing(slowest).p50;
    rows.push({
      case: caseId(fan),
      bindings: fan.clusters * fan.namespaces,
      iterations: FANOUT_ITERATIONS,
      ...t,
      ratio: round(t.sequential.p50 / t.parallel.p50, 2),
      slowestClusterAlone: slowestAlone,
      sumOfClusters: timing(sums).p50,
      parallelOverSlowest: round(t.parallel.p50 / slowestAlone, 2),
      parallelStartSpreadMs: timing(spreads).p50,
      clientCpuMs: {
        sequential: timing(cpu.sequential).p50,
        parallel: timing(cpu.parallel).p50,
      },
      perClusterAloneP50: Object.fromEntries([...spans].map(([cluster, s]) => [cluster, timing(s).p50])),
    });
    log(`  ${caseId(fan)}: sequential p50 ${t.sequential.p50} ms, parallel p50 ${t.parallel.p50} ms`);
  }
  return rows;
}

interface ReconcileRow {
  bindings: number;
  scenario: 'first pass' | 'unchanged' | 'drift 10%';
  duration: Timing;
  drifted: number;
  repaired: number;
  cpuMs: number;
  openSockets: number;
  counts: CallCounts;
}

async function reconcile(admins: AdminApis[], files: Record<string, string>, http: HttpCounter) {
  const rows: ReconcileRow[] = [];
  for (const rc of RECONCILE_CASES) {
    const config = await loadConfigFile(files[`reconcile-${rc.bindings}`] as string);
    const run = async (c: Counted) => {
      const out = await counted(c, http, reconcileRequest({ origin: 'bench' }));
      const problems = failures(out.report);
      if (problems.length > 0) throw new Error(`reconcile ${rc.bindings} failed: ${problems[0]}`);
      if (out.report.results.length !== rc.bindings) {
        throw new Error(`reconcile ${rc.bindings}: planned ${out.report.results.length} bindings`);
      }
      return out;
    };
    const shipped = countedEngine(config);
    const first = await run(shipped);
    const results = first.report.results;
    const unchanged: CountedRun[] = [];
    // A first pass that repaired nothing is already an unchanged pass (the setup is reused across bench runs).
    if (first.report.results.some((r) => r.drift)) rows.push(summarise(rc.bindings, 'first pass', [first], 0));
    else unchanged.push(first);
    while (unchanged.length < RECONCILE_ITERATIONS) unchanged.push(await run(shipped));
    rows.push(summarise(rc.bindings, 'unchanged', unchanged, 0));

    const drifted: CountedRun[] = [];
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
      const out = await run(shipped);
      const repaired = out.report.results.filter((r) => r.action === 'updated').length;
      if (repaired !== driftCount) {
        throw new Error(`reconcile ${rc.bindings}: drifted ${driftCount}, repaired ${repaired}`);
      }
      drifted.push(out);
    }
    rows.push(summarise(rc.bindings, 'drift 10%', drifted, driftCount));

    const p50 = (scenario: ReconcileRow['scenario']) =>
      rows.find((r) => r.bindings === rc.bindings && r.scenario === scenario)?.duration.p50;
    log(`  ${rc.bindings} bindings: unchanged p50 ${p50('unchanged')} ms, drift p50 ${p50('drift 10%')} ms`);
  }
  return rows;
}

/** Durations over the runs; counts from the last run (they are the same for every run of a scenario). */
function summarise(
  bindings: number,
  scenario: ReconcileRow['scenario'],
  runs: CountedRun[],
  drifted: number,
): ReconcileRow {
  const last = runs.at(-1) as CountedRun;
  return {
    bindings,
    scenario,
    duration: timing(runs.map((r) => r.ms)),
    drifted,
    repaired: last.report.results.filter((r) => r.drift).length,
    cpuMs: timing(runs.map((r) => r.cpuMs)).p50,
    openSockets: last.openSockets,
    counts: last.counts,
  };
}

interface BundleRow {
  bundle: string;
  bytes: number;
  gzipBytes: number;
  initMs: number;
  initWithSourceMapsMs: number;
  runs: number;
}

interface Bundles {
  rows?: BundleRow[];
  built?: boolean;
  skipped?: string;
}

/** scripts/bench-bundles.mjs (another part of the project) when it exists; builds dist/ first only if missing. */
function bundles(): Bundles {
  const root = join(import.meta.dirname, '..');
  const script = join(root, 'scripts', 'bench-bundles.mjs');
  if (!existsSync(script)) {
    return { skipped: 'scripts/bench-bundles.mjs does not exist (yet): bundle cold-init not measured' };
  }
  const run = (args: string[]) =>
    execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const missing = ['on-rotation', 'backfill', 'reconcile'].some((f) => !existsSync(join(root, 'dist', `${f}.mjs`)));
    if (missing) run([join(root, 'scripts', 'build.mjs')]);
    const parsed = JSON.parse(run([script, '--json', '--runs', '7'])) as { results: BundleRow[] };
    return { rows: parsed.results, built: missing };
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    return { skipped: `scripts/bench-bundles.mjs failed: ${stderr.split('\n')[0] || (error as Error).message}` };
  }
}

// ----------------------------------------------------------------------------------------------------------- main

interface Results {
  model?: ModelRow[];
  rotation?: RotationRow[];
  calls?: CallRow[];
  probe?: ProbeRow[];
  fanout?: FanoutRow[];
  reconcile?: ReconcileRow[];
  bundles?: Bundles;
}

async function main(): Promise<void> {
  const total = performance.now();
  log(bold('eks-secret-sync benchmark'));
  let t = performance.now();
  log(`\n${bold('[setup]')} local stack with ${CLUSTERS} clusters`);
  stackScript(['up', '--clusters', String(CLUSTERS)], true);
  const stack = stackEnv();
  if (stack.clusters.length < CLUSTERS) {
    throw new Error(`the stack runs ${stack.clusters.length} clusters, need ${CLUSTERS}`);
  }
  stack.clusters = stack.clusters.slice(0, CLUSTERS);
  Object.assign(process.env, stack.env);
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const sm = new SecretsManagerClient({});
  const admins = stack.clusters.map((c) => adminApis(stack.kubeconfig, c.context));
  const files = await setup(stack, admins, sm);
  log(`  ready (${elapsed(t)})`);
  const http = new HttpCounter(new Set(stack.clusters.map((c) => c.server)));
  const results: Results = {};
  const section = async <K extends keyof Results>(key: K & Section, title: string, fn: () => Promise<Results[K]>) => {
    if (!want(key)) return;
    t = performance.now();
    log(`\n${bold(`[${key}]`)} ${title}`);
    results[key] = await fn();
    log(`  (${elapsed(t)})`);
  };

  await section(
    'rotation',
    `rotation wall time, real on-rotation handler (${ITERATIONS} timed + 1 warm-up per case)`,
    () => rotationWallTime(stack, admins, sm, files.rotation as string, http),
  );
  await section('calls', 'API calls per event (engine with counting decorators; HTTP cross-check)', async () =>
    callCounts(stack, admins, sm, await loadConfigFile(files.rotation as string), http),
  );
  await section('probe', 'where a Kubernetes request spends its time: pooled connection vs one per request', () =>
    probe(stack, http),
  );
  await section(
    'fanout',
    `fan-out: clusterConcurrency 1 vs default, interleaved (${FANOUT_ITERATIONS} rounds + 1 warm-up)`,
    () => fanout(stack, admins, sm, files),
  );
  await section(
    'model',
    'fan-out model: real engine, in-memory clusters with a fixed round trip per call (5..25 ms), no shared CPU',
    async () => [
      await modelFanout([5, 10, 15, 20, 25], 1, FANOUT_ITERATIONS),
      await modelFanout([5, 10, 15, 20, 25], 10, FANOUT_ITERATIONS),
    ],
  );
  await section('reconcile', `reconcile over 100 and 1000 bindings (${RECONCILE_ITERATIONS} runs each)`, () =>
    reconcile(admins, files, http),
  );
  await section('bundles', 'bundle cold-init (scripts/bench-bundles.mjs)', async () => bundles());

  const out = {
    date: new Date().toISOString(),
    node: process.version,
    commit: gitCommit(),
    cpus: availableParallelism(),
    loadAverage: loadavg().map((x) => round(x, 2)),
    stack: { clusters: stack.clusters.map((c) => c.name), versions: stack.versions ?? {} },
    iterations: { rotation: ITERATIONS, fanout: FANOUT_ITERATIONS, reconcile: RECONCILE_ITERATIONS },
    /** Consumers still rolling out when a rotation started (settle timed out): their patch may meet a 409. */
    unsettledConsumers: unsettled,
    ...results,
    notes: [
      'EKS DescribeCluster is 0 here by construction: the local clusters are kubeconfig contexts (counted, not assumed).',
      'Kubernetes reads = getSecret + listWorkloads (one per workload kind); writes = create/replace/delete Secret; patches = Secret annotation + pod-template patches.',
      'All API servers, etcd, controller-managers and moto share this machine: parallel fan-out competes for the same CPUs.',
    ],
  };
  printTables(results);
  const file = join(import.meta.dirname, 'results', 'latest.json');
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`\nmachine: ${out.cpus} CPUs, load average ${out.loadAverage.join(' ')}`);
  if (unsettled > 0) log(`consumers still rolling out when a rotation started: ${unsettled}`);
  log(`results: ${file}\ntotal ${elapsed(total)}`);
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

function printTables(r: Results): void {
  if (r.rotation) {
    log(
      table(
        'Rotation -> all bindings written + consumers restarted (on-rotation handler, warm), ms',
        ['case', 'bindings', 'p50', 'p95', 'min', 'max', 'engine p50', 'HTTP req', 'new conns', 'all done'],
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
  }
  if (r.calls) {
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
    const profiled = r.calls.filter((x) => ['c1-n1', 'c5-n10'].includes(x.case));
    const methods = [...new Set(profiled.flatMap((x) => Object.keys(x.latency)))];
    log(
      table(
        'Where the time goes: KubeApi call latency per method, mean (p95) ms x calls',
        ['case', 'event', ...methods],
        profiled.map((x) => [
          x.case,
          x.event,
          ...methods.map((m) => {
            const l = x.latency[m];
            return l === undefined ? '-' : `${l.mean.toFixed(1)} (${l.p95.toFixed(0)}) x${l.n}`;
          }),
        ]),
      ),
    );
    const odd = r.calls.filter((x) => Object.keys(x.irregular).length > 0);
    for (const x of odd) log(`  ${x.case} ${x.event}: irregular per-namespace calls ${JSON.stringify(x.irregular)}`);
  }
  if (r.probe) {
    log(
      table(
        'One Secret GET on stack-1 (40 sequential + 5 bursts of 50, interleaved), ms',
        ['mode', 'GET p50', 'GET p95', '50 at once p50', 'new conns'],
        r.probe.map((x) => [x.mode, x.sequentialGet.p50, x.sequentialGet.p95, x.burst50Ms, x.newConnections]),
      ),
    );
  }
  if (r.fanout) {
    log(
      table(
        'Fan-out, engine wall time ms: sequential (clusterConcurrency 1) vs parallel (default 8)',
        [
          'case',
          'seq p50',
          'par p50',
          'par p95',
          'seq/par',
          'slowest alone',
          'sum alone',
          'par/slowest',
          'start spread',
        ],
        r.fanout.map((x) => [
          x.case,
          x.sequential.p50,
          x.parallel.p50,
          x.parallel.p95,
          x.ratio,
          x.slowestClusterAlone,
          x.sumOfClusters,
          x.parallelOverSlowest,
          x.parallelStartSpreadMs,
        ]),
      ),
    );
  }
  if (r.model) {
    log(
      table(
        'Fan-out model (in-memory clusters, fixed round trip per call), ms',
        ['case', 'calls/cluster', 'seq p50', 'par p50', 'seq/par', 'slowest', 'sum', 'par/slowest'],
        r.model.map((x) => [
          x.case,
          x.callsPerCluster,
          x.sequential.p50,
          x.parallel.p50,
          x.ratio,
          x.slowestCluster,
          x.sumOfClusters,
          x.parallelOverSlowest,
        ]),
      ),
    );
  }
  if (r.reconcile) {
    log(
      table(
        'Reconcile (engine, real adapters), ms',
        [
          'bindings',
          'scenario',
          'p50',
          'max',
          'repaired',
          'SM calls',
          'SM reads',
          'k8s reads',
          'writes',
          'patches',
          'HTTP req',
          'new conns',
          'open sockets',
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
          x.openSockets,
        ]),
      ),
    );
    const commands = new Set(r.reconcile.map((x) => JSON.stringify(x.counts.secretsManager.commands)));
    log(`  Secrets Manager commands per reconcile pass: ${[...commands].join(' | ')}`);
  }
  if (r.bundles?.rows) {
    log(
      table(
        `Bundle cold-init (fresh node process, await import(bundle); median of ${r.bundles.rows[0]?.runs} runs)`,
        ['bundle', 'KiB', 'gzip KiB', 'init ms', 'init ms, source maps'],
        r.bundles.rows.map((x) => [
          x.bundle,
          Math.round(x.bytes / 1024),
          Math.round(x.gzipBytes / 1024),
          x.initMs,
          x.initWithSourceMapsMs,
        ]),
      ),
    );
  } else if (r.bundles) {
    log(`\nBundle cold-init skipped: ${r.bundles.skipped}`);
  }
}

main()
  .then(() => process.exit(process.exitCode ?? 0))
  .catch((error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
