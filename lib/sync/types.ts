/** The engine's output contract, the report (SyncRequest -> plan -> ... -> report; README "Architecture"). */
import type { Trigger } from '../domain/request.js';
import type { ErrorCode } from '../errors.js';
import type { WorkloadKind } from './ports/kube.js';

/** `orphaned`: a Secret reconcile found left by a selector source that no longer matches it, kept (retain). */
export type BindingAction =
  | 'created'
  | 'updated'
  | 'unchanged'
  | 'deleted'
  | 'retained'
  | 'orphaned'
  | 'skipped'
  | 'failed';

/**
 * What became of a restart by the end of the pass: `rolledOut` (every pod runs the new template and is available),
 * `progressing` (still rolling when the wait ended, or not watched), `failed` (the Deployment's progress deadline
 * passed, or no progress with new pods not Ready for `defaults.rollout.readyTimeoutMs`).
 */
export type RolloutOutcome = 'rolledOut' | 'progressing' | 'failed';

export interface WorkloadRefResult {
  kind: WorkloadKind;
  name: string;
  /** A paused Deployment is patched but rolls only when resumed. */
  paused?: boolean;
  /** Set after the restarts of a pass (never in a dry run); a workload deleted meanwhile has none. */
  rollout?: RolloutOutcome;
}

/** One result per binding (cluster x namespace x Kubernetes Secret). Never holds a secret value. */
export interface BindingResult {
  cluster: string;
  namespace: string;
  secret: string;
  /** Source secret as configured or resolved (name or ARN). */
  source: string;
  action: BindingAction;
  /** SHA-256 of the rendered Secret (type + sorted key=value). */
  hash?: string;
  /** Key names added, removed or changed (names only). */
  changedKeys?: string[];
  /** Workloads restarted (or, in a dry run, that would be). */
  restarted: WorkloadRefResult[];
  /**
   * CronJobs whose job template now carries the new content's fingerprint (or would, in a dry run): their next Job
   * runs with the new value. Nothing was restarted for them. Absent when none.
   */
  nextRun?: WorkloadRefResult[];
  dryRun?: boolean;
  /** Drift repaired by this pass (Secret edited/deleted in the cluster, or a consumer left stale). */
  drift?: boolean;
  error?: { code: ErrorCode; message: string };
  /**
   * Set when this pass rolled the Secret back after its wave failed (README "Waves"): from the held version to the
   * one it held before, and the consumers restarted back (with their rollout outcome).
   */
  rolledBack?: { from: string; to: string; restarted: WorkloadRefResult[] };
  /** Free-form notes, e.g. "event version v1 is no longer AWSCURRENT; synced v2". */
  notes?: string[];
}

export interface SyncReport {
  trigger: Trigger;
  dryRun: boolean;
  /** Per source secret: the version synced. */
  sources: Array<{
    id: string;
    arn?: string;
    versionId?: string;
    /** Reconcile found the secret deleted; its bindings followed the deletion policy. */
    deleted?: boolean;
    error?: { code: ErrorCode; message: string };
  }>;
  results: BindingResult[];
  /**
   * Results per action, `restarts`: distinct workloads patched (or that would be, in a dry run), and of those the
   * ones whose rollout ended `rolledOut`, `progressing` or `failed` (`rolloutFailed`).
   */
  summary: Record<BindingAction, number> & {
    restarts: number;
    rolledOut: number;
    progressing: number;
    rolloutFailed: number;
  };
  durationMs: number;
  notes: string[];
  /** Per secret and sync with `rollout.waves`: where its waves stand after this pass (README "Waves"). */
  waves?: WaveProgress[];
  /**
   * Set when the pass was planned and enqueued as work items instead of applied (README "Fleet scale: work
   * items"): `results` is empty, and each item reports on its own under the same `correlationId`.
   */
  queued?: { correlationId: string; items: number; clusters: number; bindings: number };
}

/**
 * Where one secret's waves of one sync stand after a pass: `done` (every wave healthy), `waiting` (a wave still rolling
 * or not yet written: a continuation checks again), `failed` (a wave failed in this pass: the later ones are halted,
 * the version held), `held` (the version read is held since an earlier pass: nothing was written but a rollback
 * left unfinished).
 */
export interface WaveProgress {
  /** The source as the bindings name it (fetch id), its ARN and the version this pass read, when read. */
  source: string;
  arn?: string;
  versionId?: string;
  /** Index of the sync in `syncs`. */
  sync: number;
  /** 1-based: the first wave that is not healthy, or `of` when all are. */
  wave: number;
  of: number;
  state: 'done' | 'waiting' | 'failed' | 'held';
  /** The hold on the version (state `failed` once recorded, and `held`): the failed wave, policy, since when. */
  hold?: { wave: number; policy: 'halt' | 'rollback'; since: string };
  /** Why not done (cluster/namespace/Secret and workload names, counts; never a value). */
  reason?: string;
  /** This pass wrote a Secret or restarted a consumer of these waves: it started or moved them on. */
  moved: boolean;
  /**
   * When a continuation should look again, in seconds: the sync's `rollout.checkEvery` while a wave rolls out, 0
   * when a wave is healthy and the next one was left to a new pass (`wavesPerPass`).
   */
  delaySeconds: number;
}
