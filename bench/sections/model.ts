/**
 * The fan-out without the local stack's shared CPUs: the real engine over in-memory clusters (test/support/fakes)
 * whose every call costs a fixed, per-cluster round trip, as independent EKS control planes would. Isolates the
 * engine's scheduling: sequential should cost the sum of the clusters, parallel the slowest one.
 */
import { parseConfig } from '../../lib/config/index.js';
import type { SyncRequest } from '../../lib/domain/request.js';
import type { KubeApi } from '../../lib/sync/ports/kube.js';
import { createEngine } from '../../lib/wiring/index.js';
import { envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource } from '../../test/support/fakes.js';
import { KubeCounter } from '../counting.js';
import type { Column, Section } from '../section.js';
import { round, type Timing, timing } from '../stats.js';

export interface ModelRow {
  case: string;
  rttMs: Record<string, number>;
  callsPerCluster: number;
  sequential: Timing;
  parallel: Timing;
  slowestCluster: number;
  sumOfClusters: number;
  ratio: number;
  parallelOverSlowest: number;
}

const SECRET = 'model/app-db';

function config(clusters: string[], namespaces: string[], clusterConcurrency: number) {
  const yaml = [
    'clusters:',
    ...clusters.map((c) => `  ${c}: { kubeconfig: { path: /dev/null, context: ${c} } }`),
    'defaults:',
    `  clusterConcurrency: ${clusterConcurrency}`,
    'syncs:',
    `  - source: { secret: ${SECRET} }`,
    '    targets:',
    `      - clusters: [${clusters.join(', ')}]`,
    `        namespaces: [${namespaces.join(', ')}]`,
    '        secret: app-db',
    '        restart: auto',
  ].join('\n');
  return parseConfig(yaml, 'bench model');
}

/** Five clusters with round trips of `rtts` ms, `namespaces` namespaces each with one consumer. */
async function modelFanout(rtts: number[], namespaceCount: number, rounds: number): Promise<ModelRow> {
  const clusters = rtts.map((_, i) => `m${i + 1}`);
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `ns-${i + 1}`);
  const source = new FakeSecretSource();
  const apis = clusters.map((cluster) => {
    const api = new FakeKubeApi(cluster, { namespaces });
    for (const namespace of namespaces) {
      api.seedWorkload({ namespace, name: 'consumer', podSpec: envFromSpec('app-db') });
    }
    return api;
  });
  // One counter per cluster so that each adds its own round trip; spans and counts are read across them.
  const counters = new Map(clusters.map((c, i) => [c, new KubeCounter(rtts[i] ?? 0)]));
  const fakes = new FakeConnector(apis);
  const connector = {
    connect: async (cluster: string): Promise<KubeApi> =>
      (counters.get(cluster) as KubeCounter).wrap(await fakes.connect(cluster)),
  };
  const engines = {
    sequential: createEngine({ config: config(clusters, namespaces, 1), ports: { source, clusters: connector } }),
    parallel: createEngine({ config: config(clusters, namespaces, 8), ports: { source, clusters: connector } }),
  };
  const request: SyncRequest = { trigger: 'rotation', secrets: [SECRET], dryRun: false, restart: true };
  const samples = { sequential: [] as number[], parallel: [] as number[] };
  const slowest: number[] = [];
  const sums: number[] = [];
  let calls = 0;
  for (let i = 0; i <= rounds; i++) {
    for (const mode of ['sequential', 'parallel'] as const) {
      source.put(SECRET, { password: crypto.randomUUID() });
      for (const c of counters.values()) c.reset();
      const start = performance.now();
      const report = await engines[mode].run(request);
      const ms = performance.now() - start;
      if (report.summary.failed > 0) throw new Error('model fan-out: a binding failed');
      if (i === 0) continue;
      samples[mode].push(ms);
      if (mode === 'sequential') {
        const spans = [...counters.values()].flatMap((c) => Object.values(c.clusterSpans()));
        slowest.push(Math.max(...spans));
        sums.push(spans.reduce((a, b) => a + b, 0));
        const first = counters.values().next().value as KubeCounter;
        calls = first.reads + first.writes + first.patches;
      }
    }
  }
  const seq = timing(samples.sequential);
  const par = timing(samples.parallel);
  const slowestCluster = timing(slowest).p50;
  return {
    case: `model c${clusters.length}-n${namespaceCount}`,
    rttMs: Object.fromEntries(clusters.map((c, i) => [c, rtts[i] ?? 0])),
    callsPerCluster: calls,
    sequential: seq,
    parallel: par,
    slowestCluster,
    sumOfClusters: timing(sums).p50,
    ratio: round(seq.p50 / par.p50, 2),
    parallelOverSlowest: round(par.p50 / slowestCluster, 2),
  };
}

/** The round trips of the five model clusters, ms. */
const RTTS = [5, 10, 15, 20, 25];

export const columns: Array<Column<ModelRow>> = [
  { header: 'case', cell: (x) => x.case },
  { header: 'calls/cluster', cell: (x) => x.callsPerCluster },
  { header: 'seq p50', cell: (x) => x.sequential.p50 },
  { header: 'par p50', cell: (x) => x.parallel.p50 },
  { header: 'seq/par', cell: (x) => x.ratio },
  { header: 'slowest', cell: (x) => x.slowestCluster },
  { header: 'sum', cell: (x) => x.sumOfClusters },
  { header: 'par/slowest', cell: (x) => x.parallelOverSlowest },
];

export const model: Section<ModelRow[]> = {
  key: 'model',
  stack: false,
  title: () =>
    'fan-out model: real engine, in-memory clusters with a fixed round trip per call (5..25 ms), no shared CPU',
  run: async ({ options }) => [
    await modelFanout(RTTS, 1, options.fanoutIterations),
    await modelFanout(RTTS, 10, options.fanoutIterations),
  ],
  tables: (rows) => [{ title: 'Fan-out model (in-memory clusters, fixed round trip per call), ms', columns, rows }],
};
