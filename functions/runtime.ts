/**
 * What every entry point builds once per container: configuration, SDK clients, cluster connector, engine,
 * logger and metrics. The only place that reads process.env.
 */
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { type Config, loadConfigFile } from '../lib/config/index.js';
import type { SyncRequest } from '../lib/domain/request.js';
import { InputError, SyncError } from '../lib/errors.js';
import type { ContinuationQueue } from '../lib/events/index.js';
import type { SyncEngine } from '../lib/sync/engine.js';
import type { ClusterConnector } from '../lib/sync/ports/kube.js';
import type { WorkQueue } from '../lib/sync/ports/queue.js';
import type { SecretSource } from '../lib/sync/ports/source.js';
import type { BindingResult, SyncReport } from '../lib/sync/types.js';
import { createAdapters, createContinuationQueue, createEngine, createWorkQueue } from '../lib/wiring/index.js';
import { continueWaves } from './waves-continuation.js';

export const SERVICE_NAME = 'eks-secret-sync';

export interface Runtime {
  config: Config;
  engine: SyncEngine;
  logger: Logger;
  metrics: Metrics;
  /** Where passes with waves still rolling send their continuation (README "Waves"); none: nothing continues them. */
  continuations?: ContinuationQueue;
}

/** The configuration file: `EKS_SYNC_CONFIG`, else `eks-secret-sync.yaml` packaged next to the function. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.EKS_SYNC_CONFIG ?? join(env.LAMBDA_TASK_ROOT ?? process.cwd(), 'eks-secret-sync.yaml');
}

/** What a runtime is built from: the configuration and the adapters (real ones on Lambda, fakes in unit tests). */
export interface RuntimeDeps {
  config: Config;
  source: SecretSource;
  clusters: ClusterConnector;
  /** The work-item queue (`EKS_SYNC_WORK_QUEUE_URL` on Lambda); none: every pass runs inline. */
  work?: WorkQueue;
  logger?: Logger;
  metrics?: Metrics;
  continuations?: ContinuationQueue;
}

function newLogger(): Logger {
  return new Logger({ serviceName: SERVICE_NAME });
}

function newMetrics(env: NodeJS.ProcessEnv): Metrics {
  return new Metrics({ namespace: env.EKS_SYNC_METRICS_NAMESPACE ?? 'EksSecretSync', serviceName: SERVICE_NAME });
}

/** Builds the runtime; an invalid configuration fails the cold start with a message naming the place in the file. */
export async function createRuntime(env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  const logger = newLogger();
  const metrics = newMetrics(env);
  let config: Config;
  try {
    config = await loadConfigFile(configPath(env));
  } catch (error) {
    // The init error reaches only Lambda's own log line; the metric is what the ConfigFailed alarm watches.
    configFailed(logger, metrics, error);
    throw error;
  }
  const { source, clusters } = createAdapters(config);
  const queueUrl = env.EKS_SYNC_CONTINUATION_QUEUE_URL;
  const workQueueUrl = env.EKS_SYNC_WORK_QUEUE_URL;
  return buildRuntime({
    config,
    source,
    clusters,
    logger,
    metrics,
    ...(queueUrl ? { continuations: createContinuationQueue(config, queueUrl, env.AWS_REGION) } : {}),
    ...(workQueueUrl ? { work: createWorkQueue(config, workQueueUrl, env.AWS_REGION) } : {}),
  });
}

/** Emits `ConfigFailed` (dimension `service` only) and logs why; the configuration file holds no secret value. */
export function configFailed(logger: Logger, metrics: Metrics, error: unknown): void {
  logger.error('configuration failed to load', {
    error: { name: (error as Error).name, message: (error as Error).message },
  });
  metrics.addMetric('ConfigFailed', MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
}

/** Wires the engine to the adapters, with the engine's log lines going to the Powertools logger. */
export function buildRuntime(deps: RuntimeDeps): Runtime {
  const logger = deps.logger ?? newLogger();
  const metrics = deps.metrics ?? newMetrics(process.env);
  const engine = createEngine({
    config: deps.config,
    ports: { source: deps.source, clusters: deps.clusters },
    ...(deps.work === undefined ? {} : { work: deps.work }),
    // The function's name (e.g. eks-secret-sync-prod-reconcile) as the Events' reportingInstance.
    reportingInstance: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'eks-secret-sync',
    log: {
      info: (message, attributes) => logger.info(message, { ...attributes }),
      warn: (message, attributes) => logger.warn(message, { ...attributes }),
      // One line per binding as it finishes: what finished is in the logs even if the invocation dies later.
      result: (result) => logBinding(logger, result),
    },
  });
  const runtime: Runtime = { config: deps.config, engine, logger, metrics };
  if (deps.continuations !== undefined) runtime.continuations = deps.continuations;
  return runtime;
}

function logBinding(logger: Logger, result: BindingResult): void {
  const line = { binding: result };
  if (result.action === 'failed') logger.error('binding failed', line);
  else logger.info(`binding ${result.action}`, line);
}

/** Time kept after the pass deadline to log, flush metrics and return before Lambda's own timeout. */
export const FLUSH_MARGIN_MS = 5_000;

/**
 * The pass deadline for an invocation: its remaining time minus `FLUSH_MARGIN_MS`, or minus a quarter of it when
 * less than 20 s remain (a short remaining time still leaves the pass most of it).
 */
export function passDeadline(context: Pick<Context, 'getRemainingTimeInMillis'>, now = Date.now()): number {
  const remaining = Math.max(0, context.getRemainingTimeInMillis());
  return now + remaining - Math.min(FLUSH_MARGIN_MS, remaining / 4);
}

/** Thrown after every binding ran, when some failed, so that Lambda/EventBridge retry the (idempotent) pass. */
export class SyncFailedError extends SyncError {
  override readonly name = 'SyncFailedError';
  readonly report: SyncReport;

  constructor(report: SyncReport) {
    const failed = report.results.filter((r) => r.action === 'failed');
    const sources = report.sources.filter((s) => s.error !== undefined);
    const parts = [
      ...sources.map((s) => `source "${s.id}": ${s.error?.message}`),
      ...failed.map((r) => `${r.cluster}/${r.namespace}/${r.secret}: ${r.error?.message ?? 'failed'}`),
    ];
    super(
      failed[0]?.error?.code ?? sources[0]?.error?.code ?? 'Internal',
      `${failed.length} of ${report.results.length} bindings failed${sources.length > 0 ? `, ${sources.length} source lookups failed` : ''}: ${parts.slice(0, 10).join('; ')}`,
      { retryable: true },
    );
    this.report = report;
  }
}

/**
 * How one invocation ends when its pass failed somewhere. EventBridge delivers asynchronously (the rotation rules,
 * the reconcile schedule): its events carry `source`, `detail-type` and `id`, and a pass with failures throws, so
 * that Lambda retries and the failure queue get it. Anything else is a manual invoke (backfill, reconcile by hand,
 * a dry run) and returns the whole report, failures included, unless its payload says `"failOnError": true` (for
 * automation that invokes asynchronously and relies on the retries and the failure queue).
 */
export interface Invocation {
  /** The payload without `failOnError`. */
  payload: unknown;
  failOnError: boolean;
  /** The EventBridge event id, when the payload is an EventBridge event. */
  eventId?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An EventBridge event, as opposed to a manual payload: string `source`, `detail-type` and `id`. */
export function isEventBridgeEvent(input: unknown): input is { id: string; source: string; 'detail-type': string } {
  return (
    isRecord(input) &&
    typeof input.id === 'string' &&
    typeof input.source === 'string' &&
    typeof input['detail-type'] === 'string'
  );
}

/** Reads how an invocation ends (see `Invocation`). Throws InputError naming `failOnError` when it is not a boolean. */
export function readInvocation(input: unknown): Invocation {
  if (isEventBridgeEvent(input)) return { payload: input, failOnError: true, eventId: input.id };
  if (!isRecord(input) || !('failOnError' in input)) return { payload: input, failOnError: false };
  const { failOnError, ...payload } = input;
  if (typeof failOnError !== 'boolean') {
    throw new InputError('InvalidInput', `invalid input: "failOnError" must be a boolean, got ${typeof failOnError}`);
  }
  return { payload, failOnError };
}

/**
 * The middy chain every entry point shares: Lambda context and a correlation id on every log line (the EventBridge
 * event id, else the request id), keys reset after each invocation, metrics flushed; `body` gets the `Invocation`.
 */
export function lambdaHandler<R>(
  runtime: Runtime,
  body: (invocation: Invocation, context: Context) => Promise<R>,
): middy.MiddyfiedHandler<unknown, R> {
  const { logger, metrics } = runtime;
  // resetKeys: a warm container must not carry one pass's secret id or event id into the next invocation's lines.
  return middy<unknown, R>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (input, context) => {
      const eventId = isEventBridgeEvent(input) ? input.id : undefined;
      logger.setCorrelationId(eventId ?? context.awsRequestId);
      return body(readInvocation(input), context);
    });
}

/** The keys a pass adds to every log line: the secret and version it syncs, when it syncs one. */
function passKeys(request: SyncRequest): Record<string, string | string[]> {
  const keys: Record<string, string | string[]> = {};
  if (request.secrets?.length === 1) keys.secretId = request.secrets[0] as string;
  else if (request.secrets !== undefined) keys.secretIds = request.secrets;
  if (request.versionId !== undefined) keys.versionId = request.versionId;
  return keys;
}

/**
 * Runs the engine until the invocation's pass deadline (binding lines are logged as they finish) and emits metrics.
 * With `failOnError` a pass where anything failed throws `SyncFailedError` (the report rides on it); without, the
 * report is returned as it is.
 */
export async function runAndReport(
  runtime: Runtime,
  request: SyncRequest,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  options: { failOnError: boolean },
): Promise<SyncReport> {
  const report = await runLogged(runtime, request, context);
  const failedSources = report.sources.filter((s) => s.error !== undefined);
  if (report.summary.failed > 0 || failedSources.length > 0) {
    const error = new SyncFailedError(report);
    if (options.failOnError) throw error;
    runtime.logger.error('sync finished with failures; returning the report (manual invoke)', { error: error.message });
  }
  return report;
}

/** Runs one pass until the invocation's pass deadline, logs its summary and emits its metrics; never throws for failures. */
export async function runLogged(
  runtime: Runtime,
  request: SyncRequest,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  options: { continueWaves?: boolean } = {},
): Promise<SyncReport> {
  const { engine, logger, metrics } = runtime;
  logger.appendKeys(passKeys(request));
  // With a continuation queue a pass writes one wave; the queue carries on to the next (README "Waves").
  const report = await engine.run(request, {
    deadlineAt: passDeadline(context),
    ...(runtime.continuations === undefined ? {} : { wavesPerPass: 1 }),
  });
  for (const note of report.notes) logger.info(note);
  emitMetrics(metrics, request, report);
  logger.info('sync finished', {
    trigger: request.trigger,
    dryRun: request.dryRun,
    summary: report.summary,
    // What the pass resolved: ARNs and version ids only.
    sources: report.sources.map(({ id, arn, versionId, error }) => ({ id, arn, versionId, error: error?.code })),
    durationMs: report.durationMs,
    // A queued pass: how many work items carry it, under which correlation id (README "Fleet scale: work items").
    ...(report.queued === undefined ? {} : { queued: report.queued }),
    ...(request.work === undefined ? {} : { workItem: { item: request.work.item, of: request.work.items } }),
  });
  // Waves still rolling that this pass moved go on later, through the continuation queue (README "Waves").
  if (options.continueWaves !== false) await continueWaves(runtime, report);
  return report;
}

function emitMetrics(metrics: Metrics, request: SyncRequest, report: SyncReport): void {
  metrics.addDimension('Trigger', request.trigger);
  const { summary } = report;
  metrics.addMetric('Synced', MetricUnit.Count, summary.created + summary.updated);
  metrics.addMetric('Unchanged', MetricUnit.Count, summary.unchanged);
  metrics.addMetric('Failed', MetricUnit.Count, summary.failed);
  metrics.addMetric('SourceFailed', MetricUnit.Count, report.sources.filter((s) => s.error !== undefined).length);
  metrics.addMetric('Restarts', MetricUnit.Count, summary.restarts);
  // Of those restarts: how their rollouts ended (README "Rollouts"); a failed rollout does not fail the pass.
  metrics.addMetric('RolledOut', MetricUnit.Count, summary.rolledOut);
  metrics.addMetric('Progressing', MetricUnit.Count, summary.progressing);
  metrics.addMetric('RolloutFailed', MetricUnit.Count, summary.rolloutFailed);
  metrics.addMetric('Deleted', MetricUnit.Count, summary.deleted);
  metrics.addMetric('Orphaned', MetricUnit.Count, summary.orphaned);
  metrics.addMetric(
    'DeadlineExceeded',
    MetricUnit.Count,
    report.results.filter((r) => r.error?.code === 'DeadlineExceeded').length,
  );
  if (request.trigger === 'reconcile') {
    const drift = report.results.filter((r) => r.drift).length;
    metrics.addMetric('DriftFound', MetricUnit.Count, drift);
    metrics.addMetric(
      'DriftRepaired',
      MetricUnit.Count,
      request.dryRun ? 0 : report.results.filter((r) => r.drift && r.action !== 'failed').length,
    );
  }
  metrics.addMetric('Duration', MetricUnit.Milliseconds, report.durationMs);
  if (report.queued !== undefined) metrics.addMetric('WorkItemsQueued', MetricUnit.Count, report.queued.items);
  if (request.work !== undefined) metrics.addMetric('WorkItemsDone', MetricUnit.Count, 1);
  // Per cluster, and only for clusters with failures: the one metric with a Cluster dimension, so that the number of
  // metric series stays at one per cluster that ever failed (no Trigger, namespace or secret dimension).
  const failedByCluster = new Map<string, number>();
  for (const r of report.results) {
    if (r.action === 'failed') failedByCluster.set(r.cluster, (failedByCluster.get(r.cluster) ?? 0) + 1);
  }
  for (const [cluster, failed] of failedByCluster) {
    metrics.singleMetric().addDimension('Cluster', cluster).addMetric('FailedByCluster', MetricUnit.Count, failed);
  }
}

/**
 * Logs each invalid message of an SQS batch (its error names the place, never a value) and returns their ids: they
 * are reported failed, so that SQS redelivers them until they reach the dead-letter queue.
 */
export function invalidMessages(
  runtime: Pick<Runtime, 'logger'>,
  invalid: ReadonlyArray<{ messageId: string; error: { code: string; message: string } }>,
): string[] {
  for (const { messageId, error } of invalid) {
    runtime.logger.error('message invalid', { messageId, error: { code: error.code, message: error.message } });
  }
  return invalid.map((m) => m.messageId);
}

/** What a queue's function does with one SQS batch as read: it runs it and names the messages to redeliver. */
export type BatchRunner<B> = (
  runtime: Runtime,
  batch: B,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<SQSBatchResponse>;

/**
 * Runs one pass of an SQS batch (and what follows it); when it throws, logs `<what> failed` with the error's name and
 * message and returns undefined: the caller redelivers that pass's messages, and the batch goes on.
 */
export async function batchStep<T>(
  runtime: Pick<Runtime, 'logger'>,
  what: string,
  step: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await step();
  } catch (error) {
    runtime.logger.error(`${what} failed`, {
      error: { name: (error as Error).name, message: (error as Error).message },
    });
    return undefined;
  }
}

/** The partial batch response naming the messages for SQS to redeliver. */
export function batchResponse(failed: Iterable<string>): SQSBatchResponse {
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
}
