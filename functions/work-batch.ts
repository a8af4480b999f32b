/**
 * The worker of a queued pass (README "Fleet scale: work items"): each SQS message is one work item, run as an engine
 * pass over its clusters with the planning pass's correlation id on every log line; a partial batch response names
 * the items to redeliver (an invalid body, a failed binding or source read, a pass that threw).
 */
import type { WorkBatch } from '../lib/events/index.js';
import { type BatchRunner, batchResponse, batchStep, invalidMessages, runLogged } from './runtime.js';

/** Runs each item of `batch` in turn and returns the message ids to redeliver. */
export const syncWorkBatch: BatchRunner<WorkBatch> = async (runtime, batch, context) => {
  const { logger } = runtime;
  const failed = invalidMessages(runtime, batch.invalid);
  for (const { messageId, item, request } of batch.items) {
    // Every line of this item carries the pass's id, so one query shows the planning pass and all of its items.
    logger.setCorrelationId(item.correlationId);
    logger.appendKeys({ workItem: { messageId, item: item.item, of: item.items, clusters: item.clusters } });
    const report = await batchStep(runtime, 'work item', () => runLogged(runtime, request, context));
    logger.removeKeys(['workItem']);
    if (report === undefined || report.summary.failed > 0 || report.sources.some((s) => s.error !== undefined)) {
      failed.push(messageId);
    }
  }
  logger.info('work batch finished', { items: batch.items.length + batch.invalid.length, failed });
  return batchResponse(failed);
};
