/**
 * SQS work-item queue -> one engine pass per item over its clusters (README "Fleet scale: work items"). The items
 * come from a pass too large for one invocation; the secrets are read again by version id, never carried.
 */
import type { SQSBatchResponse } from 'aws-lambda';
import { InputError } from '../lib/errors.js';
import { isSqsBatch, readWorkBatch } from '../lib/events/index.js';
import { createRuntime, lambdaHandler } from './runtime.js';
import { syncWorkBatch } from './work-batch.js';

const runtime = await createRuntime();

export const handler = lambdaHandler<SQSBatchResponse>(runtime, async ({ payload }, context) => {
  if (!isSqsBatch(payload)) throw new InputError('InvalidEvent', 'workItem expects an SQS batch of work items');
  return syncWorkBatch(runtime, readWorkBatch(payload), context);
});
