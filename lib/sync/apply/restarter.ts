/**
 * Rolling restarts by pod-template annotation: one patch per workload per pass, carrying the hash of every
 * consumed Secret that changed. A workload whose annotation already holds the hash is never patched again, so
 * duplicates, retries, backfills and reconciles restart nothing twice.
 */
import type { RestartConfig } from '../../config/index.js';
import { consumerHashAnnotation, RESTARTED_AT_ANNOTATION } from '../../domain/names.js';
import { type SyncError, toSyncError } from '../../errors.js';
import type { KubeApi, Workload, WorkloadKind } from '../ports/kube.js';
import type { WorkloadRefResult } from '../types.js';
import { consumes } from './consumers.js';

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
  /** The source version the Secret holds: named in the workload's change cause and its Restarted Event. */
  versionId?: string;
}

/** One workload patched (or that would be, in a dry run), and the Secrets it was restarted for. */
export interface PatchedWorkload {
  workload: Workload;
  items: RestartItem[];
}

export interface RestartOutcome {
  /** Per Secret name: the workloads patched (or that would be, in a dry run). */
  restarted: Map<string, WorkloadRefResult[]>;
  /** Per Secret name: the first error met while restarting its consumers. */
  failures: Map<string, SyncError>;
  /** Per Secret name: things worth reporting that are not failures. */
  notes: Map<string, string[]>;
  /** Each workload patched, as read just before its patch, in patch order. */
  patched: PatchedWorkload[];
}

const MAX_PATCH_ATTEMPTS = 6;

/** The workload as it is now (after a 409), or undefined when it was deleted meanwhile. */
async function reread(api: KubeApi, workload: Workload): Promise<Workload | undefined> {
  const all = await api.listWorkloads(workload.namespace, workload.kind);
  return all.find((w) => w.name === workload.name);
}

/** Whether a target's restart policy restarts `workload` for Secret `secretName` (also what `status` counts). */
export function restartsWorkload(policy: RestartConfig, secretName: string, workload: Workload): boolean {
  if (policy === 'none') return false;
  if (policy === 'auto') return consumes(workload, secretName);
  const listed = policy.workloads.some((w) => w.kind === workload.kind && w.name === workload.name);
  return listed || (policy.auto && consumes(workload, secretName));
}

function selects(item: RestartItem, workload: Workload): boolean {
  return restartsWorkload(item.policy, item.secretName, workload);
}

function isStale(item: RestartItem, workload: Workload): boolean {
  const current = workload.templateAnnotations[consumerHashAnnotation(item.secretName)];
  return current !== item.hash && (current !== undefined || item.contentChanged);
}

/**
 * The `kubernetes.io/change-cause` of a restart, which `kubectl rollout history` shows: the Secrets and versions it
 * is for (names and version ids only).
 */
export function changeCause(namespace: string, items: readonly RestartItem[]): string {
  const secrets = items.map((i) => `Secret ${namespace}/${i.secretName} version ${i.versionId ?? 'unknown'}`);
  return `eks-secret-sync: ${secrets.join(', ')}`;
}

/** What restarting one workload came to: patched (as read just before), failed, or undefined when nothing was due. */
type WorkloadPatch =
  | { workload: Workload; due: RestartItem[]; ref: WorkloadRefResult }
  | { due: RestartItem[]; failure: SyncError }
  | undefined;

/** Patches one listed workload for the items it is due for; after a Conflict, re-reads it and decides again. */
async function patchWorkload(
  api: KubeApi,
  namespace: string,
  listed: Workload,
  active: readonly RestartItem[],
  options: { dryRun: boolean; now: Date },
): Promise<WorkloadPatch> {
  let workload: Workload | undefined = listed;
  // A concurrent pass (a duplicate event) may patch the same workload: the patch is conditional on the template
  // annotations we read, so the second writer gets Conflict, re-reads, finds the hash current and does not restart.
  for (let attempt = 1; workload !== undefined; attempt++) {
    const current: Workload = workload;
    const due = active.filter((item) => selects(item, current) && isStale(item, current));
    if (due.length === 0) return undefined;
    const annotations: Record<string, string> = { [RESTARTED_AT_ANNOTATION]: options.now.toISOString() };
    for (const item of due) annotations[consumerHashAnnotation(item.secretName)] = item.hash;
    try {
      if (!options.dryRun) {
        await api.patchTemplateAnnotations(
          namespace,
          current.kind,
          current.name,
          annotations,
          current.templateAnnotations,
          {
            text: changeCause(namespace, due),
            annotationsExist: Object.keys(current.annotations).length > 0,
          },
        );
      }
      const ref: WorkloadRefResult = { kind: current.kind, name: current.name };
      if (current.paused) ref.paused = true;
      // No pod to replace: rolled out as soon as it is patched, nothing to watch.
      if (current.replicas === 0 && !options.dryRun) ref.rollout = 'rolledOut';
      return { workload: current, due, ref };
    } catch (error) {
      const failure = toSyncError(error);
      if (failure.code !== 'Conflict' || attempt >= MAX_PATCH_ATTEMPTS) return { due, failure };
      try {
        workload = await reread(api, current);
      } catch (rereadError) {
        // Not knowing whether it was deleted, the restart is unfinished (e.g. the pass deadline came).
        return { due, failure: toSyncError(rereadError) };
      }
    }
  }
  return undefined;
}

/** Restarts the consumers of the given Secrets in one namespace whose hash annotation differs. */
export async function restartConsumers(
  api: KubeApi,
  namespace: string,
  items: readonly RestartItem[],
  options: { dryRun: boolean; now: Date },
): Promise<RestartOutcome> {
  const outcome: RestartOutcome = { restarted: new Map(), failures: new Map(), notes: new Map(), patched: [] };
  const active = items.filter((i) => i.policy !== 'none');
  for (const item of active) outcome.restarted.set(item.secretName, []);
  if (active.length === 0) return outcome;

  // The three lists at once; the caller's per-cluster call limiter bounds what is in flight.
  let workloads: Workload[];
  try {
    workloads = (await Promise.all(WORKLOAD_KINDS.map((kind) => api.listWorkloads(namespace, kind)))).flat();
  } catch (error) {
    const failure = toSyncError(error);
    for (const item of active) outcome.failures.set(item.secretName, failure);
    return outcome;
  }

  // One patch per workload, every workload at once: each patch is conditional on that workload's own template
  // annotations as listed, so patches of distinct workloads cannot interfere. The outcome is merged in list order
  // afterwards, so that it does not depend on which patch answered first.
  const patches = await Promise.all(workloads.map((listed) => patchWorkload(api, namespace, listed, active, options)));
  for (const patch of patches) {
    if (patch === undefined) continue;
    if ('failure' in patch) {
      for (const item of patch.due) {
        if (!outcome.failures.has(item.secretName)) outcome.failures.set(item.secretName, patch.failure);
      }
      continue;
    }
    for (const item of patch.due) outcome.restarted.get(item.secretName)?.push(patch.ref);
    outcome.patched.push({ workload: patch.workload, items: patch.due });
  }

  for (const item of active) {
    if (typeof item.policy !== 'object') continue;
    for (const wanted of item.policy.workloads) {
      if (!workloads.some((w) => w.kind === wanted.kind && w.name === wanted.name)) {
        // A target may span namespaces where the listed workload exists in only some: report, do not fail.
        const notes = outcome.notes.get(item.secretName) ?? [];
        notes.push(`restart target ${wanted.kind}/${wanted.name} does not exist in namespace ${namespace}`);
        outcome.notes.set(item.secretName, notes);
      }
    }
  }
  return outcome;
}
