/** The engine's input and output contracts (SyncRequest -> plan -> ... -> report; README "Three ways in"). */
import type { ErrorCode } from '../errors.js';
import type { WorkloadKind } from './ports/kube.js';

export type Trigger = 'rotation' | 'backfill' | 'reconcile';

/** What one pass of the engine should do. Built by `lib/events` from an event or manual input. */
export interface SyncRequest {
  trigger: Trigger;
  /** Secret ids (names or ARNs) to sync; `undefined` means every source in the configuration. */
  secrets?: string[];
  /** The version the event announced; when it is no longer AWSCURRENT the report says so. */
  versionId?: string;
  /** Only these clusters / namespaces (backfill filters). */
  clusters?: string[];
  namespaces?: string[];
  /** Report what would change; write nothing. */
  dryRun: boolean;
  /** `false` writes Secrets but restarts nothing. */
  restart: boolean;
  /** The source secret was deleted (DeleteSecret event): apply the deletion policy instead of syncing. */
  deleted?: boolean;
  /** Where the request came from, for logs (EventBridge event id, "cli", ...). */
  origin?: string;
}

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

export interface WorkloadRefResult {
  kind: WorkloadKind;
  name: string;
  /** A paused Deployment is patched but rolls only when resumed. */
  paused?: boolean;
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
  /** Workloads patched (or, in a dry run, that would be). */
  restarted: WorkloadRefResult[];
  dryRun?: boolean;
  /** Drift repaired by this pass (Secret edited/deleted in the cluster, or a consumer left stale). */
  drift?: boolean;
  error?: { code: ErrorCode; message: string };
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
  /** Results per action, and `restarts`: distinct workloads patched (or that would be, in a dry run). */
  summary: Record<BindingAction, number> & { restarts: number };
  durationMs: number;
  notes: string[];
}
