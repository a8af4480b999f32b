/**
 * What every entry point builds once per container: configuration, SDK clients, cluster connector, engine,
 * logger and metrics. The only place that reads process.env.
 */
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { createConfiguredConnector } from '../lib/clusters/connector.js';
import { type Config, loadConfigFile } from '../lib/config/index.js';
import type { SyncRequest } from '../lib/domain/request.js';
import { SyncError } from '../lib/errors.js';
import { createSecretsManagerClient, createSecretsManagerSource } from '../lib/source/secrets-manager.js';
import { SyncEngine } from '../lib/sync/engine.js';
import type { BindingResult, SyncReport } from '../lib/sync/types.js';

export const SERVICE_NAME = 'eks-secret-sync';

export interface Runtime {
  config: Config;
  engine: SyncEngine;
  logger: Logger;
  metrics: Metrics;
}

/** The configuration file: `EKS_SYNC_CONFIG`, else `eks-secret-sync.yaml` packaged next to the function. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.EKS_SYNC_CONFIG ?? join(env.LAMBDA_TASK_ROOT ?? process.cwd(), 'eks-secret-sync.yaml');
}

/** Builds the runtime; an invalid configuration fails the cold start with a message naming the place in the file. */
export async function createRuntime(env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({
    namespace: env.EKS_SYNC_METRICS_NAMESPACE ?? 'EksSecretSync',
    serviceName: SERVICE_NAME,
  });
  const config = await loadConfigFile(configPath(env));
  const { timeouts } = config.defaults;
  const engine = new SyncEngine({
    config,
    source: createSecretsManagerSource(createSecretsManagerClient(timeouts.aws)),
    clusters: createConfiguredConnector(config.clusters, timeouts),
    log: {
      info: (message, attributes) => logger.info(message, { ...attributes }),
      warn: (message, attributes) => logger.warn(message, { ...attributes }),
      // One line per binding as it finishes: what finished is in the logs even if the invocation dies later.
      result: (result) => logBinding(logger, result),
    },
  });
  return { config, engine, logger, metrics };
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
 * Runs the engine until the invocation's pass deadline (binding lines are logged as they finish), emits metrics,
 * and throws if any binding failed.
 */
export async function runAndReport(
  runtime: Runtime,
  request: SyncRequest,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<SyncReport> {
  const { engine, logger, metrics } = runtime;
  const report = await engine.run(request, { deadlineAt: passDeadline(context) });
  for (const note of report.notes) logger.info(note);
  metrics.addDimension('Trigger', request.trigger);
  const { summary } = report;
  metrics.addMetric('Synced', MetricUnit.Count, summary.created + summary.updated);
  metrics.addMetric('Unchanged', MetricUnit.Count, summary.unchanged);
  metrics.addMetric('Failed', MetricUnit.Count, summary.failed);
  metrics.addMetric('Restarts', MetricUnit.Count, summary.restarts);
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
  logger.info('sync finished', {
    trigger: request.trigger,
    dryRun: request.dryRun,
    summary,
    durationMs: report.durationMs,
  });
  if (summary.failed > 0 || report.sources.some((s) => s.error !== undefined)) throw new SyncFailedError(report);
  return report;
}
