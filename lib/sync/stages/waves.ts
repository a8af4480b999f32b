/**
 * Health-gated waves (README "Waves"). The bindings of a sync with `rollout.waves` are applied one wave at a time:
 * wave N+1 only once every binding of waves 1..N holds the version read (its Secret's version-id annotation) and the
 * consumers running that content (the fingerprint on their pod template) rolled out. The gate is decided from the
 * cluster, never from a store of our own, so every trigger (event, duplicate, retry, backfill, reconcile) evaluates
 * the same gate: none can skip a wave, restart a consumer twice, or start a second set of waves.
 */
import type { WavesConfig } from '../../config/index.js';
import { consumerHashAnnotation, SYNCED_AT_ANNOTATION, VERSION_ANNOTATION } from '../../domain/names.js';
import { type Halt, recordEvents, rolloutHaltedEvent } from '../apply/events.js';
import { fingerprintsOf, listWorkloads, restartsWorkload, WORKLOAD_KINDS } from '../apply/restarter.js';
import { rolloutVerdict } from '../apply/rollout.js';
import { groupBy } from '../concurrency.js';
import type { Pass } from '../pass.js';
import type { Binding } from '../plan.js';
import type { BindingResult, WaveProgress } from '../types.js';
import type { Reads } from './fetch.js';
import { observeRollouts } from './observe.js';
import { addNote, baseResult, errorOf } from './report.js';
import { applyBindings } from './write.js';

/** The note code of a binding whose wave has not been reached: reported `skipped`, never `failed`. */
export const WAITING_FOR_WAVE = 'WaitingForWave';

/** Where one wave stands after this pass applied it. */
export type WaveState =
  | { state: 'healthy' }
  /** Not yet: a rollout still running, a write that failed (retried), a dry run. */
  | { state: 'waiting'; reason: string }
  /** A consumer's rollout failed, or it did not roll out within `healthTimeout` of the Secret's write. */
  | { state: 'failed'; reason: string };

/**
 * What applying in waves gave: the results, the bindings that were applied (the rest wait for their wave), and where
 * each (secret, sync) with waves stands.
 */
export interface Waved {
  results: BindingResult[];
  applied: Binding[];
  progress: WaveProgress[];
}

/**
 * Applies `bindings`: those without waves at once, as before; each (secret, sync) with waves in wave order, the
 * later waves reported `skipped` (`WaitingForWave`) from the first wave that is not healthy on.
 */
export async function applyInWaves(pass: Pass, bindings: Binding[], reads: Reads): Promise<Waved> {
  const plain = bindings.filter((b) => b.wave === undefined);
  const groups = new Map<WavesConfig, Binding[]>();
  for (const binding of bindings) {
    if (binding.wave === undefined) continue;
    groups.set(binding.wave.of, [...(groups.get(binding.wave.of) ?? []), binding]);
  }
  const sequences = [...groups.values()].flatMap((list) => [...groupBy(list, (b) => b.fetchId).values()]);
  const [direct, waved] = await Promise.all([
    plain.length > 0 ? applyBindings(pass, plain, reads) : Promise.resolve([]),
    Promise.all(sequences.map((list) => applyWaves(pass, list, reads))),
  ]);
  const results = [...direct, ...waved.flatMap((w) => w.results)];
  const waiting = new Set(results.filter(isWaiting).map((r) => `${r.cluster}/${r.namespace}/${r.secret}`));
  return {
    results,
    applied: bindings.filter((b) => !waiting.has(`${b.cluster}/${b.namespace}/${b.secret}`)),
    progress: waved.map((w) => w.progress),
  };
}

/** Whether a result is a binding held back by the gate. */
export function isWaiting(result: BindingResult): boolean {
  return result.action === 'skipped' && (result.notes ?? []).some((n) => n.startsWith(`${WAITING_FOR_WAVE}:`));
}

interface Sequence {
  results: BindingResult[];
  progress: WaveProgress;
}

/** One secret's bindings of one sync, wave after wave, while each is healthy. */
async function applyWaves(pass: Pass, bindings: Binding[], reads: Reads): Promise<Sequence> {
  const first = bindings[0] as Binding & { wave: NonNullable<Binding['wave']> };
  const count = first.wave.of.waves.length;
  const read = reads.values.get(first.fetchId);
  const progress: WaveProgress = {
    source: first.fetchId,
    ...(read === undefined ? {} : { arn: read.arn, versionId: read.versionId }),
    sync: first.wave.sync,
    wave: count,
    of: count,
    state: 'done',
    moved: false,
    delaySeconds: Math.round(first.wave.of.checkEvery / 1000),
  };
  const results: BindingResult[] = [];
  let blocked: string | undefined;
  let moved = 0;
  for (let index = 0; index < count; index++) {
    const wave = bindings.filter((b) => b.wave?.index === index);
    if (wave.length === 0) continue;
    if (blocked !== undefined) {
      for (const binding of wave) {
        const result = baseResult(binding);
        addNote(result, `${WAITING_FOR_WAVE}: wave ${index + 1} of ${count} waits: ${blocked}`);
        pass.log.result?.(result);
        results.push(result);
      }
      continue;
    }
    let applied = await applyBindings(pass, wave, reads);
    // This wave's restarts are watched now, within the pass's rollout wait, so that a quick one lets the next go.
    if (!pass.request.dryRun) applied = await observeRollouts(pass, applied);
    results.push(...applied);
    const movedThis = applied.some((r) => r.action === 'created' || r.action === 'updated' || r.restarted.length > 0);
    if (movedThis) {
      progress.moved = true;
      moved += 1;
    }
    const health = await waveHealth(pass, wave, applied, reads);
    pass.log.info('wave', { secretId: wave[0]?.fetchId, wave: index + 1, of: count, ...health });
    if (health.state !== 'healthy') {
      blocked = `wave ${index + 1} ${health.state === 'failed' ? 'failed' : 'is not done'}: ${health.reason}`;
      Object.assign(progress, { wave: index + 1, state: health.state, reason: health.reason });
      if (health.state === 'failed') {
        const halt: Halt = { wave: index + 1, of: count, reason: health.reason };
        if (read !== undefined) Object.assign(halt, { arn: read.arn, versionId: read.versionId });
        await recordHalt(pass, wave, halt);
      }
    } else if (moved >= (pass.wavesPerPass ?? Number.POSITIVE_INFINITY) && index + 1 < count) {
      // One invocation watches the waves it wrote, each up to waitMs: the next wave goes to a new pass at once, so
      // that no invocation holds several waves' watches against its timeout.
      const reason = `wave ${index + 1} is done; wave ${index + 2} continues in a new pass`;
      blocked = reason;
      Object.assign(progress, { wave: index + 2, state: 'waiting', reason, delaySeconds: 0 });
    }
  }
  return { results, progress };
}

/** The `RolloutHalted` Event on each Secret of the failed wave (best effort, as every Event). */
async function recordHalt(pass: Pass, wave: Binding[], halt: Halt): Promise<void> {
  const warn = (message: string, attributes: Record<string, unknown>) => pass.log.warn(message, attributes);
  await Promise.all(
    [...groupBy(wave, (b) => `${b.cluster}/${b.namespace}`).values()].map(async (bindings) => {
      try {
        const api = await pass.connect((bindings[0] as Binding).cluster);
        const events = await Promise.all(
          bindings.map(async (b) => {
            const uid = (await api.getSecretMetadata(b.namespace, b.secret))?.uid;
            return rolloutHaltedEvent(b, uid, halt, pass.reportingInstance, pass.now());
          }),
        );
        await recordEvents(api, events, warn);
      } catch (error) {
        warn('event not recorded', { reason: 'RolloutHalted', error: errorOf(error).message });
      }
    }),
  );
}

/**
 * Where a wave stands, from this pass's results and the cluster: each binding holds the version read, and every
 * consumer that runs its content (the Secret's fingerprint on its pod template) rolled out; not rolled out within
 * `healthTimeout` of the Secret's synced-at is a failure.
 */
export async function waveHealth(
  pass: Pass,
  bindings: Binding[],
  results: BindingResult[],
  reads: Reads,
): Promise<WaveState> {
  const states = await Promise.all(
    bindings.map(async (binding): Promise<WaveState> => {
      const where = `${binding.cluster}/${binding.namespace}/${binding.secret}`;
      const result = results.find(
        (r) => r.cluster === binding.cluster && r.namespace === binding.namespace && r.secret === binding.secret,
      );
      if (result === undefined || result.action === 'failed') {
        return { state: 'waiting', reason: `${where} failed: ${result?.error?.code ?? 'not applied'}` };
      }
      if (result.dryRun) return { state: 'waiting', reason: `${where}: dry run, nothing written` };
      const failed = result.restarted.find((w) => w.rollout === 'failed');
      if (failed !== undefined)
        return { state: 'failed', reason: `${where}: ${failed.kind}/${failed.name} rollout failed` };
      try {
        return await bindingHealth(pass, binding, result, reads);
      } catch (error) {
        return { state: 'waiting', reason: `${where}: not checked: ${errorOf(error).message}` };
      }
    }),
  );
  return states.find((s) => s.state === 'failed') ?? states.find((s) => s.state === 'waiting') ?? { state: 'healthy' };
}

async function bindingHealth(pass: Pass, binding: Binding, result: BindingResult, reads: Reads): Promise<WaveState> {
  const where = `${binding.cluster}/${binding.namespace}/${binding.secret}`;
  const version = reads.values.get(binding.fetchId)?.versionId;
  const api = await pass.connect(binding.cluster);
  const secret = await api.getSecretMetadata(binding.namespace, binding.secret);
  if (secret === undefined || version === undefined || secret.annotations[VERSION_ANNOTATION] !== version) {
    return { state: 'waiting', reason: `${where} does not hold version ${version ?? 'unknown'}` };
  }
  if (binding.target.restart === 'none' || !pass.request.restart) return { state: 'healthy' };
  const healthTimeout = binding.wave?.of.healthTimeout ?? Number.POSITIVE_INFINITY;
  const syncedAt = Date.parse(secret.annotations[SYNCED_AT_ANNOTATION] ?? '');
  const late = Number.isFinite(syncedAt) && pass.now().getTime() - syncedAt >= healthTimeout;
  const annotation = consumerHashAnnotation(binding.secret);
  const consumed = { name: binding.secret, annotations: secret.annotations };
  const { workloads: listed } = await listWorkloads(api, binding.namespace);
  for (const kind of WORKLOAD_KINDS) {
    const workloads = listed.filter((w) => w.kind === kind);
    for (const workload of workloads) {
      if (!restartsWorkload(binding.target.restart, consumed, workload)) continue;
      // A consumer not carrying this content's fingerprint was not restarted for it (deployed later, or
      // restart pending): the restart-pending marker makes the next pass restart it.
      if (result.hash === undefined || fingerprintsOf(workload)[annotation] !== result.hash) {
        return { state: 'waiting', reason: `${where}: ${kind}/${workload.name} does not run this version yet` };
      }
      const status = await api.readWorkloadStatus(binding.namespace, kind, workload.name);
      if (status === undefined) continue;
      const verdict = rolloutVerdict(status);
      if (verdict.state === 'done') continue;
      if (verdict.state === 'failed')
        return { state: 'failed', reason: `${where}: ${kind}/${workload.name}: ${verdict.reason}` };
      if (late) {
        return {
          state: 'failed',
          reason: `${where}: ${kind}/${workload.name} not rolled out within ${healthTimeout / 1000} s: ${verdict.reason}`,
        };
      }
      return { state: 'waiting', reason: `${where}: ${kind}/${workload.name}: ${verdict.reason}` };
    }
  }
  return { state: 'healthy' };
}
