/**
 * Human output of the CLI. Pure functions over the SyncReport, which never holds a secret value: key names,
 * workload names and error messages only.
 */
import type { BindingAction, BindingResult, RolloutOutcome, SyncReport } from '../sync/types.js';
import { bindingsTable, block, unshownSourceFailures } from './report-text.js';

/** A dry run reports what would happen; say it in the future tense. */
const DRY_RUN_ACTION: Record<BindingAction, string> = {
  created: 'create',
  updated: 'update',
  unchanged: 'unchanged',
  deleted: 'delete',
  retained: 'retain',
  orphaned: 'orphaned',
  skipped: 'skip',
  failed: 'failed',
};

function actionLabel(result: BindingResult, dryRun: boolean): string {
  const action = dryRun ? DRY_RUN_ACTION[result.action] : result.action;
  return result.drift === true ? `${action} (drift)` : action;
}

/** How a restart's rollout ended, as the RESTARTED column says it. */
const ROLLOUT_LABEL: Record<RolloutOutcome, string> = {
  rolledOut: 'rolled out',
  progressing: 'progressing',
  failed: 'rollout failed',
};

function workloads(result: BindingResult): string {
  if (result.restarted.length === 0) return '-';
  return result.restarted
    .map((w) => {
      const marks = [...(w.paused === true ? ['paused'] : []), ...(w.rollout ? [ROLLOUT_LABEL[w.rollout]] : [])];
      return `${w.kind}/${w.name}${marks.length > 0 ? ` (${marks.join(', ')})` : ''}`;
    })
    .join(', ');
}

function summaryLine(report: SyncReport): string {
  const { summary, dryRun } = report;
  const order: BindingAction[] = [
    'created',
    'updated',
    'unchanged',
    'deleted',
    'retained',
    'orphaned',
    'skipped',
    'failed',
  ];
  const counts = order
    .filter((a) => summary[a] > 0)
    .map(
      (a) =>
        `${summary[a]} ${dryRun && a !== 'failed' && a !== 'unchanged' && a !== 'orphaned' ? `to ${DRY_RUN_ACTION[a]}` : a}`,
    );
  const rollouts = [
    ...(summary.rolledOut > 0 ? [`${summary.rolledOut} rolled out`] : []),
    ...(summary.progressing > 0 ? [`${summary.progressing} progressing`] : []),
    ...(summary.rolloutFailed > 0 ? [`${summary.rolloutFailed} rollout failed`] : []),
  ];
  const restarts = `${summary.restarts} ${dryRun ? 'restarts planned' : summary.restarts === 1 ? 'restart' : 'restarts'}${rollouts.length > 0 ? ` (${rollouts.join(', ')})` : ''}`;
  const drift = report.results.filter((r) => r.drift === true).length;
  const parts = [...counts, restarts, ...(drift > 0 ? [`${drift} with drift`] : [])];
  const seconds = (report.durationMs / 1000).toFixed(1);
  return `${report.trigger}${dryRun ? ' (dry run, nothing written)' : ''}: ${report.results.length} bindings: ${parts.join(', ')} in ${seconds}s`;
}

/**
 * The diff table (cluster, namespace, secret, action, changed key names, workloads restarted or to restart),
 * followed by failures, notes and a summary line. Used for `plan` and, with past-tense actions, every command.
 */
export function formatPlan(report: SyncReport): string {
  const restartHeader = report.dryRun ? 'WOULD RESTART' : 'RESTARTED';
  const table = bindingsTable(
    report.results,
    ['CLUSTER', 'NAMESPACE', 'SECRET', 'ACTION', 'CHANGED KEYS', restartHeader],
    (r) => [
      r.cluster,
      r.namespace,
      r.secret,
      actionLabel(r, report.dryRun),
      r.changedKeys === undefined || r.changedKeys.length === 0 ? '-' : r.changedKeys.join(','),
      workloads(r),
    ],
  );
  const failures = report.results.filter((r) => r.error !== undefined);
  const lines = [
    table,
    ...block('Failures', [
      ...unshownSourceFailures(report.sources, failures),
      ...failures.map((r) => `${r.cluster}/${r.namespace}/${r.secret}: ${r.error?.code}: ${r.error?.message}`),
    ]),
    ...block('Notes', [
      ...report.notes,
      ...report.results.flatMap((r) => (r.notes ?? []).map((n) => `${r.cluster}/${r.namespace}/${r.secret}: ${n}`)),
    ]),
  ];
  lines.push('', summaryLine(report));
  return `${lines.join('\n')}\n`;
}
