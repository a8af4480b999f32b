/**
 * A work item: one part of a pass too large for one invocation (README "Fleet scale: work items"), as the planning
 * pass enqueues it and a worker applies it. It names secrets by id and version id only: never a value, so a message
 * on the queue (or in its dead-letter queue) holds nothing secret; the worker reads the version again.
 */
import type { Trigger } from './request.js';

export const WORK_ITEM_TYPE = 'eks-secret-sync.work-item';

/** One secret a sync covers, as the planning pass resolved it. */
export interface WorkSecret {
  /** Index of the sync in the configuration (`syncs[n]`). */
  sync: number;
  /** The id the secret is read by (configured id, or listed/described ARN). */
  fetchId: string;
  /** Its Secrets Manager name (the default Kubernetes Secret name derives from it). */
  name: string;
  /** The AWSCURRENT version when the pass was planned; the worker reads this version. */
  versionId?: string;
}

/** What a work item adds to the request a worker runs. */
export interface WorkContext {
  /** The planning pass's id: every item's log lines carry it as their correlation id. */
  correlationId: string;
  /** 1-based, of `items`. */
  item: number;
  items: number;
  secrets: WorkSecret[];
  /** The pass covered every configured secret (a reconcile): the worker also looks for orphans in its clusters. */
  everything: boolean;
  /** Fingerprint of the configuration that planned it; another one (a deploy in between) resolves the ids again. */
  configHash: string;
}

/** The message body. */
export interface WorkItem extends WorkContext {
  type: typeof WORK_ITEM_TYPE;
  trigger: Trigger;
  restart: boolean;
  clusters: string[];
  namespaces?: string[];
  /** Where the planning pass came from (an EventBridge event id, ...). */
  origin?: string;
}
