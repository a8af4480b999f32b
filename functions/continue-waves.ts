/**
 * The continuation queue -> the waves of a rotation, checked again (README "Waves"): one pass per batch over the
 * secrets its messages name, at their versions; the next message is sent while a wave is still rolling out.
 */
import type { SQSBatchResponse } from 'aws-lambda';
import { readContinuationBatch } from '../lib/events/index.js';
import { createRuntime, lambdaHandler } from './runtime.js';
import { continueBatch } from './waves-continuation.js';

const runtime = await createRuntime();

// Invalid messages and chains that could not go on are reported failed (partial batch response): SQS redelivers
// them, and its redrive policy moves what keeps failing to the continuation DLQ.
export const handler = lambdaHandler<SQSBatchResponse>(runtime, async ({ payload }, context) =>
  continueBatch(runtime, readContinuationBatch(payload), context),
);
