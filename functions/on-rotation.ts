/** EventBridge -> one secret's new AWSCURRENT value into every mapped Kubernetes Secret, then rolling restarts. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type IgnoredEvent, rotationRequest } from '../lib/events/index.js';
import type { SyncReport } from '../lib/sync/types.js';
import { createRuntime, runAndReport } from './runtime.js';

const runtime = await createRuntime();

export type OnRotationResult = SyncReport | IgnoredEvent;

export const handler = middy<unknown, OnRotationResult>()
  .use(injectLambdaContext(runtime.logger))
  .use(logMetrics(runtime.metrics))
  .handler(async (event, context) => {
    // A malformed event throws InputError here: nothing was done, and the message names the bad field.
    const request = rotationRequest(event);
    if ('ignored' in request) {
      runtime.logger.info('event ignored', { reason: request.ignored, secretId: request.secretId });
      return request;
    }
    return runAndReport(runtime, request, context);
  });
