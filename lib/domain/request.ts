/** The engine's input contract (SyncRequest -> plan -> ... -> report; README "Architecture"). */
import type { WorkContext } from './work-item.js';

export type Trigger = 'rotation' | 'backfill' | 'reconcile';

/** What one pass of the engine should do. Built by `lib/events` from an event or manual input, run by `lib/sync`. */
export interface SyncRequest {
  trigger: Trigger;
  /** Secret ids (names or ARNs) to sync; `undefined` means every source in the configuration. */
  secrets?: string[];
  /** The version the event announced; when it is no longer AWSCURRENT the report says so. */
  versionId?: string;
  /**
   * Per requested secret id, the version its event announced (a batch of events in one pass); takes precedence over
   * `versionId` for that id.
   */
  versionIds?: Record<string, string>;
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
  /** A work item of a queued pass: its secrets are already resolved, and it is never queued again. */
  work?: WorkContext;
}
