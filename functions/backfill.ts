/** Manual backfill: `{ secrets?, clusters?, namespaces?, dryRun?, restart? }`; no input means everything configured. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { parseBackfillInput } from '../lib/events/index.js';
import type { SyncReport } from '../lib/sync/types.js';
import { createRuntime, runAndReport } from './runtime.js';

const runtime = await createRuntime();

export const handler = middy<unknown, SyncReport>()
  .use(injectLambdaContext(runtime.logger))
  .use(logMetrics(runtime.metrics))
  .handler(async (input, context) =>
    // Invalid input throws InputError naming the field; nothing is read or written.
    runAndReport(runtime, parseBackfillInput(input, { origin: `backfill ${context.awsRequestId}` }), context),
  );
