/**
 * Rolling restarts by pod-template annotation: one patch per workload per pass, carrying the hash of every
 * consumed Secret that changed. A workload whose annotation already holds the hash is never patched again, so
 * duplicates, retries, backfills and reconciles restart nothing twice.
 */
import type { RestartConfig } from '../config/index.js';
import { SyncError, toSyncError } from '../errors.js';
import { consumerHashAnnotation, RESTARTED_AT_ANNOTATION } from '../sync/names.js';
import type { WorkloadRefResult } from '../sync/types.js';
import { consumes } from './consumers.js';
import type { KubeApi, Workload, WorkloadKind } from './kube-api.js';

export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

export interface RestartItem {
  secretName: string;
  hash: string;
  policy: RestartConfig;
  /**
   * The Secret's content changed in this pass (or a previous pass left restarts pending). Then a consumer without
   * our annotation is restarted too; otherwise only consumers carrying a different hash are (stale ones), so that
   * workloads deployed after the last change are left alone.
   */
  contentChanged: boolean;
}

export interface RestartOutcome {
  /** Per Secret name: the workloads patched (or that would be, in a dry run). */
  restarted: Map<string, WorkloadRefResult[]>;
  /** Per Secret name: the first error met while restarting its consumers. */
  failures: Map<string, SyncError>;
}

function selects(item: RestartItem, workload: Workload): boolean {
  if (item.policy === 'none') return false;
  if (item.policy === 'auto') return consumes(workload, item.secretName);
  const listed = item.policy.workloads.some((w) => w.kind === workload.kind && w.name === workload.name);
  return listed || (item.policy.auto && consumes(workload, item.secretName));
}

function isStale(item: RestartItem, workload: Workload): boolean {
  const current = workload.templateAnnotations[consumerHashAnnotation(item.secretName)];
  return current !== item.hash && (current !== undefined || item.contentChanged);
}

/** Restarts the consumers of the given Secrets in one namespace whose hash annotation differs. */
export async function restartConsumers(
  api: KubeApi,
  namespace: string,
  items: readonly RestartItem[],
  options: { dryRun: boolean; now: Date },
): Promise<RestartOutcome> {
  const outcome: RestartOutcome = { restarted: new Map(), failures: new Map() };
  const active = items.filter((i) => i.policy !== 'none');
  for (const item of active) outcome.restarted.set(item.secretName, []);
  if (active.length === 0) return outcome;

  // One list at a time: the caller's bindingConcurrency bounds the calls in flight per cluster.
  const workloads: Workload[] = [];
  try {
    for (const kind of WORKLOAD_KINDS) workloads.push(...(await api.listWorkloads(namespace, kind)));
  } catch (error) {
    const failure = toSyncError(error);
    for (const item of active) outcome.failures.set(item.secretName, failure);
    return outcome;
  }

  for (const workload of workloads) {
    const due = active.filter((item) => selects(item, workload) && isStale(item, workload));
    if (due.length === 0) continue;
    const annotations: Record<string, string> = { [RESTARTED_AT_ANNOTATION]: options.now.toISOString() };
    for (const item of due) annotations[consumerHashAnnotation(item.secretName)] = item.hash;
    try {
      if (!options.dryRun) await api.patchTemplateAnnotations(namespace, workload.kind, workload.name, annotations);
      const ref: WorkloadRefResult = { kind: workload.kind, name: workload.name };
      if (workload.paused) ref.paused = true;
      for (const item of due) outcome.restarted.get(item.secretName)?.push(ref);
    } catch (error) {
      const failure = toSyncError(error);
      for (const item of due)
        if (!outcome.failures.has(item.secretName)) outcome.failures.set(item.secretName, failure);
    }
  }

  for (const item of active) {
    if (typeof item.policy !== 'object') continue;
    for (const wanted of item.policy.workloads) {
      const found = workloads.some((w) => w.kind === wanted.kind && w.name === wanted.name);
      if (!found && !outcome.failures.has(item.secretName)) {
        outcome.failures.set(
          item.secretName,
          new SyncError(
            'KubernetesError',
            `restart target ${wanted.kind} ${namespace}/${wanted.name} in cluster "${api.cluster}" does not exist`,
          ),
        );
      }
    }
  }
  return outcome;
}
