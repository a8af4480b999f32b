/** Building the report: per-binding results, conflicts, failing a source's bindings, the summary. */
import { toSyncError } from '../../errors.js';
import { groupBy } from '../concurrency.js';
import type { PassDeadline } from '../deadline.js';
import type { Binding } from '../plan.js';
import type { BindingAction, BindingResult, RolloutOutcome, SyncReport } from '../types.js';

/** One entry of `SyncReport.sources`. */
export type SourceEntry = SyncReport['sources'][number];

export function errorOf(error: unknown): { code: ReturnType<typeof toSyncError>['code']; message: string } {
  const e = toSyncError(error);
  return { code: e.code, message: e.message };
}

export function bindingKey(b: Pick<Binding, 'cluster' | 'namespace' | 'secret'>): string {
  return `${b.cluster}/${b.namespace}/${b.secret}`;
}

export function baseResult(binding: Binding): BindingResult & { action: BindingAction } {
  return {
    cluster: binding.cluster,
    namespace: binding.namespace,
    secret: binding.secret,
    source: binding.fetchId,
    action: 'skipped',
    restarted: [],
  };
}

export function addNote(result: BindingResult, note: string): void {
  result.notes = [...(result.notes ?? []), note];
}

/** An empty report for `request`. */
export function emptyReport(request: { trigger: SyncReport['trigger']; dryRun: boolean }): SyncReport {
  return {
    trigger: request.trigger,
    dryRun: request.dryRun,
    sources: [],
    results: [],
    summary: {
      created: 0,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      retained: 0,
      orphaned: 0,
      skipped: 0,
      failed: 0,
      restarts: 0,
      rolledOut: 0,
      progressing: 0,
      rolloutFailed: 0,
    },
    durationMs: 0,
    notes: [],
  };
}

/**
 * Two bindings writing one Kubernetes Secret from different sources or targets (e.g. selector-matched `app/db` and
 * `app_db`, both named `app-db`) would overwrite each other and restart its consumers on every pass: they fail
 * instead, and neither is written. The same binding planned twice (a cluster listed twice) is kept once.
 */
export function splitConflicts(planned: Binding[]): { bindings: Binding[]; conflicts: BindingResult[] } {
  const groups = groupBy(planned, (b) => `${b.cluster}/${b.namespace}/${b.secret}`);
  const bindings: Binding[] = [];
  const conflicts: BindingResult[] = [];
  for (const group of groups.values()) {
    const first = group[0] as Binding;
    if (group.every((b) => b.fetchId === first.fetchId && b.target === first.target)) {
      bindings.push(first);
      continue;
    }
    const sources = [...new Set(group.map((b) => `"${b.fetchId}"`))];
    const message =
      sources.length > 1
        ? `Secret ${first.namespace}/${first.secret} in cluster "${first.cluster}" would be written from ${sources.join(' and ')}; give their targets distinct "secret" names or narrow the selectors`
        : `Secret ${first.namespace}/${first.secret} in cluster "${first.cluster}" would be written by ${group.length} targets of ${sources[0]}; give them distinct "secret" names`;
    for (const binding of group) {
      conflicts.push({ ...baseResult(binding), action: 'failed', error: { code: 'InvalidConfig', message } });
    }
  }
  return { bindings, conflicts };
}

/**
 * The pass cannot vouch for what it wrote from `id`: its bindings fail (retryable), saying what happened to the
 * Secret itself, so that the handler throws and the platform retries the idempotent pass.
 */
export function failSource(results: BindingResult[], id: string, reason: string): void {
  for (const result of results) {
    if (result.source !== id || result.action === 'failed') continue;
    const done = result.dryRun ? `dry run: Secret would be ${result.action}` : `Secret ${result.action}`;
    result.error = { code: 'VersionUnconfirmed', message: `${done}, but ${reason}` };
    result.action = 'failed';
  }
}

/** Sorts the results and counts them; a workload restarted for two Secrets got one patch, so it counts once. */
export function summarize(report: SyncReport, deadline: PassDeadline | undefined): void {
  report.results.sort((a, b) =>
    `${a.cluster}/${a.namespace}/${a.secret}`.localeCompare(`${b.cluster}/${b.namespace}/${b.secret}`),
  );
  const restarted = new Map<string, RolloutOutcome | undefined>();
  for (const result of report.results) {
    report.summary[result.action] += 1;
    for (const w of result.restarted)
      restarted.set(`${result.cluster}/${result.namespace}/${w.kind}/${w.name}`, w.rollout);
  }
  report.summary.restarts = restarted.size;
  const outcomes = [...restarted.values()];
  report.summary.rolledOut = outcomes.filter((o) => o === 'rolledOut').length;
  report.summary.progressing = outcomes.filter((o) => o === 'progressing').length;
  report.summary.rolloutFailed = outcomes.filter((o) => o === 'failed').length;
  const cut = report.results.filter((r) => r.error?.code === 'DeadlineExceeded').length;
  if (deadline?.reached && cut > 0) {
    report.notes.push(`pass deadline reached: ${cut} binding(s) unfinished, reported failed (DeadlineExceeded)`);
  }
}
