/**
 * API calls per event, counted at the ports (SDK middleware, KubeApi/EksAccess decorators) and cross-checked at the
 * HTTP level (undici diagnostics channels), for a rotation and its redelivery; per-method call latency.
 */
import { loadConfigFile } from '../../lib/config/index.js';
import { type CallCounts, counted, countedEngine, failures, kubeCountColumns, rotationRequest } from '../engine.js';
import { caseId, ROTATION_CASES, rotationSecret } from '../fixtures.js';
import type { Column, Section } from '../section.js';
import { round, timing } from '../stats.js';

export interface CallRow {
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

/** The cases whose per-method latency is printed. */
const PROFILED = ['c1-n1', 'c5-n10'];

export const columns: Array<Column<CallRow>> = [
  { header: 'case', cell: (x) => x.case },
  { header: 'event', cell: (x) => x.event },
  { header: 'SM reads', cell: (x) => x.counts.secretsManager.valueReads },
  { header: 'SM calls', cell: (x) => x.counts.secretsManager.total },
  { header: 'EKS Describe', cell: (x) => x.counts.eks.describeCluster },
  ...kubeCountColumns<CallRow>(),
  { header: 'result', cell: (x) => x.actions },
];

/** Case, event, then one column per KubeApi method seen: mean (p95) ms x calls. */
function latencyColumns(methods: string[]): Array<Column<CallRow>> {
  return [
    { header: 'case', cell: (x) => x.case },
    { header: 'event', cell: (x) => x.event },
    ...methods.map((m) => ({
      header: m,
      cell: (x: CallRow) => {
        const l = x.latency[m];
        return l === undefined ? '-' : `${l.mean.toFixed(1)} (${l.p95.toFixed(0)}) x${l.n}`;
      },
    })),
  ];
}

export const calls: Section<CallRow[]> = {
  key: 'calls',
  title: () => 'API calls per event (engine with counting decorators; HTTP cross-check)',
  async run({ stack, sm, files, http, settle }) {
    const c = countedEngine(await loadConfigFile(files.rotation));
    const rows: CallRow[] = [];
    for (const fanout of ROTATION_CASES) {
      await settle(fanout);
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
  },
  tables(rows) {
    const profiled = rows.filter((x) => PROFILED.includes(x.case));
    const methods = [...new Set(profiled.flatMap((x) => Object.keys(x.latency)))];
    return [
      {
        title: 'API calls per event (counted at the ports; HTTP = requests seen by undici to the API servers)',
        columns,
        rows,
      },
      {
        title: 'Where the time goes: KubeApi call latency per method, mean (p95) ms x calls',
        columns: latencyColumns(methods),
        rows: profiled,
      },
      ...rows
        .filter((x) => Object.keys(x.irregular).length > 0)
        .map((x) => `  ${x.case} ${x.event}: irregular per-namespace calls ${JSON.stringify(x.irregular)}`),
    ];
  },
};
