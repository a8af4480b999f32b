/**
 * Rotation -> every binding written and its consumer restarted: the real on-rotation handler, warm, wall time
 * p50/p95 for 1 secret x {1, 3, 5} clusters x {1, 10} namespaces, one consuming Deployment per namespace.
 */
import type { SyncReport } from '../../lib/sync/types.js';
import { lambdaContext } from '../../scripts/lambda-context.js';
import { failures } from '../engine.js';
import { caseId, ROTATION_CASES, rotationSecret } from '../fixtures.js';
import type { Column, Section } from '../section.js';
import { labelUpdatedEvent, rotate } from '../stack.js';
import { type Timing, timing } from '../stats.js';

export interface RotationRow {
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

export const columns: Array<Column<RotationRow>> = [
  { header: 'case', cell: (x) => x.case },
  { header: 'bindings', cell: (x) => x.bindings },
  { header: 'p50', cell: (x) => x.handler.p50 },
  { header: 'p95', cell: (x) => x.handler.p95 },
  { header: 'min', cell: (x) => x.handler.min },
  { header: 'max', cell: (x) => x.handler.max },
  { header: 'engine p50', cell: (x) => x.engine.p50 },
  { header: 'HTTP req', cell: (x) => x.httpRequestsPerEvent },
  { header: 'new conns', cell: (x) => x.newConnectionsPerEvent },
  { header: 'all done', cell: (x) => (x.allWrittenAndRestarted ? 'yes' : 'NO') },
];

export const rotation: Section<RotationRow[]> = {
  key: 'rotation',
  title: (o) => `rotation wall time, real on-rotation handler (${o.iterations} timed + 1 warm-up per case)`,
  async run({ options, stack, sm, files, http, settle }) {
    process.env.EKS_SYNC_CONFIG = files.rotation;
    const { handler } = await import('../../functions/on-rotation.js');
    const rows: RotationRow[] = [];
    for (const c of ROTATION_CASES) {
      const bindings = c.clusters * c.namespaces;
      const wall: number[] = [];
      const engineMs: number[] = [];
      const requests: number[] = [];
      const connections: number[] = [];
      const problems = new Set<string>();
      // One untimed pass first: connections and caches as in a warm container.
      for (let i = 0; i <= options.iterations; i++) {
        const secret = rotationSecret(c);
        await settle(c);
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
      console.log(
        `  ${row.case}: p50 ${row.handler.p50} ms, p95 ${row.handler.p95} ms${problems.size ? ` (problems: ${[...problems][0]})` : ''}`,
      );
    }
    return rows;
  },
  tables: (rows) => [
    {
      title: 'Rotation -> all bindings written + consumers restarted (on-rotation handler, warm), ms',
      columns,
      rows,
    },
  ],
};
