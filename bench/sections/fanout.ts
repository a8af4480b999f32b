/**
 * The same fan-out with clusterConcurrency 1 vs the default, interleaved in the same run: engine wall time against
 * the slowest cluster alone and the sum of the clusters.
 */
import { loadConfigFile } from '../../lib/config/index.js';
import { type Counted, countedEngine, failures, rotationRequest } from '../engine.js';
import { caseId, type Fanout, rotationSecret } from '../fixtures.js';
import type { Column, Section } from '../section.js';
import { round, type Timing, timing } from '../stats.js';

type FanoutMode = 'sequential' | 'parallel';

const CASES: Fanout[] = [
  { clusters: 5, namespaces: 1 },
  { clusters: 5, namespaces: 10 },
];

export interface FanoutRow {
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

export const columns: Array<Column<FanoutRow>> = [
  { header: 'case', cell: (x) => x.case },
  { header: 'seq p50', cell: (x) => x.sequential.p50 },
  { header: 'par p50', cell: (x) => x.parallel.p50 },
  { header: 'par p95', cell: (x) => x.parallel.p95 },
  { header: 'seq/par', cell: (x) => x.ratio },
  { header: 'slowest alone', cell: (x) => x.slowestClusterAlone },
  { header: 'sum alone', cell: (x) => x.sumOfClusters },
  { header: 'par/slowest', cell: (x) => x.parallelOverSlowest },
  { header: 'start spread', cell: (x) => x.parallelStartSpreadMs },
];

export const fanout: Section<FanoutRow[]> = {
  key: 'fanout',
  title: (o) => `fan-out: clusterConcurrency 1 vs default, interleaved (${o.fanoutIterations} rounds + 1 warm-up)`,
  async run({ options, stack, sm, files, settle }) {
    const rounds = options.fanoutIterations;
    const engines: Record<FanoutMode, Counted> = {
      sequential: countedEngine(await loadConfigFile(files['rotation-sequential'])),
      parallel: countedEngine(await loadConfigFile(files.rotation)),
    };
    const rows: FanoutRow[] = [];
    for (const fan of CASES) {
      const secret = rotationSecret(fan);
      const samples: Record<FanoutMode, number[]> = { sequential: [], parallel: [] };
      const cpu: Record<FanoutMode, number[]> = { sequential: [], parallel: [] };
      const spans = new Map<string, number[]>();
      const slowest: number[] = [];
      const sums: number[] = [];
      const spreads: number[] = [];
      // Round 0 warms the engines up (first case only: they are shared by the cases).
      const first = fan === CASES[0] ? 0 : 1;
      for (let i = first; i <= rounds; i++) {
        // Interleaved so that every mode sees the same stack conditions; round 0 warms up.
        for (const mode of ['sequential', 'parallel'] as const) {
          const c = engines[mode];
          await settle(fan);
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
        iterations: rounds,
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
      console.log(`  ${caseId(fan)}: sequential p50 ${t.sequential.p50} ms, parallel p50 ${t.parallel.p50} ms`);
    }
    return rows;
  },
  tables: (rows) => [
    {
      title: 'Fan-out, engine wall time ms: sequential (clusterConcurrency 1) vs parallel (default 8)',
      columns,
      rows,
    },
  ],
};
