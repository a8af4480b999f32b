/**
 * Continuing waves (README "Waves") without a Lambda sleeping: a pass that leaves a wave rolling out sends a delayed
 * message to the continuation queue, and the continuation function runs a pass for that secret and version when it
 * arrives (the gate decides from the clusters), sending the next message while a wave is still rolling.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { type Continuation, type ContinuationBatch, continuation } from '../lib/events/index.js';
import type { SyncReport, WaveProgress } from '../lib/sync/types.js';
import { type BatchRunner, batchResponse, batchStep, invalidMessages, type Runtime, runLogged } from './runtime.js';

/** A chain older than this ends (logged): a wave that never decides is left to reconcile and to a person. */
export const MAX_CHAIN_MS = 24 * 3_600_000;

function chainKey(arn: string, sync: number): string {
  return `${arn}#${sync}`;
}

/** What `continueWaves` did: the messages sent, the chains that ended, and the chains whose next message failed. */
export interface Continued {
  sent: Continuation[];
  ended: Array<{ chain: Continuation; why: string }>;
  failed: Continuation[];
}

/**
 * After a pass: sends one continuation per (secret, sync) whose waves are still `waiting`, when the pass moved them
 * (wrote or restarted) or continues their chain (`chains`, the messages that started it). A duplicate event, a
 * retry or a reconcile that moved nothing starts no second chain. Never throws: a send that fails is logged, counted
 * (`ContinuationFailed`) and returned in `failed`.
 */
export async function continueWaves(
  runtime: Runtime,
  report: SyncReport,
  chains: readonly Continuation[] = [],
  now = new Date(),
): Promise<Continued> {
  const { logger, metrics } = runtime;
  const out: Continued = { sent: [], ended: [], failed: [] };
  const byKey = new Map<string, Continuation[]>();
  for (const c of chains)
    byKey.set(chainKey(c.secretArn, c.sync), [...(byKey.get(chainKey(c.secretArn, c.sync)) ?? []), c]);
  const progressed = new Set<string>();
  for (const progress of report.waves ?? []) {
    if (progress.arn === undefined || progress.versionId === undefined) continue;
    const key = chainKey(progress.arn, progress.sync);
    progressed.add(key);
    const mine = (byKey.get(key) ?? []).filter((c) => c.versionId === progress.versionId);
    const others = (byKey.get(key) ?? []).filter((c) => c.versionId !== progress.versionId);
    for (const chain of others) out.ended.push({ chain, why: `superseded by version ${progress.versionId}` });
    if (progress.state !== 'waiting' || report.dryRun || runtime.continuations === undefined) {
      for (const chain of mine)
        out.ended.push({ chain, why: progress.state === 'waiting' ? 'dry run' : progress.state });
      if (progress.state === 'failed' && (progress.moved || mine.length > 0)) halted(runtime, progress);
      continue;
    }
    if (mine.length === 0 && !progress.moved) continue;
    // Duplicates of one chain in a batch continue as one message.
    const first = mine.reduce<Continuation | undefined>(
      (a, c) => (a === undefined || c.startedAt < a.startedAt ? c : a),
      undefined,
    );
    const startedAt = first?.startedAt ?? now.toISOString();
    if (now.getTime() - Date.parse(startedAt) > MAX_CHAIN_MS) {
      for (const chain of mine) out.ended.push({ chain, why: 'older than 24 h' });
      logger.warn('waves not continued: the chain is older than 24 h', waveKeys(progress));
      continue;
    }
    const next = continuation({
      secretArn: progress.arn,
      versionId: progress.versionId,
      sync: progress.sync,
      wave: progress.wave,
      startedAt,
      sentAt: now.toISOString(),
      attempt: (first?.attempt ?? 0) + 1,
    });
    try {
      await runtime.continuations.send(next, progress.delaySeconds);
      out.sent.push(next);
      logger.info('waves continue later', { ...waveKeys(progress), delaySeconds: progress.delaySeconds });
    } catch (error) {
      out.failed.push(...(mine.length > 0 ? mine : [next]));
      metrics.addMetric('ContinuationFailed', MetricUnit.Count, 1);
      logger.error('waves continuation not sent', {
        ...waveKeys(progress),
        error: { name: (error as Error).name, message: (error as Error).message },
      });
    }
  }
  // A chain whose secret no pass covered any more (the sync was removed, the secret deleted) ends here.
  for (const [key, list] of byKey) {
    if (!progressed.has(key)) for (const chain of list) out.ended.push({ chain, why: 'no waves for it in this pass' });
  }
  for (const { chain, why } of out.ended) {
    logger.info('waves chain ended', { secretArn: chain.secretArn, versionId: chain.versionId, sync: chain.sync, why });
  }
  metrics.addMetric('ContinuationsSent', MetricUnit.Count, out.sent.length);
  return out;
}

function waveKeys(progress: WaveProgress): Record<string, unknown> {
  const { source, arn, versionId, sync, wave, of, state, reason } = progress;
  return { secretId: source, secretArn: arn, versionId, sync, wave, of, state, reason };
}

/** Counts and logs a halt once: by the pass that saw the wave fail after moving it, or by its chain. */
function halted(runtime: Runtime, progress: WaveProgress): void {
  runtime.metrics.addMetric('RolloutHalted', MetricUnit.Count, 1);
  runtime.logger.warn('waves halted', waveKeys(progress));
}

/**
 * The continuation function's batch: one pass over every secret the messages name (each at the version its chain
 * carries; a newer AWSCURRENT ends the chain, its own event starts a new one), then the next messages. Reported
 * failed, for SQS to redeliver: invalid messages (until they move to the DLQ), and chains whose next message could
 * not be sent or whose pass threw; a redelivered message resumes from the clusters like any pass.
 */
export const continueBatch: BatchRunner<ContinuationBatch> = async (runtime, batch, context) => {
  const { logger } = runtime;
  const failed = new Set(invalidMessages(runtime, batch.invalid));
  const chains = batch.messages.map((m) => m.continuation);
  if (chains.length > 0) {
    const secrets = [...new Set(chains.map((c) => c.secretArn))];
    const versionIds = Object.fromEntries(chains.map((c) => [c.secretArn, c.versionId]));
    logger.info('continuing waves', {
      messages: batch.messages.map(({ messageId, continuation: c }) => ({ messageId, ...c })),
    });
    const continued = await batchStep(runtime, 'continuation pass', async () => {
      const report = await runLogged(
        runtime,
        { trigger: 'rotation', secrets, versionIds, dryRun: false, restart: true, origin: 'continuation' },
        context,
        { continueWaves: false },
      );
      return continueWaves(runtime, report, chains);
    });
    // A pass that threw redelivers every chain of the batch.
    for (const chain of continued === undefined ? chains : continued.failed) {
      for (const m of batch.messages) if (m.continuation === chain) failed.add(m.messageId);
    }
  }
  return batchResponse(failed);
};
