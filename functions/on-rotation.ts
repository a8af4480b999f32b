/** EventBridge -> one secret's new AWSCURRENT value into every mapped Kubernetes Secret, then rolling restarts. */
import { type IgnoredEvent, rotationRequest } from '../lib/events/index.js';
import type { SyncReport } from '../lib/sync/types.js';
import { createRuntime, lambdaHandler, runAndReport } from './runtime.js';

const runtime = await createRuntime();

export type OnRotationResult = SyncReport | IgnoredEvent;

export const handler = lambdaHandler<OnRotationResult>(runtime, async ({ payload }, context) => {
  // A malformed event throws InputError here: nothing was done, and the message names the bad field.
  const request = rotationRequest(payload);
  if ('ignored' in request) {
    runtime.logger.info('event ignored', { reason: request.ignored, secretId: request.secretId });
    return request;
  }
  // Only EventBridge invokes this function (asynchronously): a pass with failures always throws, so that Lambda
  // retries it (idempotent: a retry redoes only what failed) and the failure queue gets what still fails.
  return runAndReport(runtime, request, context, { failOnError: true });
});
