/** Applying a pass's bindings: per cluster, per namespace, the Secret writes and then one restart per workload. */
import { fingerprint, RESTART_PENDING_ANNOTATION } from '../../domain/names.js';
import { DeadlineExceededError } from '../../errors.js';
import {
  recordEvents,
  recordsFailure,
  restartedEvent,
  type SecretFacts,
  syncedEvent,
  syncFailedEvent,
} from '../apply/events.js';
import { type PatchedWorkload, type RestartItem, restartConsumers } from '../apply/restarter.js';
import { upsertSecret } from '../apply/secret-writer.js';
import { groupBy, mapLimit } from '../concurrency.js';
import type { Pass } from '../pass.js';
import type { Binding } from '../plan.js';
import type { KubeApi, KubeEvent } from '../ports/kube.js';
import { type DesiredSecret, renderSecret } from '../render.js';
import type { BindingResult } from '../types.js';
import { deleteNamespace } from './delete.js';
import type { Reads } from './fetch.js';
import { addNote, baseResult, errorOf } from './report.js';

/** A binding whose consumers to restart; `marker` is the restart-pending marker to clear once they are. */
interface PendingRestart {
  result: BindingResult;
  item: RestartItem;
  marker: string | undefined;
}

/**
 * Writes the bindings' Secrets and restarts their consumers, clusters in parallel (bounded), namespaces of a cluster
 * at once; a binding whose source is gone follows its deletion policy instead. `emit` tells the log each result.
 */
export async function applyBindings(
  pass: Pass,
  bindings: Binding[],
  reads: Reads,
  emit = true,
): Promise<BindingResult[]> {
  const byCluster = [...groupBy(bindings, (b) => b.cluster)];
  let done = 0;
  const perCluster = await mapLimit(byCluster, pass.config.defaults.clusterConcurrency, async ([cluster, list]) => {
    const results = await applyCluster(pass, cluster, list, reads, emit);
    // After the cluster's results were emitted, so that a count never runs ahead of what it counts.
    done += 1;
    if (emit) {
      const failed = results.filter((r) => r.action === 'failed').length;
      pass.log.clusterDone?.({ cluster, done, total: byCluster.length, bindings: results.length, failed });
    }
    return results;
  });
  return perCluster.flat();
}

async function applyCluster(
  pass: Pass,
  cluster: string,
  bindings: Binding[],
  reads: Reads,
  emit: boolean,
): Promise<BindingResult[]> {
  const { request } = pass;
  const done = (results: BindingResult[]): BindingResult[] => {
    if (emit) for (const result of results) pass.log.result?.(result);
    return results;
  };
  let api: KubeApi;
  try {
    api = await pass.connect(cluster);
  } catch (error) {
    const failure = errorOf(error);
    pass.log.warn('cluster unavailable', { cluster, error: failure });
    return done(bindings.map((b) => ({ ...baseResult(b), action: 'failed', error: failure })));
  }
  const byNamespace = [...groupBy(bindings, (b) => b.namespace)];
  // The namespaces' Events, recorded while the other namespaces go on.
  const later: Promise<void>[] = [];
  const results = await Promise.all(
    byNamespace.map(async ([namespace, list]) => {
      const gone = list.filter((b) => reads.gone.has(b.fetchId));
      const live = list.filter((b) => !gone.includes(b));
      return done([
        ...(gone.length > 0 ? await deleteNamespace(api, gone, request) : []),
        ...(live.length > 0 ? await syncNamespace(pass, api, namespace, live, reads, later) : []),
      ]);
    }),
  );
  // recordEvents never rejects (a failed Event is logged and dropped).
  await Promise.all(later);
  return results.flat();
}

/** Upserts every Secret of one namespace, then restarts their consumers with one patch per workload. */
async function syncNamespace(
  pass: Pass,
  api: KubeApi,
  namespace: string,
  bindings: Binding[],
  reads: Reads,
  later: Promise<void>[],
): Promise<BindingResult[]> {
  const { request } = pass;
  const results: BindingResult[] = [];
  const restarts: PendingRestart[] = [];
  // What each binding's Events need to say (uid, version); Events are recorded once the namespace is done.
  const facts = new Map<BindingResult, SecretFacts>();
  // All bindings of the namespace at once; the cluster's call limiter bounds what is in flight.
  const upsert = async (binding: Binding, result: BindingResult): Promise<void> => {
    if (request.dryRun) result.dryRun = true;
    const value = reads.values.get(binding.fetchId);
    if (value === undefined) {
      result.action = 'failed';
      const failure = reads.failures.get(binding.fetchId);
      const cut = failure instanceof DeadlineExceededError ? failure.forCluster(binding.cluster) : failure;
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
    const known: SecretFacts = { arn: value.arn, versionId: value.versionId };
    facts.set(result, known);
    try {
      const outcome = await upsertSecret(api, desired, {
        adopt: binding.target.adopt,
        recreate: binding.target.recreate,
        dryRun: request.dryRun,
        // Also with `restart: false`: the marker defers the restarts to the next pass that restarts (README).
        markRestartPending: binding.target.restart !== 'none',
        pass: request.pass,
        now: pass.now(),
        onRead: (existing) => {
          if (existing === undefined) delete known.uid;
          else known.uid = existing.uid;
        },
      });
      result.action = outcome.action;
      if (outcome.uid === undefined) delete known.uid;
      else known.uid = outcome.uid;
      if (outcome.contentChanged && outcome.action !== 'unchanged') known.wrote = outcome.action;
      for (const note of outcome.notes ?? []) addNote(result, note);
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
            secretAnnotations: outcome.annotations,
            hash: print ?? 'not-created-yet',
            policy: binding.target.restart,
            contentChanged,
            versionId: value.versionId,
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
  const patched = restarts.length > 0 ? await restart(pass, api, namespace, restarts) : [];
  if (!request.dryRun) {
    // Off the namespace's critical path: its results are final (and told to the log) without them. The cluster
    // awaits them before it ends, so that they stay within its concurrency bounds.
    later.push(
      (async () => {
        const events = await eventsOf(pass, api, results, facts, patched);
        await recordEvents(api, events, (message, attributes) => pass.log.warn(message, attributes));
      })(),
    );
  }
  return results;
}

/**
 * The namespace's Events: Synced for each content write, SyncFailed for each failure worth one, Restarted for each
 * workload patched (see apply/events.ts for when). A failure met before the Secret was read (its source could not
 * be read or rendered) reads the Secret's uid first, so that `kubectl describe secret` lists the Event.
 */
async function eventsOf(
  pass: Pass,
  api: KubeApi,
  results: BindingResult[],
  facts: Map<BindingResult, SecretFacts>,
  patched: PatchedWorkload[],
): Promise<KubeEvent[]> {
  const time = pass.now();
  const instance = pass.reportingInstance;
  const events: KubeEvent[] = [];
  for (const result of results) {
    const known = facts.get(result) ?? {};
    if (known.wrote !== undefined) events.push(syncedEvent(result, known, instance, time));
    if (!recordsFailure(result)) continue;
    let uid = known.uid;
    if (!facts.has(result)) {
      try {
        uid = (await api.getSecret(result.namespace, result.secret))?.uid;
      } catch {
        // The Event names the Secret without its uid: `kubectl get events` still shows it.
      }
    }
    events.push(syncFailedEvent(result, uid, instance, time));
  }
  for (const workload of patched) events.push(restartedEvent(workload.workload.namespace, workload, instance, time));
  return events;
}

async function restart(
  pass: Pass,
  api: KubeApi,
  namespace: string,
  restarts: PendingRestart[],
): Promise<PatchedWorkload[]> {
  const { request } = pass;
  const outcome = await restartConsumers(
    api,
    namespace,
    restarts.map((r) => r.item),
    { dryRun: request.dryRun, now: pass.now() },
  );
  for (const skipped of outcome.skipped) {
    // Not a failure: the kind is not installed there, or its opt-in role is not bound (README "Workload kinds").
    pass.log.info('workload kind skipped', {
      cluster: api.cluster,
      namespace,
      kind: skipped.kind,
      reason: skipped.message,
    });
  }
  // Each binding's marker is its own Secret's: cleared all at once.
  const finish = async ({ result, item, marker }: PendingRestart): Promise<void> => {
    result.restarted = outcome.restarted.get(item.secretName) ?? [];
    const nextRun = outcome.nextRun.get(item.secretName) ?? [];
    if (nextRun.length > 0) result.nextRun = nextRun;
    if (request.trigger === 'reconcile' && (result.restarted.length > 0 || nextRun.length > 0)) result.drift = true;
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
      return;
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
  };
  await Promise.all(restarts.map(finish));
  return outcome.patched;
}
