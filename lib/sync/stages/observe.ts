/**
 * Watching the rollouts a pass started: after its restarts, every restarted workload of every cluster at once,
 * each read a few times with growing pauses until it rolled out, failed, or the wait (`defaults.rollout.waitMs`,
 * never past the pass deadline) ended. A rollout outcome never fails a binding: its Secret was written and its
 * consumers were restarted, and a retry would restart nothing (README "Rollouts").
 */
import { DeadlineExceededError } from '../../errors.js';
import { recordEvents, rolloutEvent } from '../apply/events.js';
import { rolloutVerdict, type Verdict } from '../apply/rollout.js';
import { decorate } from '../calls/decorate.js';
import { createLimiter, groupBy } from '../concurrency.js';
import { PassDeadline } from '../deadline.js';
import type { Pass } from '../pass.js';
import type { KubeApi, KubeEvent, WorkloadKind } from '../ports/kube.js';
import type { BindingResult, RolloutOutcome, WorkloadRefResult } from '../types.js';
import { errorOf } from './report.js';

/** The first pause between two reads of one workload; each next one doubles, up to `MAX_READ_DELAY_MS`. */
export const FIRST_READ_DELAY_MS = 500;
export const MAX_READ_DELAY_MS = 5_000;

/** One restarted workload, as the results name it. */
interface Restarted {
  cluster: string;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  paused: boolean;
}

/** What the observation found; `outcome` undefined: the workload was deleted before it rolled out. */
interface Observed {
  outcome: RolloutOutcome | undefined;
  /** Why it is not `rolledOut` (a note on its bindings), when worth saying. */
  reason?: string;
  /** The workload's uid, when a read decided the outcome (its Event names it). */
  uid?: string;
}

const keyOf = (w: Pick<Restarted, 'cluster' | 'namespace' | 'kind' | 'name'>) =>
  `${w.cluster}/${w.namespace}/${w.kind}/${w.name}`;

/**
 * Observes every workload the results say was restarted and returns the results with each restart's `rollout`
 * set and a note for the ones not rolled out; the results given are not modified.
 */
export async function observeRollouts(pass: Pass, results: BindingResult[]): Promise<BindingResult[]> {
  const targets = new Map<string, Restarted>();
  for (const r of results) {
    for (const w of r.restarted) {
      // Known already (zero replicas, set by the restarter).
      if (w.rollout !== undefined) continue;
      const target = { cluster: r.cluster, namespace: r.namespace, kind: w.kind, name: w.name, paused: !!w.paused };
      targets.set(keyOf(target), target);
    }
  }
  if (targets.size === 0) return results;
  const { waitMs, readyTimeoutMs } = pass.config.defaults.rollout;
  // Said before the wait, so that a CLI user or a log reader knows why the pass has not ended yet.
  if (waitMs > 0) pass.log.info('watching rollouts', { workloads: targets.size, waitMs });
  const start = pass.now().getTime();
  const end = Math.min(start + waitMs, pass.deadline?.at ?? Number.POSITIVE_INFINITY);
  // A read still in flight when the wait ends is abandoned, so a silent cluster holds the pass no longer than that.
  const until = new PassDeadline(end, pass.now);
  // Every cluster at once, since a pause between reads holds nothing; what is in flight stays within the bounds
  // of the other stages: clusterConcurrency connects, clusterConcurrency x bindingConcurrency reads (and
  // bindingConcurrency per cluster, by its API's own limiter).
  const { clusterConcurrency, bindingConcurrency } = pass.config.defaults;
  const connects = createLimiter(clusterConcurrency);
  const reads = createLimiter(clusterConcurrency * bindingConcurrency);
  const window: Window = { waitMs, readyTimeoutMs, end, until, reads };
  const connect = (cluster: string) => connects(() => pass.connect(cluster));
  const observed = new Map<string, Observed>();
  try {
    const byCluster = [...groupBy([...targets.values()], (t) => t.cluster)];
    await Promise.all(
      byCluster.map(async ([cluster, list]) => {
        const found = await observeCluster(pass, connect, cluster, list, window);
        for (const [key, value] of found) observed.set(key, value);
      }),
    );
  } finally {
    until.dispose();
  }
  for (const target of targets.values()) {
    const { outcome, reason } = observed.get(keyOf(target)) ?? { outcome: undefined };
    const attributes = {
      cluster: target.cluster,
      namespace: target.namespace,
      workload: `${target.kind}/${target.name}`,
    };
    if (outcome === 'failed') pass.log.warn('rollout failed', { ...attributes, reason });
    else pass.log.info(`rollout ${outcome ?? 'not observed'}`, { ...attributes, ...(reason ? { reason } : {}) });
  }
  return results.map((result) => withOutcomes(result, observed));
}

function withOutcomes(result: BindingResult, observed: Map<string, Observed>): BindingResult {
  if (result.restarted.length === 0) return result;
  const notes: string[] = [];
  const restarted = result.restarted.map((w): WorkloadRefResult => {
    const found = observed.get(keyOf({ cluster: result.cluster, namespace: result.namespace, ...w }));
    if (found === undefined) return w;
    if (found.reason !== undefined) {
      const what = found.outcome === 'failed' ? 'rollout failed' : 'rollout';
      notes.push(`${w.kind}/${w.name} ${what}: ${found.reason}`);
    }
    return found.outcome === undefined ? { ...w } : { ...w, rollout: found.outcome };
  });
  const out: BindingResult = { ...result, restarted };
  if (notes.length > 0) out.notes = [...(result.notes ?? []), ...notes];
  return out;
}

interface Window {
  waitMs: number;
  readyTimeoutMs: number;
  /** Epoch milliseconds on the engine's clock: no read starts after it. */
  end: number;
  until: PassDeadline;
  /** The pass-wide bound on reads in flight. */
  reads: <T>(fn: () => Promise<T>) => Promise<T>;
}

async function observeCluster(
  pass: Pass,
  connect: (cluster: string) => Promise<KubeApi>,
  cluster: string,
  list: Restarted[],
  window: Window,
): Promise<Map<string, Observed>> {
  const out = new Map<string, Observed>();
  // Known without a read: a paused Deployment rolls only when resumed, and `waitMs: 0` asks for no reads.
  const pending: Restarted[] = [];
  for (const target of list) {
    if (target.paused) out.set(keyOf(target), { outcome: 'progressing' });
    else if (window.waitMs === 0) out.set(keyOf(target), { outcome: 'progressing' });
    else pending.push(target);
  }
  if (pending.length === 0) return out;
  let api: KubeApi;
  try {
    // Its reads and Events within the pass-wide bound (the cluster's own limiter applies too).
    api = decorate(await connect(cluster), (_call, next) => window.reads(next));
  } catch (error) {
    const reason = `not observed: ${errorOf(error).message}`;
    for (const target of pending) out.set(keyOf(target), { outcome: 'progressing', reason });
    return out;
  }
  const decided: KubeEvent[] = [];
  await Promise.all(
    pending.map(async (target) => {
      const found = await observeOne(pass, api, target, window);
      out.set(keyOf(target), found);
      const subject = { ...target, uid: found.uid ?? '' };
      const time = pass.now();
      if (found.uid === undefined) return;
      if (found.outcome === 'rolledOut')
        decided.push(rolloutEvent(subject, { failed: false }, pass.reportingInstance, time));
      if (found.outcome === 'failed') {
        const failed = { failed: true as const, reason: found.reason ?? 'failed' };
        decided.push(rolloutEvent(subject, failed, pass.reportingInstance, time));
      }
    }),
  );
  // Best effort, as every Event: one that cannot be recorded is logged, and changes no outcome.
  await recordEvents(api, decided, (message, attributes) => pass.log.warn(message, attributes));
  return out;
}

/** Reads one workload's status, spaced 0.5 s, 1 s, 2 s, 4 s, then every 5 s, until a verdict or the wait's end. */
async function observeOne(pass: Pass, api: KubeApi, target: Restarted, window: Window): Promise<Observed> {
  const { namespace, kind, name } = target;
  let delay = FIRST_READ_DELAY_MS;
  let seen: string | undefined;
  let still = 0;
  let uid: string | undefined;
  for (;;) {
    let verdict: Verdict;
    let snapshot: string;
    try {
      const status = await window.until.guard(
        () => api.readWorkloadStatus(namespace, kind, name),
        () =>
          new DeadlineExceededError('observe rollout', {
            cluster: target.cluster,
            object: `${kind} ${namespace}/${name}`,
          }),
      );
      if (status === undefined) return { outcome: undefined, reason: 'deleted before it rolled out' };
      uid = status.uid;
      verdict = rolloutVerdict(status);
      snapshot = JSON.stringify(status);
    } catch (error) {
      // The wait or the pass deadline ended during the read, or the read failed: what we know is that it rolls.
      const cut = error instanceof DeadlineExceededError;
      return {
        outcome: 'progressing',
        reason: cut ? 'still rolling out when the wait ended' : `status not read: ${errorOf(error).message}`,
      };
    }
    if (verdict.state === 'done') return { outcome: 'rolledOut', uid };
    if (verdict.state === 'failed') return { outcome: 'failed', reason: verdict.reason, uid };
    if (verdict.state === 'held') return { outcome: 'progressing', reason: verdict.reason };
    const now = pass.now().getTime();
    // Progress is any change of the status (a pod created, Ready, available, an old one gone). Standing still
    // with new pods not Ready for readyTimeoutMs is a failed rollout: a crash loop or a failing readiness probe.
    if (snapshot !== seen) {
      seen = snapshot;
      still = now;
    } else if (now - still >= window.readyTimeoutMs) {
      return {
        outcome: 'failed',
        uid,
        reason: `no progress for ${seconds(window.readyTimeoutMs)} (new pods not Ready): ${verdict.reason}`,
      };
    }
    if (now + delay > window.end)
      return { outcome: 'progressing', reason: `still rolling out when the wait ended: ${verdict.reason}` };
    await pass.sleep(delay);
    delay = Math.min(delay * 2, MAX_READ_DELAY_MS);
  }
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
