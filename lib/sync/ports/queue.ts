/** The work-item queue of the engine (README "Fleet scale: work items"). `lib/queue` implements it on SQS. */
import type { WorkItem } from '../../domain/work-item.js';

export interface WorkQueue {
  /** Enqueues every item or throws (SyncError `QueueFailed`); an item sent twice is harmless (idempotent passes). */
  send(items: readonly WorkItem[]): Promise<void>;
}
