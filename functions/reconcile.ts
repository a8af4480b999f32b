/** Scheduled reconcile: every configured binding, selectors resolved; repairs drift and heals lost events. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { reconcileRequest } from '../lib/events/index.js';
import type { SyncReport } from '../lib/sync/types.js';
import { createRuntime, runAndReport } from './runtime.js';

const runtime = await createRuntime();

export const handler = middy<unknown, SyncReport>()
  .use(injectLambdaContext(runtime.logger))
  .use(logMetrics(runtime.metrics))
  .handler(async (input, context) => {
    // The schedule sends an EventBridge "Scheduled Event"; a manual invoke may pass { "dryRun": true }.
    const dryRun = typeof input === 'object' && input !== null && (input as { dryRun?: unknown }).dryRun === true;
    return runAndReport(runtime, reconcileRequest({ dryRun, origin: `reconcile ${context.awsRequestId}` }), context);
  });
