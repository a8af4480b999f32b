/**
 * The engine: one pass is check -> resolve -> plan -> fetch -> apply (render, write, restart) -> settle -> observe
 * (the rollouts it started) -> report, each stage a module of `stages/`. Depends on ports only; never reads process.env, never builds an SDK client.
 */

import { randomUUID } from 'node:crypto';
import type { Config } from '../config/index.js';
import { REPORTING_CONTROLLER } from '../domain/names.js';
import type { SyncRequest } from '../domain/request.js';
import { limitCalls } from './calls/limit.js';
import { retryCalls } from './calls/retry.js';
import { deadlineConnector, deadlineSource, PassDeadline } from './deadline.js';
import { configHash, fanoutDecision, pinnedOf, planWork, resolvedOf } from './fanout.js';
import { reconcileOrphans } from './orphans.js';
import type { EngineLog, Pass, PassRequest } from './pass.js';
import { type Binding, planBindings } from './plan.js';
import type { ClusterConnector, KubeApi } from './ports/kube.js';
import type { WorkQueue } from './ports/queue.js';
import type { SecretSource } from './ports/source.js';
import { confirmDeleted, fetchValues, goneReads, type Reads } from './stages/fetch.js';
import { observeRollouts } from './stages/observe.js';
import { bindingKey, emptyReport, splitConflicts, summarize } from './stages/report.js';
import { checkRequest, planPeers, type Resolved, resolveSecrets } from './stages/resolve.js';
import { settle } from './stages/settle.js';
import { applyInWaves } from './stages/waves.js';
import { bindingStatus, type StatusReport, type StatusRequest } from './status.js';
import type { SyncReport } from './types.js';

export type { ClusterProgress, EngineLog } from './pass.js';
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
    const work = this.deps.work;
    if (options.deadlineAt === undefined) {
      return runPass({ ...this.passOf(request, this.deps.source, this.deps.clusters), wavesPerPass }, work);
    }
    const deadline = new PassDeadline(options.deadlineAt, this.now);
    try {
      // Every port call of this pass (Secrets Manager, connects, Kubernetes) ends at the deadline.
      const source = deadlineSource(this.deps.source, deadline);
      const clusters = deadlineConnector(this.deps.clusters, deadline);
      return await runPass({ ...this.passOf(request, source, clusters, deadline), wavesPerPass }, work);
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Where every selected binding stands against AWSCURRENT (read only: DescribeSecret, no value is read). Same
   * connector, call limits and deadline as a pass. Throws InputError for filters that name nothing configured.
   */
  async status(input: StatusRequest = {}, options: RunOptions = {}): Promise<StatusReport> {
    // Resolved and planned as a backfill of the same filters; the request never reaches a writing stage.
    const request: PassRequest = { ...input, trigger: 'backfill', dryRun: true, restart: false, pass: randomUUID() };
    if (options.deadlineAt === undefined) {
      return bindingStatus(this.passOf(request, this.deps.source, this.deps.clusters));
    }
    const deadline = new PassDeadline(options.deadlineAt, this.now);
    try {
      const source = deadlineSource(this.deps.source, deadline);
      const clusters = deadlineConnector(this.deps.clusters, deadline);
      return await bindingStatus(this.passOf(request, source, clusters, deadline));
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

function withoutWave(binding: Binding): Binding {
  const { wave: _wave, ...rest } = binding;
  return rest;
}

/**
 * The secrets of a work item as the planning pass resolved them, when it was planned on this configuration; else
 * (a deploy in between) resolved again from its ids, by the same identity rules.
 */
async function resolveWork(pass: Pass): Promise<Resolved> {
  const { work } = pass.request;
  if (work !== undefined && work.configHash === configHash(pass.config)) {
    return { resolved: resolvedOf(work), sources: [], notes: [], announced: pinnedOf(work) };
  }
  const resolved = await resolveSecrets(pass);
  if (work !== undefined) resolved.notes.push('work item planned on another configuration: secrets resolved again');
  return resolved;
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
  if (fanout.queue && work !== undefined) return queuePass(pass, work, planned, resolved, report, started);
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
    const confirmed = request.deleted ? await confirmDeleted(pass, bindings) : { bindings, results: [] };
    let reads: Reads;
    if (request.deleted) {
      reads = goneReads(confirmed.bindings);
    } else {
      const fetched = await fetchValues(pass, bindings, resolved.announced, pinnedOf(request.work));
      reads = fetched;
      report.sources.push(...fetched.sources);
      report.notes.push(...fetched.notes);
    }
    for (const result of confirmed.results) log.result?.(result);
    // A deletion follows the deletion policy everywhere at once: there is no new version to gate.
    const waved = request.deleted
      ? await applyInWaves(pass, confirmed.bindings.map(withoutWave), reads)
      : await applyInWaves(pass, confirmed.bindings, reads);
    report.results = [...confirmed.results, ...waved.results];
    if (waved.progress.length > 0) report.waves = waved.progress;
    for (const p of waved.progress) {
      // The report names the bad version; Secrets Manager is not touched (its rotation owner decides).
      if (p.state === 'failed') {
        report.notes.push(
          `version ${p.versionId ?? 'unknown'} of "${p.arn ?? p.source}" halted at wave ${p.wave} of ${p.of}: ${p.reason}`,
        );
      }
    }
    if (!request.deleted && !request.dryRun) {
      const reported = new Map(report.results.map((r) => [bindingKey(r), JSON.stringify(r)]));
      // Only what was applied: a binding waiting for its wave is not written by the version check either.
      const settled = await settle(
        pass,
        waved.applied,
        reads,
        { results: report.results, sources: report.sources, notes: [] },
        resolved.announced,
      );
      report.results = settled.results;
      report.sources = settled.sources;
      report.notes.push(...settled.notes);
      // Bindings the version check changed (re-applied, or failed) are reported again.
      for (const r of report.results) if (reported.get(bindingKey(r)) !== JSON.stringify(r)) log.result?.(r);
    }
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
  summarize(report, pass.deadline);
  report.durationMs = pass.now().getTime() - started;
  return report;
}

/**
 * Plans the pass as work items and enqueues them instead of applying it: the report has no results, `queued` says
 * how many items carry which share of it, and each item reports on its own under the same correlation id.
 */
async function queuePass(
  pass: Pass,
  work: WorkQueue,
  planned: Binding[],
  resolved: Resolved,
  report: SyncReport,
  started: number,
): Promise<SyncReport> {
  const { request, log } = pass;
  const everything = request.secrets === undefined && !resolved.sources.some((s) => s.error !== undefined);
  const plan = await planWork(pass.config, request, pass.source, planned, resolved.resolved, everything);
  report.sources.push(...plan.sources);
  await work.send(plan.items);
  report.queued = {
    correlationId: request.pass,
    items: plan.items.length,
    clusters: plan.clusters,
    bindings: plan.bindings,
  };
  log.info('pass queued', { ...report.queued, secrets: plan.sources.map(({ id, versionId }) => ({ id, versionId })) });
  summarize(report, pass.deadline);
  report.durationMs = pass.now().getTime() - started;
  return report;
}
