/**
 * Human output of `status`. Pure functions over the StatusReport, which holds version ids, timestamps, workload
 * names and error messages only: never a secret value, never a content hash.
 */
import { releaseHint } from '../sync/hold.js';
import type { ReleaseReport } from '../sync/release.js';
import type { BindingStatus, ConsumerState, StatusReport } from '../sync/status.js';
import { bindingsTable, block, unshownSourceFailures } from './report-text.js';

/** Version ids are UUIDs: the first 8 characters tell two apart by eye (`--json` has them whole). */
const SHORT_VERSION = 8;

function version(id: string | undefined): string {
  return id === undefined ? '-' : id.slice(0, SHORT_VERSION);
}

function inCluster(row: BindingStatus): string {
  if (row.secretExists === false) return 'missing';
  return row.secretExists === undefined ? '?' : version(row.clusterVersionId);
}

const CONSUMER_ORDER: ConsumerState[] = ['current', 'stale', 'pending'];

function consumers(row: BindingStatus): string {
  if (row.state === 'unreadable' && row.secretExists === undefined) return '?';
  if (row.consumers.length === 0) return '-';
  return CONSUMER_ORDER.map((state) => [state, row.consumers.filter((c) => c.state === state).length] as const)
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${state}`)
    .join(', ');
}

function where(row: Pick<BindingStatus, 'cluster' | 'namespace' | 'secret'>): string {
  return `${row.cluster}/${row.namespace}/${row.secret}`;
}

/** Why a row is not current, in words (key facts only). */
function reasons(row: BindingStatus): string[] {
  if (row.state === 'unreadable') return [`${row.error?.code}: ${row.error?.message}`];
  const out: string[] = [];
  if (row.secretExists === false) out.push(`Secret missing; AWSCURRENT is ${row.sourceVersionId}`);
  else if (row.clusterVersionId === undefined) {
    out.push(`Secret carries no version id (not written by eks-secret-sync); AWSCURRENT is ${row.sourceVersionId}`);
  } else if (row.clusterVersionId !== row.sourceVersionId) {
    out.push(`at version ${row.clusterVersionId}, AWSCURRENT is ${row.sourceVersionId}`);
  }
  const named = (state: ConsumerState) =>
    row.consumers.filter((c) => c.state === state).map((c) => `${c.kind}/${c.name}`);
  if (named('stale').length > 0) out.push(`stale consumers: ${named('stale').join(', ')}`);
  if (named('pending').length > 0) out.push(`restart pending: ${named('pending').join(', ')}`);
  return out;
}

/** One line per held version (README "Waves"), naming the Secrets that carry its hold and how to release it. */
function holds(report: StatusReport): string[] {
  const byVersion = new Map<string, BindingStatus[]>();
  for (const row of report.bindings) {
    if (row.hold === undefined) continue;
    const k = `${row.source}\n${row.hold.versionId}`;
    byVersion.set(k, [...(byVersion.get(k) ?? []), row]);
  }
  return [...byVersion.values()].map((rows) => {
    const { source, hold } = rows[0] as BindingStatus & { hold: NonNullable<BindingStatus['hold']> };
    const done = hold.policy === 'rollback' ? 'rolled back' : 'halted';
    return (
      `version ${hold.versionId} of ${source} held since ${hold.since}: wave ${hold.wave} of ${hold.of} failed (${done}): ` +
      `${hold.reason} (on ${rows.map(where).join(', ')}); ${releaseHint(source)}`
    );
  });
}

/**
 * The status table (cluster, namespace, secret, state, version in the cluster and at AWSCURRENT, last sync,
 * consumers), then why each row is behind or unreadable, notes, and a summary line.
 */
export function formatStatus(report: StatusReport): string {
  const table = bindingsTable(
    report.bindings,
    ['CLUSTER', 'NAMESPACE', 'SECRET', 'STATE', 'IN CLUSTER', 'AWSCURRENT', 'SYNCED AT', 'CONSUMERS'],
    (r) => [
      r.cluster,
      r.namespace,
      r.secret,
      r.state,
      inCluster(r),
      version(r.sourceVersionId),
      r.syncedAt ?? '-',
      consumers(r),
    ],
  );
  const lines = [
    table,
    ...block('Not current', [
      ...unshownSourceFailures(report.sources, report.bindings),
      ...report.bindings.filter((r) => r.state !== 'current').map((r) => `${where(r)}: ${reasons(r).join('; ')}`),
    ]),
    ...block('Held', holds(report)),
    ...block('Notes', report.notes),
  ];
  const { current, behind, unreadable } = report.summary;
  const seconds = (report.durationMs / 1000).toFixed(1);
  lines.push(
    '',
    `status: ${report.bindings.length} bindings: ${current} current, ${behind} behind, ${unreadable} unreadable in ${seconds}s`,
  );
  return `${lines.join('\n')}\n`;
}

/** Whether `status` exits 1: a row behind or unreadable, or a source that could not be looked up. */
export function statusFailed(report: StatusReport): boolean {
  return report.summary.behind + report.summary.unreadable > 0 || report.sources.some((s) => s.error !== undefined);
}

/** Human output of `release`: the holds removed, the Secrets that could not be looked at, notes. */
export function formatRelease(report: ReleaseReport): string {
  const lines = report.released.map((r) => {
    const held =
      r.hold === undefined
        ? 'a hold'
        : `the hold on version ${r.hold.versionId} (wave ${r.hold.wave} of ${r.hold.of} failed)`;
    return `released ${held} on ${where(r)}`;
  });
  lines.push(
    ...block(
      'Not released',
      report.failed.map((r) => `${where(r)}: ${r.error?.code}: ${r.error?.message}`),
    ),
  );
  lines.push(...block('Notes', report.notes));
  const seconds = (report.durationMs / 1000).toFixed(1);
  const next = report.released.length > 0 ? '; the next pass (reconcile, backfill) continues the waves' : '';
  lines.push(
    '',
    `release: ${report.released.length} hold(s) removed of ${report.checked} Secret(s) looked at, ${report.failed.length} not readable in ${seconds}s${next}`,
  );
  return `${lines.join('\n')}\n`;
}
