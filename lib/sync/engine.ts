/**
 * The engine: resolve sources -> plan -> fetch -> render -> apply per cluster (parallel, bounded) -> report.
 * Depends on ports only; never reads process.env, never builds an SDK client.
 */

import { randomUUID } from 'node:crypto';
import type { Config, SourceConfig } from '../config/index.js';
import {
  fingerprint,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  RESTART_PENDING_ANNOTATION,
  SOURCE_ANNOTATION,
} from '../domain/names.js';
import type { SyncRequest } from '../domain/request.js';
import { isArnOf, isSecretArn, mayNameSameSecret, nameFromArn, refersTo, resourceText } from '../domain/secret-id.js';
import { DeadlineExceededError, InputError, SyncError, toSyncError } from '../errors.js';
import { type RestartItem, restartConsumers } from './apply/restarter.js';
import { upsertSecret } from './apply/secret-writer.js';
import { limitCalls } from './calls/limit.js';
import { retryCalls } from './calls/retry.js';
import { groupBy, mapLimit } from './concurrency.js';
import { deadlineConnector, deadlineSource, PassDeadline } from './deadline.js';
import { reconcileOrphans } from './orphans.js';
import { type Binding, planBindings, type ResolvedSecret } from './plan.js';
import type { ClusterConnector, KubeApi } from './ports/kube.js';
import type { SecretFilter, SecretRef, SecretSource, SecretValue } from './ports/source.js';
import { type DesiredSecret, renderSecret } from './render.js';
import type { BindingAction, BindingResult, SyncReport } from './types.js';

/** Structured log sink; attributes hold ids, names, hashes and counts only. */
export interface EngineLog {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  /**
   * One binding finished (per namespace, as its writes and restarts end), before the pass is over. Called again for
   * a binding the pass re-applies (a newer version arrived meanwhile); the report holds the last result.
   */
  result?(result: BindingResult): void;
}

export interface EngineDeps {
  config: Config;
  source: SecretSource;
  clusters: ClusterConnector;
  now?: () => Date;
  log?: EngineLog;
}

/** A request as one pass of the engine runs it. */
interface PassRequest extends SyncRequest {
  pass: string;
}

/** A binding whose consumers to restart; `marker` is the restart-pending marker to clear once they are. */
interface PendingRestart {
  result: BindingResult;
  item: RestartItem;
  marker: string | undefined;
}

/** Per-pass options. */
export interface RunOptions {
  /**
   * Epoch milliseconds on the engine's clock. After it the pass stops waiting for calls in flight, starts none, and
   * reports the unfinished bindings `failed` with `DeadlineExceeded`; everything finished is kept.
   */
  deadlineAt?: number;
}

const silent: EngineLog = { info: () => {}, warn: () => {} };
/** Re-applies after a concurrent newer version, at most this often per pass (then the next pass repairs it). */
const MAX_SETTLE_ROUNDS = 3;
/** DescribeSecret calls in flight while checking versions after writing. */
const VERSION_CHECK_CONCURRENCY = 8;

function errorOf(error: unknown): { code: SyncError['code']; message: string } {
  const e = toSyncError(error);
  return { code: e.code, message: e.message };
}

function tagsMatch(wanted: Record<string, string> | undefined, tags: Record<string, string>): boolean {
  return Object.entries(wanted ?? {}).every(([k, v]) => tags[k] === v);
}

function selectorMatches(source: SourceConfig, ref: SecretRef): boolean {
  if ('secret' in source) return false;
  const prefixOk = !('namePrefix' in source) || ref.name.startsWith(source.namePrefix);
  return prefixOk && tagsMatch(source.tags, ref.tags);
}

/** The Kubernetes name a configured id gives by default (a configured ARN's name part, as the config loader reads it). */
function defaultName(id: string): string {
  return isSecretArn(id) ? (nameFromArn(id) ?? id) : id;
}

function bindingKey(b: Pick<Binding, 'cluster' | 'namespace' | 'secret'>): string {
  return `${b.cluster}/${b.namespace}/${b.secret}`;
}

/** Whether a sync covers the secret a request names: the secret to plan, or a note why a candidate is not it. */
interface Identified {
  secret?: ResolvedSecret;
  note?: string;
  configured?: string;
}

/**
 * Decides whether `id` (a name, full or partial ARN, as an event or a backfill names it) is a secret `source` covers,
 * on the full ARN Secrets Manager reports, never on the suffix's shape. A text pre-filter rules out the rest without
 * a call. A configured name means the secret of that name in the function's own account and region: Secrets
 * Manager resolves it there, so the configured side is the one described (it is also the one IAM lets us describe).
 * Throws SyncError when Secrets Manager cannot tell (throttled, denied).
 */
async function identify(
  source: SourceConfig,
  id: string,
  describe: (id: string) => Promise<SecretRef | undefined>,
): Promise<Identified> {
  if ('secret' in source) {
    const configured = source.secret;
    if (!mayNameSameSecret(configured, isSecretArn(id) ? { arn: id } : { name: id })) return {};
    // Read by the configured id, as reconcile does, whichever form the request used.
    const secret: ResolvedSecret = { fetchId: configured, name: defaultName(configured) };
    if (id === configured) return { secret };
    // An ARN is checked against the configured secret's ARN; a name (ours by definition) is described, and its
    // ARN checked against the configured ARN.
    const [described, arn] = isSecretArn(id) ? [configured, id] : [id, configured];
    const found = await describe(described);
    if (found !== undefined && isArnOf(arn, found)) return { secret };
    const why = found === undefined ? `"${described}" does not exist` : `"${described}" is ${found.arn}`;
    return { note: `secret "${id}" is not the configured "${configured}" (${why})`, configured };
  }
  if ('namePrefix' in source && !resourceText(id).startsWith(source.namePrefix)) return {};
  // Tags are not in events, and an ARN's name is only known from Secrets Manager.
  const found = isSecretArn(id) || source.tags !== undefined ? await describe(id) : { arn: id, name: id, tags: {} };
  if (found === undefined || !selectorMatches(source, found)) return {};
  return { secret: { fetchId: found.arn, name: found.name } };
}

/**
 * ListSecrets once per distinct selector in a pass, however many syncs share it. A failed listing is told to
 * `failed` once, with the selector as the key reports name it, and gives every sync that shares it undefined.
 */
function selectorLister(
  source: SecretSource,
  failed: (key: string, error: unknown) => void,
): (selector: SecretFilter) => Promise<SecretRef[] | undefined> {
  const listed = new Map<string, Promise<SecretRef[] | undefined>>();
  return (selector) => {
    const filter = { ...selector };
    const key = JSON.stringify(filter);
    let refs = listed.get(key);
    if (refs === undefined) {
      refs = source.list(filter).catch((error: unknown) => {
        failed(key, error);
        return undefined;
      });
      listed.set(key, refs);
    }
    return refs;
  };
}

/** Rejects filters that name nothing in the configuration, before any work is done. */
function checkRequest(config: Config, request: SyncRequest): void {
  const known = Object.keys(config.clusters);
  const unknown = (request.clusters ?? []).filter((c) => !known.includes(c));
  if (unknown.length > 0) {
    throw new InputError(
      'InvalidInput',
      `unknown cluster${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')} (defined: ${known.join(', ')})`,
    );
  }
  // A misspelt namespace would otherwise select nothing and report success.
  const namespaces = new Set(config.syncs.flatMap((s) => s.targets.flatMap((t) => t.namespaces)));
  const unknownNamespaces = (request.namespaces ?? []).filter((n) => !namespaces.has(n));
  if (unknownNamespaces.length > 0) {
    throw new InputError(
      'InvalidInput',
      `namespace${unknownNamespaces.length > 1 ? 's' : ''} ${unknownNamespaces.map((n) => `"${n}"`).join(', ')} ${unknownNamespaces.length > 1 ? 'are' : 'is'} not a target of any sync`,
    );
  }
}

export class SyncEngine {
  private readonly log: EngineLog;
  private readonly now: () => Date;

  /** `deadline` is the engine's own: `run` builds one engine per pass with a deadline over guarded ports. */
  constructor(
    private readonly deps: EngineDeps,
    private readonly deadline?: PassDeadline,
  ) {
    this.log = deps.log ?? silent;
    this.now = deps.now ?? (() => new Date());
  }

  /** Runs one pass. Throws InputError for a request that names nothing configured; everything else is reported. */
  async run(input: SyncRequest, options: RunOptions = {}): Promise<SyncReport> {
    // The pass id goes into the restart-pending markers it sets, so that it clears only its own (or ones it finished).
    const request: PassRequest = { ...input, pass: randomUUID() };
    if (options.deadlineAt === undefined || this.deadline !== undefined) return this.pass(request);
    const deadline = new PassDeadline(options.deadlineAt, this.now);
    try {
      // Every port call of this pass (Secrets Manager, connects, Kubernetes) ends at the deadline.
      const { source, clusters } = this.deps;
      const guarded = {
        ...this.deps,
        source: deadlineSource(source, deadline),
        clusters: deadlineConnector(clusters, deadline),
      };
      return await new SyncEngine(guarded, deadline).pass(request);
    } finally {
      deadline.dispose();
    }
  }

  private async pass(request: PassRequest): Promise<SyncReport> {
    const started = this.now().getTime();
    const { config } = this.deps;
    checkRequest(config, request);
    const report: SyncReport = {
      trigger: request.trigger,
      dryRun: request.dryRun,
      sources: [],
      results: [],
      summary: {
        created: 0,
        updated: 0,
        unchanged: 0,
        deleted: 0,
        retained: 0,
        orphaned: 0,
        skipped: 0,
        failed: 0,
        restarts: 0,
      },
      durationMs: 0,
      notes: [],
    };
    const resolved = await this.resolve(request, report);
    const planned = planBindings(config, resolved, request);
    const peers = await this.peers(request, resolved, planned, report);
    const split = splitConflicts([...planned, ...peers]);
    // A peer is planned only to be refused with its pair; it is never written by this pass.
    const bindings = split.bindings.filter((b) => !peers.includes(b));
    const { conflicts } = split;
    this.log.info('planned', {
      bindings: bindings.length,
      clusters: new Set(bindings.map((b) => b.cluster)).size,
      secrets: new Set(bindings.map((b) => b.fetchId)).size,
    });
    if (bindings.length > 0) {
      const confirmed = request.deleted ? await this.confirmDeleted(bindings) : { bindings, results: [] };
      const values = request.deleted
        ? new Map<string, SecretValue | Error>()
        : await this.fetch(bindings, request, report);
      for (const result of confirmed.results) this.log.result?.(result);
      report.results = [...confirmed.results, ...(await this.apply(confirmed.bindings, values, request))];
      if (!request.deleted && !request.dryRun) {
        const reported = new Map(report.results.map((r) => [bindingKey(r), JSON.stringify(r)]));
        await this.settle(bindings, values, request, report);
        // Bindings the version check changed (re-applied, or failed) are reported again.
        for (const r of report.results) if (reported.get(bindingKey(r)) !== JSON.stringify(r)) this.log.result?.(r);
      }
    }
    if (request.trigger === 'reconcile' && request.secrets === undefined) {
      const orphans = await reconcileOrphans({
        config,
        source: this.deps.source,
        connect: (cluster) => this.connect(cluster),
        planned: [...planned, ...peers],
        dryRun: request.dryRun,
        report,
        warn: (message, attributes) => this.log.warn(message, attributes),
      });
      for (const orphan of orphans) this.log.result?.(orphan);
      report.results.push(...orphans);
    }
    for (const conflict of conflicts) this.log.result?.(conflict);
    report.results.push(...conflicts);
    report.results.sort((a, b) =>
      `${a.cluster}/${a.namespace}/${a.secret}`.localeCompare(`${b.cluster}/${b.namespace}/${b.secret}`),
    );
    // A workload restarted for two Secrets got one patch, so it counts once.
    const restarted = new Set<string>();
    for (const result of report.results) {
      report.summary[result.action] += 1;
      for (const w of result.restarted) restarted.add(`${result.cluster}/${result.namespace}/${w.kind}/${w.name}`);
    }
    report.summary.restarts = restarted.size;
    const cut = report.results.filter((r) => r.error?.code === 'DeadlineExceeded').length;
    if (this.deadline?.reached && cut > 0) {
      report.notes.push(`pass deadline reached: ${cut} binding(s) unfinished, reported failed (DeadlineExceeded)`);
    }
    report.durationMs = this.now().getTime() - started;
    return report;
  }

  /**
   * Which secrets each sync covers in this pass: every configured one (selectors by ListSecrets), or the requested
   * ones, identified by `identify` (DescribeSecret only where the ids alone cannot tell).
   */
  private async resolve(request: SyncRequest, report: SyncReport): Promise<Map<number, ResolvedSecret[]>> {
    const { config, source } = this.deps;
    const { notes } = report;
    const resolved = new Map<number, ResolvedSecret[]>();
    const add = (index: number, secret: ResolvedSecret) => {
      const list = resolved.get(index) ?? [];
      // By name too: a backfill may name one secret by name and by ARN, and it must be written once.
      if (!list.some((s) => s.fetchId === secret.fetchId || s.name === secret.name)) list.push(secret);
      resolved.set(index, list);
    };

    if (request.secrets === undefined) {
      // One failing selector must not stop the rest of a reconcile; the handler fails the pass afterwards.
      const list = selectorLister(source, (key, error) => {
        report.sources.push({ id: `selector ${key}`, error: errorOf(error) });
      });
      for (const [index, sync] of config.syncs.entries()) {
        if ('secret' in sync.source) {
          const id = sync.source.secret;
          add(index, { fetchId: id, name: defaultName(id) });
          continue;
        }
        const refs = await list(sync.source);
        if (refs === undefined) continue;
        for (const ref of refs) {
          if (selectorMatches(sync.source, ref)) add(index, { fetchId: ref.arn, name: ref.name });
        }
      }
      return resolved;
    }

    // One DescribeSecret per distinct id per pass, however many syncs ask about it.
    const described = new Map<string, Promise<SecretRef | undefined>>();
    const describe = (id: string): Promise<SecretRef | undefined> => {
      let ref = described.get(id);
      if (ref === undefined) {
        ref = source.describe(id).catch((error: unknown) => {
          if (error instanceof SyncError && error.code === 'SecretNotFound') return undefined;
          throw error;
        });
        described.set(id, ref);
      }
      return ref;
    };
    const failures = new Set<string>();
    for (const id of request.secrets) {
      let matched = false;
      let failed = false;
      for (const [index, sync] of config.syncs.entries()) {
        let found: Identified;
        try {
          found = await identify(sync.source, id, describe);
        } catch (error) {
          // Identity unknown: plan nothing for it (never a guess); the pass fails and the event is retried.
          failed = true;
          const e = errorOf(error);
          if (!failures.has(`${id}\n${e.message}`)) report.sources.push({ id, error: e });
          failures.add(`${id}\n${e.message}`);
          continue;
        }
        if (found.secret !== undefined) {
          add(index, found.secret);
          matched = true;
        } else if (found.note !== undefined) {
          notes.push(found.note);
          this.log.info('secret is not the configured one', { secretId: id, configured: found.configured });
        }
      }
      if (!matched && !failed) {
        if (request.trigger === 'backfill') {
          throw new InputError('InvalidInput', `secret "${id}" matches no sync in the configuration`);
        }
        notes.push(`secret "${id}" matches no sync in the configuration; nothing to do`);
        this.log.info('secret matches no configured sync', { secretId: id });
      }
    }
    return resolved;
  }

  /**
   * A DeleteSecret event can arrive late (after RestoreSecret) or be replayed: the deletion policy applies only to a
   * secret that Secrets Manager confirms gone (not found, or scheduled for deletion). The other bindings are
   * `unchanged` with a note, or `failed` when the check itself failed (the retry checks again).
   */
  private async confirmDeleted(bindings: Binding[]): Promise<{ bindings: Binding[]; results: BindingResult[] }> {
    const ids = [...new Set(bindings.map((b) => b.fetchId))];
    const checks = await mapLimit(ids, VERSION_CHECK_CONCURRENCY, async (id) => {
      try {
        const ref = await this.deps.source.describe(id);
        return ref.deletedDate === undefined ? 'exists' : 'gone';
      } catch (error) {
        const failure = toSyncError(error);
        return failure.code === 'SecretNotFound' ? 'gone' : failure;
      }
    });
    const state = new Map(ids.map((id, i) => [id, checks[i]]));
    const gone: Binding[] = [];
    const results: BindingResult[] = [];
    for (const binding of bindings) {
      const check = state.get(binding.fetchId);
      if (check === 'gone') {
        gone.push(binding);
      } else if (check === 'exists') {
        results.push({
          ...baseResult(binding),
          action: 'unchanged',
          notes: [
            'DeleteSecret event, but the source secret exists and is not scheduled for deletion; nothing deleted',
          ],
        });
      } else {
        const error = errorOf(check);
        results.push({
          ...baseResult(binding),
          action: 'failed',
          error: {
            code: error.code,
            message: `could not confirm that the source secret was deleted: ${error.message}`,
          },
        });
      }
    }
    return { bindings: gone, results };
  }

  /**
   * A pass for named secrets (an event, a backfill by id) sees only those, so two secrets deriving one Kubernetes
   * Secret name would be written alternately by their own events. Plans the other secrets the configuration writes
   * to the same Secrets (selectors: one ListSecrets each, as reconcile lists them), only to refuse the pair.
   */
  private async peers(
    request: SyncRequest,
    resolved: Map<number, ResolvedSecret[]>,
    planned: Binding[],
    report: SyncReport,
  ): Promise<Binding[]> {
    const { config, source } = this.deps;
    if (request.secrets === undefined || request.deleted || planned.length === 0) return [];
    const wanted = new Set(planned.map(bindingKey));
    const places = new Set(planned.map((b) => `${b.cluster}/${b.namespace}`));
    const peers = new Map<number, ResolvedSecret[]>();
    // The write guard still refuses to overwrite another secret's Secret; this only makes the refusal mutual.
    const list = selectorLister(source, (key, error) => {
      const message = errorOf(error).message;
      report.notes.push(`selector ${key} not listed to check for secrets writing the same Secret: ${message}`);
      this.log.warn('selector not listed for the same-Secret check', { selector: key, error: message });
    });
    for (const [index, sync] of config.syncs.entries()) {
      const mine = resolved.get(index) ?? [];
      if ('secret' in sync.source) {
        const id = sync.source.secret;
        if (mine.length === 0) peers.set(index, [{ fetchId: id, name: defaultName(id) }]);
        continue;
      }
      const overlaps = sync.targets.some((t) =>
        t.clusters.some((c) => t.namespaces.some((n) => places.has(`${c}/${n}`))),
      );
      if (!overlaps) continue;
      const refs = await list(sync.source);
      if (refs === undefined) continue;
      const others = refs.filter(
        (ref) => selectorMatches(sync.source, ref) && !mine.some((s) => s.fetchId === ref.arn || s.name === ref.name),
      );
      if (others.length > 0)
        peers.set(
          index,
          others.map((ref) => ({ fetchId: ref.arn, name: ref.name })),
        );
    }
    return planBindings(config, peers, request).filter((b) => wanted.has(bindingKey(b)));
  }

  /** Reads each distinct source secret once at AWSCURRENT (batched when there are several). */
  private async fetch(
    bindings: Binding[],
    request: SyncRequest,
    report: SyncReport,
  ): Promise<Map<string, SecretValue | Error>> {
    const { source } = this.deps;
    const ids = [...new Set(bindings.map((b) => b.fetchId))];
    let values: Map<string, SecretValue | Error>;
    if (ids.length === 1) {
      const id = ids[0] as string;
      values = new Map([[id, await source.getCurrent(id).catch((e: unknown) => toSyncError(e))]]);
    } else {
      values = await source.getMany(ids);
    }
    for (const id of ids) {
      const value = values.get(id);
      if (value === undefined || value instanceof Error) {
        if (sourceGone(request, value)) report.sources.push({ id, deleted: true });
        else report.sources.push({ id, error: errorOf(value ?? new Error('no value returned')) });
        continue;
      }
      report.sources.push({ id, arn: value.arn, versionId: value.versionId });
      if (request.versionId !== undefined && value.versionId !== request.versionId) {
        report.notes.push(
          `event version ${request.versionId} of "${id}" is no longer AWSCURRENT; synced version ${value.versionId}`,
        );
      }
    }
    return values;
  }

  /**
   * EventBridge delivers two quick rotations to parallel invocations, and the one that read the older version can
   * write last. So after writing, check (DescribeSecret, no value) that each written secret is still at the version
   * read, and apply again when it moved on. The last writer always checks, so concurrent passes end on the newest.
   * A read older than the event's version (an eventually consistent read) is checked the same way. What cannot be
   * confirmed (the check failed, or the secret kept moving) fails its bindings, so that the platform retries.
   */
  private async settle(
    bindings: Binding[],
    values: Map<string, SecretValue | Error>,
    request: PassRequest,
    report: SyncReport,
  ): Promise<void> {
    const { source } = this.deps;
    const readOk = (id: string) => {
      const read = values.get(id);
      return read !== undefined && !(read instanceof Error);
    };
    let pending = [
      ...new Set(
        report.results
          .filter(
            (r) =>
              r.action === 'created' ||
              r.action === 'updated' ||
              (request.versionId !== undefined &&
                (values.get(r.source) as SecretValue | undefined)?.versionId !== request.versionId),
          )
          .map((r) => r.source),
      ),
    ].filter(readOk);
    for (let round = 0; pending.length > 0; round++) {
      const checks = await mapLimit(pending, VERSION_CHECK_CONCURRENCY, async (id) => {
        const read = (values.get(id) as SecretValue).versionId;
        try {
          const current = await source.currentVersionId(id);
          if (current === undefined) return { id, read, failure: 'Secrets Manager reported no AWSCURRENT version' };
          return { id, read, current, moved: current !== read };
        } catch (error) {
          // Cut by the deadline (typically behind a cluster that never answered): what was written stays reported
          // as done, and the source entry fails the pass so that the retry checks again.
          if (error instanceof DeadlineExceededError) return { id, read, cut: error };
          return { id, read, failure: errorOf(error).message };
        }
      });
      for (const check of checks) {
        if (check.cut !== undefined) {
          const entry = report.sources.find((e) => e.id === check.id);
          if (entry !== undefined && entry.error === undefined) entry.error = errorOf(check.cut);
        }
        if (check.failure !== undefined) {
          failSource(
            report,
            check.id,
            `could not confirm that "${check.id}" is still at version ${check.read}, the one read: ${check.failure}`,
          );
        }
      }
      const moved = checks.filter((c) => c.moved === true).map((c) => c.id);
      if (moved.length === 0) return;
      if (round === MAX_SETTLE_ROUNDS) {
        for (const check of checks.filter((c) => c.moved === true)) {
          failSource(
            report,
            check.id,
            `AWSCURRENT of "${check.id}" is version ${check.current}, not ${check.read} as synced (it kept moving, or reads lagged behind); the retry syncs the current one`,
          );
        }
        return;
      }
      const fresh = await this.fetch(
        bindings.filter((b) => moved.includes(b.fetchId)),
        { ...request, versionId: undefined },
        { ...report, sources: [], notes: [] },
      );
      for (const id of moved) {
        const value = fresh.get(id);
        if (value === undefined || value instanceof Error) {
          const reason = value === undefined ? 'no value returned' : errorOf(value).message;
          failSource(report, id, `"${id}" moved to a newer version that could not be read: ${reason}`);
          continue;
        }
        values.set(id, value);
        const entry = report.sources.find((s) => s.id === id);
        if (entry !== undefined) entry.versionId = value.versionId;
        report.notes.push(`secret "${id}" moved to version ${value.versionId} during the pass; synced that`);
      }
      pending = moved.filter((id) => !(fresh.get(id) instanceof Error) && fresh.get(id) !== undefined);
      const again = await this.apply(
        bindings.filter((b) => pending.includes(b.fetchId)),
        values,
        request,
        false,
      );
      const key = (r: BindingResult) => `${r.cluster}/${r.namespace}/${r.secret}`;
      const redone = new Map(again.map((r) => [key(r), r]));
      report.results = report.results.map((first) => {
        const second = redone.get(key(first));
        if (second === undefined) return first;
        const restarted = [...first.restarted];
        for (const w of second.restarted) {
          if (!restarted.some((r) => r.kind === w.kind && r.name === w.name)) restarted.push(w);
        }
        // Created or updated by this pass either way, unless the second apply failed.
        let action = second.action;
        if (action !== 'failed' && first.action === 'created') action = 'created';
        else if (action === 'unchanged' && first.action === 'updated') action = 'updated';
        return { ...second, action, restarted };
      });
    }
  }

  private async apply(
    bindings: Binding[],
    values: Map<string, SecretValue | Error>,
    request: PassRequest,
    emit = true,
  ): Promise<BindingResult[]> {
    const byCluster = [...groupBy(bindings, (b) => b.cluster)];
    const perCluster = await mapLimit(byCluster, this.deps.config.defaults.clusterConcurrency, ([cluster, list]) =>
      this.applyCluster(cluster, list, values, request, emit),
    );
    return perCluster.flat();
  }

  /**
   * The cluster's API for one stage of the pass. Every call goes through one limiter: bindingConcurrency calls in
   * flight at most. 429/5xx answers are retried outside it, so a call waiting to retry holds no slot, and no retry
   * wait ends after the pass deadline (on the engine's own clock).
   */
  private async connect(cluster: string): Promise<KubeApi> {
    const api = limitCalls(await this.deps.clusters.connect(cluster), this.deps.config.defaults.bindingConcurrency);
    return retryCalls(api, { now: () => this.now().getTime(), deadlineAt: this.deadline?.at });
  }

  private async applyCluster(
    cluster: string,
    bindings: Binding[],
    values: Map<string, SecretValue | Error>,
    request: PassRequest,
    emit: boolean,
  ): Promise<BindingResult[]> {
    const done = (results: BindingResult[]): BindingResult[] => {
      if (emit) for (const result of results) this.log.result?.(result);
      return results;
    };
    let api: KubeApi;
    try {
      api = await this.connect(cluster);
    } catch (error) {
      const failure = errorOf(error);
      this.log.warn('cluster unavailable', { cluster, error: failure });
      return done(bindings.map((b) => ({ ...baseResult(b), action: 'failed', error: failure })));
    }
    const byNamespace = [...groupBy(bindings, (b) => b.namespace)];
    const results = await Promise.all(
      byNamespace.map(async ([namespace, list]) => {
        const gone = list.filter((b) => sourceGone(request, values.get(b.fetchId)));
        const live = list.filter((b) => !gone.includes(b));
        return done([
          ...(gone.length > 0 ? await this.deleteNamespace(api, gone, request) : []),
          ...(live.length > 0 ? await this.syncNamespace(api, namespace, live, values, request) : []),
        ]);
      }),
    );
    return results.flat();
  }

  /** Upserts every Secret of one namespace, then restarts their consumers with one patch per workload. */
  private async syncNamespace(
    api: KubeApi,
    namespace: string,
    bindings: Binding[],
    values: Map<string, SecretValue | Error>,
    request: PassRequest,
  ): Promise<BindingResult[]> {
    const results: BindingResult[] = [];
    const restarts: PendingRestart[] = [];
    // All bindings of the namespace at once; the cluster's call limiter bounds what is in flight.
    const upsert = async (binding: Binding, result: BindingResult): Promise<void> => {
      if (request.dryRun) result.dryRun = true;
      const value = values.get(binding.fetchId);
      if (value === undefined || value instanceof Error) {
        result.action = 'failed';
        const cut = value instanceof DeadlineExceededError ? value.forCluster(binding.cluster) : value;
        result.error = errorOf(cut ?? new Error('secret was not read'));
        return;
      }
      let desired: DesiredSecret;
      try {
        desired = renderSecret(value, binding.target, { namespace, name: binding.secret, source: binding.fetchId });
      } catch (error) {
        result.action = 'failed';
        result.error = errorOf(error);
        return;
      }
      const restartWanted = request.restart && binding.target.restart !== 'none';
      try {
        const outcome = await upsertSecret(api, desired, {
          adopt: binding.target.adopt,
          recreate: binding.target.recreate,
          dryRun: request.dryRun,
          // Also with `restart: false`: the marker defers the restarts to the next pass that restarts (README).
          markRestartPending: binding.target.restart !== 'none',
          pass: request.pass,
        });
        result.action = outcome.action;
        const print = outcome.uid === undefined ? undefined : fingerprint(outcome.uid, desired.hash);
        if (print !== undefined) result.hash = print;
        if (outcome.changedKeys.length > 0) result.changedKeys = outcome.changedKeys;
        if (request.trigger === 'reconcile' && outcome.action !== 'unchanged') result.drift = true;
        const contentChanged = outcome.restartPending || (request.dryRun && outcome.changedKeys.length > 0);
        // Reconcile also looks for consumers left stale by an earlier pass; other triggers trust the marker.
        if (restartWanted && (contentChanged || request.trigger === 'reconcile')) {
          restarts.push({
            result,
            marker: outcome.marker,
            // Only a dry run of a create has no uid yet; it patches nothing.
            item: {
              secretName: binding.secret,
              hash: print ?? 'not-created-yet',
              policy: binding.target.restart,
              contentChanged,
            },
          });
        }
      } catch (error) {
        result.action = 'failed';
        result.error = errorOf(error);
      }
    };
    await Promise.all(
      bindings.map((binding) => {
        const result = baseResult(binding);
        results.push(result);
        return upsert(binding, result);
      }),
    );
    // Restarts in binding order, whatever order the writes finished in.
    restarts.sort((a, b) => results.indexOf(a.result) - results.indexOf(b.result));
    if (restarts.length > 0) await this.restart(api, namespace, restarts, request);
    return results;
  }

  private async restart(
    api: KubeApi,
    namespace: string,
    restarts: PendingRestart[],
    request: PassRequest,
  ): Promise<void> {
    const outcome = await restartConsumers(
      api,
      namespace,
      restarts.map((r) => r.item),
      { dryRun: request.dryRun, now: this.now() },
    );
    for (const { result, item, marker } of restarts) {
      result.restarted = outcome.restarted.get(item.secretName) ?? [];
      if (request.trigger === 'reconcile' && result.restarted.length > 0) result.drift = true;
      if (result.restarted.some((w) => w.paused)) {
        addNote(result, 'paused Deployments were patched and roll out when resumed');
      }
      for (const note of outcome.notes.get(item.secretName) ?? []) addNote(result, note);
      const failure = outcome.failures.get(item.secretName);
      if (failure !== undefined) {
        // The action becomes `failed`; the message keeps what happened to the Secret itself.
        const secret = request.dryRun ? `dry run: Secret would be ${result.action}` : `Secret ${result.action}`;
        result.action = 'failed';
        result.error = { code: failure.code, message: `${secret}, restart failed: ${failure.message}` };
        continue;
      }
      if (marker !== undefined && !request.dryRun) {
        try {
          // Only while it holds this marker: a newer pass may have set its own since, and must find it if it dies.
          await api.clearSecretAnnotation(namespace, item.secretName, RESTART_PENDING_ANNOTATION, marker);
        } catch (error) {
          // Harmless: the next pass finds every consumer current and only clears the marker.
          addNote(result, `restart marker not cleared: ${errorOf(error).message}`);
        }
      }
    }
  }

  /** The source secret was deleted: keep the Kubernetes Secrets (report them) or delete the ones we manage. */
  private async deleteNamespace(api: KubeApi, bindings: Binding[], request: SyncRequest): Promise<BindingResult[]> {
    return Promise.all(
      bindings.map(async (binding): Promise<BindingResult> => {
        const result = baseResult(binding);
        if (request.dryRun) result.dryRun = true;
        try {
          const existing = await api.getSecret(binding.namespace, binding.secret);
          if (existing === undefined)
            return { ...result, action: 'skipped', notes: ['source deleted; no Secret here'] };
          if (binding.deletionPolicy === 'retain') {
            return {
              ...result,
              action: 'retained',
              notes: ['source secret deleted; Secret kept (deletionPolicy retain)'],
            };
          }
          if (existing.labels[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
            return {
              ...result,
              action: 'skipped',
              notes: ['source deleted; Secret not managed by eks-secret-sync, kept'],
            };
          }
          const other = recordedOther(existing.annotations[SOURCE_ANNOTATION], binding.fetchId);
          if (other !== undefined) {
            return { ...result, action: 'skipped', notes: [`source deleted; Secret mirrors secret "${other}", kept`] };
          }
          if (!request.dryRun) {
            await api.deleteSecret(binding.namespace, binding.secret, {
              uid: existing.uid,
              resourceVersion: existing.resourceVersion,
            });
          }
          return { ...result, action: 'deleted' };
        } catch (error) {
          return { ...result, action: 'failed', error: errorOf(error) };
        }
      }),
    );
  }
}

/**
 * The secret a Secret's source annotation records, when it is not `id`. We record the full ARN Secrets Manager
 * returned, so its name is the ARN without the last 7 characters (exact for a full ARN); older versions recorded
 * the name.
 */
function recordedOther(recorded: string | undefined, id: string): string | undefined {
  if (recorded === undefined || recorded === '') return undefined;
  const same = isSecretArn(recorded)
    ? refersTo(id, { arn: recorded, name: nameFromArn(recorded) ?? recorded })
    : recorded === id || (isSecretArn(id) && nameFromArn(id) === recorded);
  return same ? undefined : recorded;
}

/**
 * Two bindings writing one Kubernetes Secret from different sources or targets (e.g. selector-matched `app/db` and
 * `app_db`, both named `app-db`) would overwrite each other and restart its consumers on every pass: they fail
 * instead, and neither is written. The same binding planned twice (a cluster listed twice) is kept once.
 */
function splitConflicts(planned: Binding[]): { bindings: Binding[]; conflicts: BindingResult[] } {
  const groups = groupBy(planned, (b) => `${b.cluster}/${b.namespace}/${b.secret}`);
  const bindings: Binding[] = [];
  const conflicts: BindingResult[] = [];
  for (const group of groups.values()) {
    const first = group[0] as Binding;
    if (group.every((b) => b.fetchId === first.fetchId && b.target === first.target)) {
      bindings.push(first);
      continue;
    }
    const sources = [...new Set(group.map((b) => `"${b.fetchId}"`))];
    const message =
      sources.length > 1
        ? `Secret ${first.namespace}/${first.secret} in cluster "${first.cluster}" would be written from ${sources.join(' and ')}; give their targets distinct "secret" names or narrow the selectors`
        : `Secret ${first.namespace}/${first.secret} in cluster "${first.cluster}" would be written by ${group.length} targets of ${sources[0]}; give them distinct "secret" names`;
    for (const binding of group) {
      conflicts.push({ ...baseResult(binding), action: 'failed', error: { code: 'InvalidConfig', message } });
    }
  }
  return { bindings, conflicts };
}

/**
 * The source secret no longer exists: a DeleteSecret event, or a reconcile that finds it deleted or scheduled for
 * deletion. Then the deletion policy applies instead of a sync.
 */
function sourceGone(request: SyncRequest, value: SecretValue | Error | undefined): boolean {
  if (request.deleted) return true;
  return request.trigger === 'reconcile' && value instanceof SyncError && value.code === 'SecretNotFound';
}

/**
 * The pass cannot vouch for what it wrote from `id`: its bindings fail (retryable), saying what happened to the
 * Secret itself, so that the handler throws and the platform retries the idempotent pass.
 */
function failSource(report: SyncReport, id: string, reason: string): void {
  for (const result of report.results) {
    if (result.source !== id || result.action === 'failed') continue;
    const done = result.dryRun ? `dry run: Secret would be ${result.action}` : `Secret ${result.action}`;
    result.error = { code: 'VersionUnconfirmed', message: `${done}, but ${reason}` };
    result.action = 'failed';
  }
}

function baseResult(binding: Binding): BindingResult & { action: BindingAction } {
  return {
    cluster: binding.cluster,
    namespace: binding.namespace,
    secret: binding.secret,
    source: binding.fetchId,
    action: 'skipped',
    restarted: [],
  };
}

function addNote(result: BindingResult, note: string): void {
  result.notes = [...(result.notes ?? []), note];
}
