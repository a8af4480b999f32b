/** EventBridge -> one secret's new AWSCURRENT value into every mapped Kubernetes Secret, then rolling restarts. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { parseSecretEvent, toSyncRequest } from '../lib/events/index.js';
import type { SyncReport } from '../lib/sync/types.js';
import { createRuntime, runAndReport } from './runtime.js';

const runtime = await createRuntime();

export type OnRotationResult = SyncReport | { ignored: string; secretId?: string };

export const handler = middy<unknown, OnRotationResult>()
  .use(injectLambdaContext(runtime.logger))
  .use(logMetrics(runtime.metrics))
  .handler(async (event, context) => {
    // A malformed event throws InputError here: nothing was done, and the message names the bad field.
    const parsed = parseSecretEvent(event);
    if (parsed.kind === 'ignore') {
      runtime.logger.info('event ignored', { reason: parsed.reason, secretId: parsed.secretId });
      return parsed.secretId === undefined
        ? { ignored: parsed.reason }
        : { ignored: parsed.reason, secretId: parsed.secretId };
    }
    const eventId = (event as { id?: unknown }).id;
    return runAndReport(runtime, toSyncRequest(parsed, typeof eventId === 'string' ? { eventId } : {}), context);
  });
