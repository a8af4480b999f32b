/**
 * How one pass grows with the fleet: the real engine over 10, 100 and 1,000 in-memory clusters x 10 namespaces
 * (bench/model-fleet.ts: round trips of 20 to 80 ms, DescribeCluster behind the account's token bucket), from a cold
 * container (every cluster pays its DescribeCluster). Wall time, peak memory, calls in flight and AWS calls per pass,
 * and where one onRotation (its timeout) and one reconcile (15 minutes) no longer fit. No stack needed.
 */
import type { SyncRequest } from '../../lib/domain/request.js';
import { createEngine } from '../../lib/wiring/index.js';
import { FLEET_SECRET, Fleet, withMemory } from '../model-fleet.js';
import type { Column, Output, Section } from '../section.js';
import { round } from '../stats.js';

/**
 * EKS publishes no per-operation request rate for DescribeCluster (its service quotas page lists resource quotas
 * only; throttled calls answer ThrottlingException / TooManyRequestsException). Modelled as a bucket of 20 tokens
 * refilled at 10 per second per account and region: an assumption, varied in the table's last rows.
 */
export const DESCRIBE_BUCKET = { ratePerSecond: 10, burst: 20 };

/** serverless.yml: onRotation's timeout and reconcile's, minus the 5 s the handlers keep to flush (passDeadline). */
export const BUDGET_MS = { rotation: 120_000 - 5_000, reconcile: 900_000 - 5_000 };

export interface ScaleRow {
  case: string;
  trigger: 'rotation' | 'reconcile';
  mode: 'inline' | 'queue';
  clusters: number;
  namespaces: number;
  bindings: number;
  wallMs: number;
  /** Wall time per cluster, ms. */
  perClusterMs: number;
  describeCluster: number;
  describeThrottled: number;
  secretsManagerCalls: number;
  kubeCalls: number;
  peakInFlight: number;
  connectedClusters: number;
  peakRssMiB: number;
  peakHeapMiB: number;
  fits: boolean;
  failed: number;
}

export interface ScaleResult {
  rows: ScaleRow[];
  describeBucket: typeof DESCRIBE_BUCKET;
  budgetMs: typeof BUDGET_MS;
  /** Clusters one invocation fits at the measured per-cluster cost of the largest fleet. */
  fitsUpTo: { rotation: number; reconcile: number };
}

/** One inline pass of `trigger` over a fresh fleet, from a cold container. */
export async function inlinePass(
  clusters: number,
  trigger: 'rotation' | 'reconcile',
  namespaces = 10,
  describe = DESCRIBE_BUCKET,
): Promise<ScaleRow> {
  const fleet = new Fleet({ clusters, namespaces, describe });
  if (trigger === 'reconcile') {
    // A scheduled reconcile meets a synced fleet: sync it first at no cost, then time the pass that finds it unchanged.
    fleet.rotate();
    const warm = createEngine({
      config: fleet.config(),
      ports: { source: fleet.source, clusters: fleet.connector({ free: true }) },
    });
    await warm.run({ trigger: 'backfill', dryRun: false, restart: true });
  }
  const { versionId } = trigger === 'rotation' ? fleet.rotate() : { versionId: undefined };
  const engine = createEngine({ config: fleet.config(), ports: { source: fleet.source, clusters: fleet.connector() } });
  const request: SyncRequest =
    trigger === 'rotation'
      ? {
          trigger,
          secrets: [FLEET_SECRET],
          ...(versionId === undefined ? {} : { versionId }),
          dryRun: false,
          restart: true,
        }
      : { trigger, dryRun: false, restart: true };
  fleet.reset();
  const start = performance.now();
  const { value: report, rssMiB, heapMiB } = await withMemory(() => engine.run(request));
  const wallMs = performance.now() - start;
  return rowOf(fleet, trigger, 'inline', clusters, namespaces, wallMs, rssMiB, heapMiB, report.summary.failed);
}

/** A table row from a fleet's counts after a pass. */
export function rowOf(
  fleet: Fleet,
  trigger: 'rotation' | 'reconcile',
  mode: 'inline' | 'queue',
  clusters: number,
  namespaces: number,
  wallMs: number,
  rssMiB: number,
  heapMiB: number,
  failed: number,
): ScaleRow {
  const counts = fleet.counts();
  return {
    case: `${clusters} x ${namespaces}`,
    trigger,
    mode,
    clusters,
    namespaces,
    bindings: clusters * namespaces,
    wallMs: Math.round(wallMs),
    perClusterMs: round(wallMs / clusters),
    describeCluster: counts.describeCluster,
    describeThrottled: counts.describeThrottled,
    secretsManagerCalls: Object.values(counts.secretsManager).reduce((a, b) => a + b, 0),
    kubeCalls: counts.kubeCalls,
    peakInFlight: counts.peakInFlight,
    connectedClusters: counts.connectedClusters,
    peakRssMiB: round(rssMiB),
    peakHeapMiB: round(heapMiB),
    fits: wallMs <= BUDGET_MS[trigger],
    failed,
  };
}

export const SIZES = [10, 100, 1000];

export const columns: Array<Column<ScaleRow>> = [
  { header: 'clusters x ns', cell: (x) => x.case },
  { header: 'trigger', cell: (x) => x.trigger },
  { header: 'mode', cell: (x) => x.mode },
  { header: 'wall ms', cell: (x) => x.wallMs },
  { header: 'ms/cluster', cell: (x) => x.perClusterMs },
  { header: 'DescribeCluster', cell: (x) => `${x.describeCluster} (${x.describeThrottled} throttled)` },
  { header: 'SM calls', cell: (x) => x.secretsManagerCalls },
  { header: 'k8s calls', cell: (x) => x.kubeCalls },
  { header: 'peak in flight', cell: (x) => x.peakInFlight },
  { header: 'peak RSS MiB', cell: (x) => x.peakRssMiB },
  { header: 'peak heap MiB', cell: (x) => x.peakHeapMiB },
  { header: 'fits', cell: (x) => (x.fits ? 'yes' : 'no') },
];

function fitsUpTo(rows: ScaleRow[], trigger: 'rotation' | 'reconcile'): number {
  const largest = rows.filter((r) => r.trigger === trigger && r.mode === 'inline').at(-1);
  return largest === undefined ? 0 : Math.floor(BUDGET_MS[trigger] / largest.perClusterMs);
}

export const scale: Section<ScaleResult> = {
  key: 'scale',
  stack: false,
  title: () =>
    `fleet model: ${SIZES.join(', ')} in-memory clusters x 10 namespaces, round trips 20..80 ms (seeded), DescribeCluster ${DESCRIBE_BUCKET.ratePerSecond}/s (burst ${DESCRIBE_BUCKET.burst}), cold container`,
  run: async () => {
    const rows: ScaleRow[] = [];
    for (const trigger of ['rotation', 'reconcile'] as const) {
      for (const clusters of SIZES) {
        const row = await inlinePass(clusters, trigger);
        console.log(`  ${trigger} inline ${row.case}: ${row.wallMs} ms`);
        rows.push(row);
      }
    }
    return {
      rows,
      describeBucket: DESCRIBE_BUCKET,
      budgetMs: BUDGET_MS,
      fitsUpTo: { rotation: fitsUpTo(rows, 'rotation'), reconcile: fitsUpTo(rows, 'reconcile') },
    };
  },
  tables: (result): Output[] => [
    { title: 'Fleet model, one pass (cold container), ms', columns, rows: result.rows },
    `one onRotation pass (${BUDGET_MS.rotation / 1000} s of its 120 s) fits about ${result.fitsUpTo.rotation} clusters x 10 namespaces; one reconcile (${BUDGET_MS.reconcile / 1000} s of 900 s) about ${result.fitsUpTo.reconcile}`,
  ],
};
