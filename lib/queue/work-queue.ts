/**
 * The engine's `WorkQueue` on Amazon SQS (README "Fleet scale: work items"), over the small SQS client of
 * `sqs.ts`. Messages are work items: ids and version ids, never a secret value.
 */
import { SyncError } from '../errors.js';
import { mapLimit } from '../sync/concurrency.js';
import type { WorkQueue } from '../sync/ports/queue.js';
import type { SqsQueueClient } from './sqs.js';

/** SendMessage calls in flight while a pass enqueues its items. */
const SEND_CONCURRENCY = 8;

/** Sends each item as one message; any failure fails the send (SyncError `QueueFailed`), and the pass is retried. */
export function sqsWorkQueue(client: SqsQueueClient): WorkQueue {
  return {
    async send(items) {
      const sent = await mapLimit(items, SEND_CONCURRENCY, async (item) => {
        try {
          await client.send(JSON.stringify(item), 0);
          return undefined;
        } catch (error) {
          return error as Error;
        }
      });
      const failed = sent.filter((e): e is Error => e !== undefined);
      if (failed.length > 0) {
        const retryable = failed.every((e) => e instanceof SyncError && e.retryable);
        throw new SyncError(
          'QueueFailed',
          `${failed.length} of ${items.length} work item(s) could not be enqueued: ${failed[0]?.message}`,
          { retryable, cause: failed[0] },
        );
      }
    },
  };
}
