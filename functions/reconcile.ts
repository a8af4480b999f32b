/** Scheduled reconcile: every configured binding, selectors resolved; repairs drift and heals lost events. */
import { reconcileRequest } from '../lib/events/index.js';
import type { SyncReport } from '../lib/sync/types.js';
import { createRuntime, lambdaHandler, runAndReport } from './runtime.js';

const runtime = await createRuntime();

export const handler = lambdaHandler<SyncReport>(runtime, async ({ payload, failOnError, eventId }, context) => {
  // The schedule sends an EventBridge "Scheduled Event" (a pass with failures throws, for the retries and the failure
  // queue); a manual invoke may pass { "dryRun": true } and gets the whole report back, failures included.
  const dryRun = typeof payload === 'object' && payload !== null && (payload as { dryRun?: unknown }).dryRun === true;
  const origin = eventId ?? `reconcile ${context.awsRequestId}`;
  return runAndReport(runtime, reconcileRequest({ dryRun, origin }), context, { failOnError });
});
