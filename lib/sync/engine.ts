/**
 * The engine: one pass is check -> resolve -> plan (or queue as work items) -> update (fetch, apply in waves, settle)
 * -> orphans -> observe (the rollouts it started) -> report, each stage a module of `stages/`. Depends on ports
 * only; never reads process.env, never builds an SDK client.
 */

import { randomUUID } from 'node:crypto';
import type { Config } from '../config/index.js';
import { REPORTING_CONTROLLER } from '../domain/names.js';
import type { SyncRequest } from '../domain/request.js';
import { limitCalls } from './calls/limit.js';
import { retryCalls } from './calls/retry.js';
import { deadlineConnector, deadlineSource, PassDeadline } from './deadline.js';
import { fanoutDecision, pinnedOf } from './fanout.js';
import { reconcileOrphans } from './orphans.js';
import type { EngineLog, Pass, PassRequest } from './pass.js';
import { planBindings } from './plan.js';
import type { ClusterConnector, KubeApi } from './ports/kube.js';
import type { WorkQueue } from './ports/queue.js';
import type { SecretSource } from './ports/source.js';
import { type ReleaseReport, type ReleaseRequest, releaseHolds } from './release.js';
import { observeRollouts } from './stages/observe.js';
import { emptyReport, splitConflicts, summarize } from './stages/report.js';
import { checkRequest, planPeers } from './stages/resolve.js';
import { updateBindings } from './stages/update.js';
import { queuePass, resolveWork } from './stages/work.js';
import { bindingStatus, type StatusReport, type StatusRequest } from './status.js';
import type { SyncReport } from './types.js';

export type { ClusterProgress, EngineLog } from './pass.js';
export type { ReleaseReport, ReleaseRequest } from './release.js';
export type { StatusReport, StatusRequest } from './status.js';

export interface EngineDeps {
  config: Config;
  source: SecretSource;
  clusters: ClusterConnector;
  now?: () => Date;
  /** How the engine waits between rollout checks; tests pass one that moves their `now` instead. */
  sleep?: (ms: number) => Promise<void>;
  log?: EngineLog;
  /** Names the entry point in the Kubernetes Events it records (`reportingInstance`); default `eks-secret-sync`. */
  reportingInstance?: string;
  /** Where a pass too large for one invocation enqueues its work items (`defaults.fanout`); none: always inline. */
  work?: WorkQueue;
}

/** Per-pass options. */
export interface RunOptions {
  /**
   * Epoch milliseconds on the engine's clock. After it the pass stops waiting for calls in flight, starts none, and
   * reports the unfinished bindings `failed` with `DeadlineExceeded`; everything finished is kept.
   */
  deadlineAt?: number;
  /**
   * Waves with changes a pass writes per (secret, sync) before it leaves the next wave to a continuation (README
   * "Waves"); by default all that are healthy in turn.
   */
  wavesPerPass?: number;
}

const silent: EngineLog = { info: () => {}, warn: () => {} };
const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SyncEngine {
  private readonly log: EngineLog;
  private readonly now: () => Date;

  constructor(private readonly deps: EngineDeps) {
    this.log = deps.log ?? silent;
    this.now = deps.now ?? (() => new Date());
  }

  /** Runs one pass. Throws InputError for a request that names nothing configured; everything else is reported. */
  async run(input: SyncRequest, options: RunOptions = {}): Promise<SyncReport> {
    // The pass id goes into the restart-pending markers it sets, so that it clears only its own (or ones it finished).
    const request: PassRequest = { ...input, pass: randomUUID() };
    const { wavesPerPass } = options;
    return this.withDeadline(request, options, (pass) => runPass({ ...pass, wavesPerPass }, this.deps.work));
  }

  /**
   * Where every selected binding stands against AWSCURRENT (read only: DescribeSecret, no value is read). Same
   * connector, call limits and deadline as a pass. Throws InputError for filters that name nothing configured.
   */
  async status(input: StatusRequest = {}, options: RunOptions = {}): Promise<StatusReport> {
    // Resolved and planned as a backfill of the same filters; the request never reaches a writing stage.
    const request: PassRequest = { ...input, trigger: 'backfill', dryRun: true, restart: false, pass: randomUUID() };
    return this.withDeadline(request, options, bindingStatus);
  }

  /**
   * Removes the hold on a version after a failed wave from the Secrets of `input.secrets` (README "Waves"); the next
   * pass continues their waves. Throws InputError for filters that name nothing configured.
   */
  async release(input: ReleaseRequest, options: RunOptions = {}): Promise<ReleaseReport> {
    // Resolved and planned as a backfill of the same secrets; only the hold annotation is written.
    const request: PassRequest = { ...input, trigger: 'backfill', dryRun: true, restart: false, pass: randomUUID() };
    return this.withDeadline(request, options, releaseHolds);
  }

  /** `run` over the pass's ports; with a deadline, every port call (Secrets Manager, connects, Kubernetes) ends at it. */
  private async withDeadline<T>(
    request: PassRequest,
    options: RunOptions,
    run: (pass: Pass) => Promise<T>,
  ): Promise<T> {
    if (options.deadlineAt === undefined) return run(this.passOf(request, this.deps.source, this.deps.clusters));
    const deadline = new PassDeadline(options.deadlineAt, this.now);
    try {
      const source = deadlineSource(this.deps.source, deadline);
      const clusters = deadlineConnector(this.deps.clusters, deadline);
      return await run(this.passOf(request, source, clusters, deadline));
    } finally {
      deadline.dispose();
    }
  }

  private passOf(
    request: PassRequest,
    source: SecretSource,
    clusters: ClusterConnector,
    deadline?: PassDeadline,
  ): Pass {
    const { config } = this.deps;
    const now = this.now;
    return {
      request,
      config,
      source,
      log: this.log,
      now,
      sleep: this.deps.sleep ?? realSleep,
      deadline,
      reportingInstance: this.deps.reportingInstance ?? REPORTING_CONTROLLER,
      /**
       * The cluster's API for one stage of the pass. Every call goes through one limiter: bindingConcurrency calls
       * in flight at most. 429/5xx answers are retried outside it, so a call waiting to retry holds no slot, and no
       * retry wait ends after the pass deadline (on the engine's own clock).
       */
      async connect(cluster: string): Promise<KubeApi> {
        const api = limitCalls(await clusters.connect(cluster), config.defaults.bindingConcurrency);
        return retryCalls(api, { now: () => now().getTime(), deadlineAt: deadline?.at });
      },
    };
  }
}

/** One pass, its stages in order. */
async function runPass(pass: Pass, work?: WorkQueue): Promise<SyncReport> {
  const { config, request, log } = pass;
  const started = pass.now().getTime();
  checkRequest(config, request);
  const report = emptyReport(request);
  const resolved = await resolveWork(pass);
  report.sources.push(...resolved.sources);
  report.notes.push(...resolved.notes);
  const planned = planBindings(config, resolved.resolved, request);
  const fanout = fanoutDecision(config, request, planned, work !== undefined);
  if (fanout.note !== undefined) report.notes.push(fanout.note);
  if (fanout.queue && work !== undefined) {
    await queuePass(pass, work, planned, resolved, report);
    return finish(pass, report, started);
  }
  const { peers, notes } = await planPeers(pass, resolved.resolved, planned);
  report.notes.push(...notes);
  const split = splitConflicts([...planned, ...peers]);
  // A peer is planned only to be refused with its pair; it is never written by this pass.
  const bindings = split.bindings.filter((b) => !peers.includes(b));
  log.info('planned', {
    bindings: bindings.length,
    clusters: new Set(bindings.map((b) => b.cluster)).size,
    secrets: new Set(bindings.map((b) => b.fetchId)).size,
  });
  if (bindings.length > 0) {
    const updated = await updateBindings(pass, bindings, resolved, report.sources, pinnedOf(request.work));
    report.results = updated.results;
    report.sources = updated.sources;
    report.notes.push(...updated.notes);
    if (updated.waves.length > 0) report.waves = updated.waves;
  }
  // A work item of a reconcile of everything looks for orphans in its own clusters.
  if (request.trigger === 'reconcile' && (request.secrets === undefined || request.work?.everything === true)) {
    const orphans = await reconcileOrphans({
      config,
      source: pass.source,
      connect: (cluster) => pass.connect(cluster),
      planned: [...planned, ...peers],
      dryRun: request.dryRun,
      report,
      warn: (message, attributes) => log.warn(message, attributes),
    });
    for (const orphan of orphans) log.result?.(orphan);
    report.results.push(...orphans);
  }
  if (!request.dryRun && !request.deleted) report.results = await observeRollouts(pass, report.results);
  for (const conflict of split.conflicts) log.result?.(conflict);
  report.results.push(...split.conflicts);
  return finish(pass, report, started);
}

/** The report's counts and duration, once the pass has nothing left to add. */
function finish(pass: Pass, report: SyncReport, started: number): SyncReport {
  summarize(report, pass.deadline);
  report.durationMs = pass.now().getTime() - started;
  return report;
}
