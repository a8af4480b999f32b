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
import { type ConsumedSecret, consumes } from './consumers.js';

export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'Rollout', 'CronJob'];

/**
 * How each kind takes a new Secret content: `template`, a pod-template change its controller rolls out; `restartAt`,
 * Argo Rollouts' own restart (`spec.restartAt`: the current revision's pods are replaced, no new canary or
 * blue-green rollout), with our fingerprints on the Rollout's own metadata; `nextRun`, a CronJob's job template is
 * updated and nothing restarts.
 */
export const RESTART_BY: Readonly<Record<WorkloadKind, 'template' | 'restartAt' | 'nextRun'>> = {
  Deployment: 'template',
  StatefulSet: 'template',
  DaemonSet: 'template',
  Rollout: 'restartAt',
  CronJob: 'nextRun',
};

/** The annotations a workload carries our per-Secret fingerprints in (what the restart patch sets). */
export function fingerprintsOf(workload: Workload): Record<string, string> {
  return RESTART_BY[workload.kind] === 'restartAt' ? workload.annotations : workload.templateAnnotations;
}

/**
 * Kinds that are skipped, not failed, when a namespace cannot be listed for them: a cluster without the Argo
 * Rollouts CRD (`KindNotServed`), or a namespace where its opt-in role is not bound (`Forbidden`).
 */
const OPTIONAL_KINDS: ReadonlySet<WorkloadKind> = new Set(['Rollout']);

/** A namespace's workloads of every kind, and the optional kinds that could not be listed there (and why). */
export interface ListedWorkloads {
  workloads: Workload[];
  skipped: Array<{ kind: WorkloadKind; code: string; message: string }>;
}

/** Lists every kind at once (the caller's per-cluster call limiter bounds what is in flight); throws for the others. */
export async function listWorkloads(api: KubeApi, namespace: string): Promise<ListedWorkloads> {
  const skipped: ListedWorkloads['skipped'] = [];
  const lists = await Promise.all(
    WORKLOAD_KINDS.map(async (kind) => {
      try {
        return await api.listWorkloads(namespace, kind);
      } catch (error) {
        const failure = toSyncError(error);
        const optional = failure.code === 'KindNotServed' || failure.code === 'Forbidden';
        if (!OPTIONAL_KINDS.has(kind) || !optional) throw error;
        skipped.push({ kind, code: failure.code, message: failure.message });
        return [];
      }
    }),
  );
  return { workloads: lists.flat(), skipped };
}

export interface RestartItem {
  secretName: string;
  /** The Secret's annotations as written: Reloader's `match` and `ignore` are read there. */
  secretAnnotations: Readonly<Record<string, string>>;
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
  /** Per Secret name: the workloads restarted (or that would be, in a dry run). */
  restarted: Map<string, WorkloadRefResult[]>;
  /** Per Secret name: the CronJobs whose job template was updated (or would be): their next run uses the new value. */
  nextRun: Map<string, WorkloadRefResult[]>;
  /** Per Secret name: the first error met while restarting its consumers. */
  failures: Map<string, SyncError>;
  /** Per Secret name: things worth reporting that are not failures. */
  notes: Map<string, string[]>;
  /** Each workload patched, as read just before its patch, in patch order. */
  patched: PatchedWorkload[];
  /** Optional kinds not looked at in the namespace (see `listWorkloads`). */
  skipped: ListedWorkloads['skipped'];
}

const MAX_PATCH_ATTEMPTS = 6;

/** The workload as it is now (after a 409), or undefined when it was deleted meanwhile. */
async function reread(api: KubeApi, workload: Workload): Promise<Workload | undefined> {
  const all = await api.listWorkloads(workload.namespace, workload.kind);
  return all.find((w) => w.name === workload.name);
}

/**
 * Whether a target's restart policy restarts `workload` for `secret` (also what `status` counts). A workload the
 * configuration names is restarted whatever the Secret's Reloader annotations say: the configuration is explicit.
 */
export function restartsWorkload(policy: RestartConfig, secret: ConsumedSecret, workload: Workload): boolean {
  if (policy === 'none') return false;
  if (policy === 'auto' || policy === 'annotated') return consumes(workload, secret, policy);
  const listed = policy.workloads.some((w) => w.kind === workload.kind && w.name === workload.name);
  if (listed) return true;
  if (policy.auto === false) return false;
  return consumes(workload, secret, policy.auto === true ? 'auto' : 'annotated');
}

function selects(item: RestartItem, workload: Workload): boolean {
  return restartsWorkload(item.policy, { name: item.secretName, annotations: item.secretAnnotations }, workload);
}

function isStale(item: RestartItem, workload: Workload): boolean {
  const current = fingerprintsOf(workload)[consumerHashAnnotation(item.secretName)];
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
    const by = RESTART_BY[current.kind];
    // The restartedAt annotation is what makes a pod-template change a restart; the other kinds restart (or not)
    // their own way.
    const annotations: Record<string, string> =
      by === 'template' ? { [RESTARTED_AT_ANNOTATION]: options.now.toISOString() } : {};
    for (const item of due) annotations[consumerHashAnnotation(item.secretName)] = item.hash;
    try {
      if (!options.dryRun) {
        await api.patchTemplateAnnotations(
          namespace,
          current.kind,
          current.name,
          annotations,
          fingerprintsOf(current),
          // A CronJob's template change restarts nothing, so there is no change to give a cause for.
          by === 'nextRun'
            ? undefined
            : { text: changeCause(namespace, due), annotationsExist: Object.keys(current.annotations).length > 0 },
          by === 'restartAt' ? options.now : undefined,
        );
      }
      const ref: WorkloadRefResult = { kind: current.kind, name: current.name };
      if (current.paused) ref.paused = true;
      // No pod to replace: rolled out as soon as it is patched, nothing to watch.
      if (by === 'template' && current.replicas === 0 && !options.dryRun) ref.rollout = 'rolledOut';
      // Argo Rollouts replaces the pods at its own pace and reports it in its own status: not watched.
      if (by === 'restartAt' && !options.dryRun) ref.rollout = 'progressing';
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
  const outcome: RestartOutcome = {
    restarted: new Map(),
    nextRun: new Map(),
    failures: new Map(),
    notes: new Map(),
    patched: [],
    skipped: [],
  };
  const active = items.filter((i) => i.policy !== 'none');
  for (const item of active) {
    outcome.restarted.set(item.secretName, []);
    outcome.nextRun.set(item.secretName, []);
  }
  if (active.length === 0) return outcome;

  let workloads: Workload[];
  try {
    const listed = await listWorkloads(api, namespace);
    workloads = listed.workloads;
    outcome.skipped = listed.skipped;
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
    const into = RESTART_BY[patch.workload.kind] === 'nextRun' ? outcome.nextRun : outcome.restarted;
    for (const item of patch.due) into.get(item.secretName)?.push(patch.ref);
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
