/**
 * EventBridge -> a rotated secret's new AWSCURRENT value into every mapped Kubernetes Secret, then rolling restarts.
 * Invoked by the SQS queue the rules target (a batch of events, one pass), or with one event (direct rule, by hand).
 */
import type { SQSBatchResponse } from 'aws-lambda';
import { type IgnoredEvent, isSqsBatch, readRotationBatch, rotationRequest } from '../lib/events/index.js';
import type { SyncReport } from '../lib/sync/types.js';
import { syncBatch } from './rotation-batch.js';
import { createRuntime, lambdaHandler, runAndReport } from './runtime.js';

const runtime = await createRuntime();

export type OnRotationResult = SyncReport | IgnoredEvent | SQSBatchResponse;

export const handler = lambdaHandler<OnRotationResult>(runtime, async ({ payload }, context) => {
  // A batch reports its failed messages (partial batch response) instead of throwing for them.
  if (isSqsBatch(payload)) return syncBatch(runtime, readRotationBatch(payload), context);
  // A malformed event throws InputError here: nothing was done, and the message names the bad field.
  const request = rotationRequest(payload);
  if ('ignored' in request) {
    runtime.logger.info('event ignored', { reason: request.ignored, secretId: request.secretId });
    return request;
  }
  // An EventBridge event (the direct rule path): a pass with failures always throws, so that Lambda retries it
  // (idempotent: a retry redoes only what failed) and the failure queue gets what still fails.
  return runAndReport(runtime, request, context, { failOnError: true });
});
