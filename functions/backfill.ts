/** Manual backfill: `{ secrets?, clusters?, namespaces?, dryRun?, restart?, failOnError? }`; no input means everything configured. */
import { parseBackfillInput } from '../lib/events/index.js';
import type { SyncReport } from '../lib/sync/types.js';
import { createRuntime, lambdaHandler, runAndReport } from './runtime.js';

const runtime = await createRuntime();

// A manual invoke returns the whole report, failed bindings included; `"failOnError": true` throws instead
// (readInvocation in runtime.ts says why and when).
export const handler = lambdaHandler<SyncReport>(runtime, async ({ payload, failOnError }, context) =>
  // Invalid input throws InputError naming the field; nothing is read or written.
  runAndReport(runtime, parseBackfillInput(payload, { origin: `backfill ${context.awsRequestId}` }), context, {
    failOnError,
  }),
);
