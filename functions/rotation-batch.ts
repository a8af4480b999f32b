/**
 * `onRotation` behind its SQS queue: one batch of EventBridge events is one engine pass over every secret it rotated
 * (so a workload consuming several restarts once), and a partial batch response names the messages to redeliver.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
 */
import { isSecretArn, mayNameSameSecret, nameFromArn, refersTo } from '../lib/domain/secret-id.js';
import type { BatchMessage, BatchPass, RotationBatch } from '../lib/events/index.js';
import type { SyncReport } from '../lib/sync/types.js';
import { type BatchRunner, batchResponse, batchStep, invalidMessages, runLogged } from './runtime.js';

/**
 * Whether a failure reported for source `id` (a fetch id; `arn` as Secrets Manager returned it, when read) concerns
 * the secret a message named. Exact on the ARN when known; otherwise the textual "may be" of the resolve stage,
 * which over-matches rather than misses: a message failed wrongly is only redelivered (the pass is idempotent).
 */
function concerns(requested: string, id: string, arn: string | undefined): boolean {
  if (requested === id || requested === arn) return true;
  if (arn !== undefined) {
    const name = nameFromArn(arn);
    if (name !== undefined && refersTo(requested, { arn, name })) return true;
  }
  return mayNameSameSecret(id, isSecretArn(requested) ? { arn: requested } : { name: requested });
}

/**
 * The messages of `pass` whose secret has a failed source lookup or a failed binding in `report`. A failure that
 * concerns no message is about a secret the batch did not name (the other side of a same-Secret refusal, which the
 * named side's own failure already reports): it fails nothing here.
 */
export function failedMessages(pass: BatchPass, report: SyncReport): BatchMessage[] {
  const arnOf = new Map(report.sources.map((s) => [s.id, s.arn]));
  const failures = [
    ...report.sources.filter((s) => s.error !== undefined).map((s) => ({ id: s.id, arn: s.arn })),
    ...report.results.filter((r) => r.action === 'failed').map((r) => ({ id: r.source, arn: arnOf.get(r.source) })),
  ];
  return pass.messages.filter((m) => failures.some((f) => concerns(m.secretId, f.id, f.arn)));
}

/**
 * Runs a batch's passes (rotated secrets, then deleted ones) and returns the messages to redeliver: invalid ones,
 * and the ones whose secret failed somewhere. A pass that throws redelivers all of its messages.
 */
export const syncBatch: BatchRunner<RotationBatch> = async (runtime, batch, context) => {
  const { logger } = runtime;
  const failed = new Set(invalidMessages(runtime, batch.invalid));
  for (const { messageId, reason, secretId } of batch.ignored)
    logger.info('event ignored', { messageId, reason, secretId });
  for (const pass of batch.passes) {
    logger.info('batch pass', {
      deleted: pass.request.deleted === true,
      messages: pass.messages.map(({ messageId, secretId, eventId }) => ({ messageId, secretId, eventId })),
    });
    const report = await batchStep(runtime, 'batch pass', () => runLogged(runtime, pass.request, context));
    for (const m of report === undefined ? pass.messages : failedMessages(pass, report)) failed.add(m.messageId);
  }
  logger.info('batch finished', {
    messages: batch.invalid.length + batch.ignored.length + batch.passes.reduce((n, p) => n + p.messages.length, 0),
    failed: [...failed],
  });
  return batchResponse(failed);
};
