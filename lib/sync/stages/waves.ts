/**
 * Health-gated waves (README "Waves"). The bindings of a sync with `rollout.waves` are applied one wave at a time:
 * wave N+1 only once every binding of waves 1..N holds the version read (its Secret's version-id annotation) and the
 * consumers running that content (the fingerprint on their pod template) rolled out. The gate is decided from the
 * cluster, never from a store of our own, so every trigger (event, duplicate, retry, backfill, reconcile) evaluates
 * the same gate: none can skip a wave, restart a consumer twice, or start a second set of waves.
 */
import type { WavesConfig } from '../../config/index.js';
import {
  consumerHashAnnotation,
  FINGERPRINT_ANNOTATION,
  SYNCED_AT_ANNOTATION,
  VERSION_ANNOTATION,
} from '../../domain/names.js';
import { type Halt, recordEvents, rolloutHaltedEvent } from '../apply/events.js';
import { fingerprintsOf, listWorkloads, restartsWorkload, WORKLOAD_KINDS } from '../apply/restarter.js';
import { rolloutVerdict } from '../apply/rollout.js';
import { groupBy } from '../concurrency.js';
import { type Hold, releaseHint } from '../hold.js';
import type { Pass } from '../pass.js';
import type { Binding } from '../plan.js';
import type { BindingResult, WaveProgress } from '../types.js';
import type { Reads } from './fetch.js';
import { observeRollouts } from './observe.js';
import { addNote, baseResult, bindingKey, errorOf } from './report.js';
import { clearHolds, type FoundHold, readHolds, recordHold, rollbackWave } from './rollback.js';
import { applyBindings } from './write.js';

/** The note code of a binding whose wave has not been reached: reported `skipped`, never `failed`. */
export const WAITING_FOR_WAVE = 'WaitingForWave';
/** The note code of a binding not written because the version read is held (README "Waves"). */
export const HELD = 'Held';

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
  /** Holds superseded by a newer version, and holds not recorded (for the report's notes). */
  notes: string[];
}

/**
 * Applies `bindings`: those without waves at once, as before; each (secret, sync) with waves in wave order, the
 * later waves reported `skipped` (`WaitingForWave`) from the first wave that is not healthy on.
 */
export async function applyInWaves(
  pass: Pass,
  bindings: Binding[],
  reads: Reads,
  gates: readonly Binding[] = [],
): Promise<Waved> {
  const plain = bindings.filter((b) => b.wave === undefined);
  const groups = new Map<WavesConfig, Binding[]>();
  for (const binding of bindings) {
    if (binding.wave === undefined) continue;
    groups.set(binding.wave.of, [...(groups.get(binding.wave.of) ?? []), binding]);
  }
  const sequences = [...groups.values()].flatMap((list) => [...groupBy(list, (b) => b.fetchId).values()]);
  const [direct, waved] = await Promise.all([
    plain.length > 0 ? applyBindings(pass, plain, reads) : Promise.resolve([]),
    Promise.all(sequences.map((list) => applyWaves(pass, list, sequenceOf(list, gates), reads))),
  ]);
  const results = [...direct, ...waved.flatMap((w) => w.results)];
  // Held sequences are not applied either: the version check must not write the held version over them.
  const waiting = new Set([
    ...results.filter(isWaiting).map(bindingKey),
    ...waved.flatMap((w) => (w.held ? w.results.map(bindingKey) : [])),
  ]);
  return {
    results,
    applied: bindings.filter((b) => !waiting.has(bindingKey(b))),
    progress: waved.map((w) => w.progress),
    notes: waved.flatMap((w) => w.notes),
  };
}

/**
 * The whole sequence `list` belongs to: with the bindings a filter left out (`gates`), whose waves are read for the
 * gate and the hold but written only by a rollback, so that a backfill of one cluster cannot skip an earlier wave.
 */
function sequenceOf(list: Binding[], gates: readonly Binding[]): Binding[] {
  const first = list[0] as Binding & { wave: NonNullable<Binding['wave']> };
  const keys = new Set(list.map(bindingKey));
  const more = gates.filter(
    (g) => g.fetchId === first.fetchId && g.wave?.sync === first.wave.sync && !keys.has(bindingKey(g)),
  );
  return [...list, ...more];
}

/** Whether a result is a binding held back by the gate. */
export function isWaiting(result: BindingResult): boolean {
  return result.action === 'skipped' && (result.notes ?? []).some((n) => n.startsWith(`${WAITING_FOR_WAVE}:`));
}

interface Sequence {
  results: BindingResult[];
  progress: WaveProgress;
  /** The version read is held: nothing of the sequence was written but a rollback left unfinished. */
  held: boolean;
  notes: string[];
}

/**
 * One secret's bindings of one sync, wave after wave, while each is healthy; `full` is the whole sequence (the
 * bindings and those a filter left out), whose waves gate and hold the version.
 */
async function applyWaves(pass: Pass, bindings: Binding[], full: Binding[], reads: Reads): Promise<Sequence> {
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
  const notes: string[] = [];
  // The hold lives on the first wave's Secrets, which every pass reads first.
  const firstWave = full.filter((b) => b.wave?.index === 0);
  const holds = read === undefined ? [] : await readHolds(pass, firstWave);
  const found = holds.find((h) => h.hold.versionId === read?.versionId && h.hold.sync === first.wave.sync);
  if (found !== undefined && read !== undefined) {
    return { ...(await heldSequence(pass, bindings, full, read, found, progress)), notes };
  }
  if (holds.length > 0 && read !== undefined) {
    // A newer (or another) version supersedes a hold: its waves start from wave 1.
    // With the holds the failed waves' own Secrets carry.
    const failedWaves = new Set(holds.map((h) => h.hold.wave - 1).filter((i) => i > 0));
    const more = await readHolds(
      pass,
      full.filter((b) => failedWaves.has(b.wave?.index ?? -1)),
    );
    const all = [...holds, ...more.filter((h) => h.hold.versionId !== read.versionId)];
    const cleared = pass.request.dryRun ? all : await clearHolds(pass, all);
    for (const version of new Set(cleared.map((h) => h.hold.versionId))) {
      notes.push(
        `hold of version ${version} of "${read.arn}" ${pass.request.dryRun ? 'would be' : 'is'} superseded by version ${read.versionId}`,
      );
    }
  }
  const results: BindingResult[] = [];
  let blocked: string | undefined;
  let moved = 0;
  for (let index = 0; index < count; index++) {
    const wave = bindings.filter((b) => b.wave?.index === index);
    const requested = new Set(wave.map(bindingKey));
    const gate = full.filter((b) => b.wave?.index === index && !requested.has(bindingKey(b)));
    if (wave.length === 0 && gate.length === 0) continue;
    if (blocked !== undefined) {
      for (const binding of wave) {
        const result = baseResult(binding);
        addNote(result, `${WAITING_FOR_WAVE}: wave ${index + 1} of ${count} waits: ${blocked}`);
        pass.log.result?.(result);
        results.push(result);
      }
      continue;
    }
    let applied = wave.length > 0 ? await applyBindings(pass, wave, reads) : [];
    // This wave's restarts are watched now, within the pass's rollout wait, so that a quick one lets the next go.
    if (!pass.request.dryRun) applied = await observeRollouts(pass, applied);
    results.push(...applied);
    const movedThis = applied.some((r) => r.action === 'created' || r.action === 'updated' || r.restarted.length > 0);
    if (movedThis) {
      progress.moved = true;
      moved += 1;
    }
    const health = await waveHealth(pass, wave, applied, reads, gate);
    pass.log.info('wave', { secretId: first.fetchId, wave: index + 1, of: count, ...health });
    if (health.state !== 'healthy') {
      blocked = `wave ${index + 1} ${health.state === 'failed' ? 'failed' : 'is not done'}: ${health.reason}`;
      Object.assign(progress, { wave: index + 1, state: health.state, reason: health.reason });
      if (health.state === 'failed') {
        const halt: Halt = { wave: index + 1, of: count, reason: health.reason };
        if (read !== undefined) Object.assign(halt, { arn: read.arn, versionId: read.versionId });
        if (read !== undefined && !pass.request.dryRun) {
          const whole = [...wave, ...gate];
          const failed = await failWave(pass, { firstWave, wave: whole, read, results, progress }, halt);
          notes.push(...failed.notes);
          if (failed.outcome !== undefined) halt.outcome = failed.outcome;
        }
        await recordHalt(pass, [...wave, ...gate], halt);
      }
    } else if (moved >= (pass.wavesPerPass ?? Number.POSITIVE_INFINITY) && index + 1 < count) {
      // One invocation watches the waves it wrote, each up to waitMs: the next wave goes to a new pass at once, so
      // that no invocation holds several waves' watches against its timeout.
      const reason = `wave ${index + 1} is done; wave ${index + 2} continues in a new pass`;
      blocked = reason;
      Object.assign(progress, { wave: index + 2, state: 'waiting', reason, delaySeconds: 0 });
    }
  }
  return { results, progress, held: false, notes };
}

/**
 * A wave failed in this pass: holds the version on the first wave's Secrets, then, with `onFailure: rollback`, rolls
 * the failed wave back (merged into its results). Without a recorded hold nothing is rolled back: the next pass
 * would write the version again and restart the consumers once more.
 */
async function failWave(
  pass: Pass,
  sequence: {
    firstWave: Binding[];
    wave: Binding[];
    read: NonNullable<ReturnType<Reads['values']['get']>>;
    results: BindingResult[];
    progress: WaveProgress;
  },
  halt: Halt,
): Promise<{ notes: string[]; outcome?: string }> {
  const { firstWave, wave, read, results, progress } = sequence;
  const waves = (wave[0] as Binding & { wave: NonNullable<Binding['wave']> }).wave;
  const hold: Hold = {
    versionId: read.versionId,
    sync: waves.sync,
    wave: halt.wave,
    of: halt.of,
    policy: waves.of.onFailure,
    since: pass.now().toISOString(),
    reason: halt.reason,
  };
  const recorded = await recordHold(pass, firstWave, hold);
  // Also on the failed wave's own Secrets (when not the first): a concurrent pass never writes the version there.
  const others = wave.filter((b) => !firstWave.some((f) => bindingKey(f) === bindingKey(b)));
  if (recorded > 0 && others.length > 0) await recordHold(pass, others, hold);
  if (recorded === 0) {
    return {
      notes: [
        `version ${read.versionId} of "${read.arn}": the hold could not be recorded on wave 1's Secrets${hold.policy === 'rollback' ? ', so wave '.concat(String(halt.wave), ' is not rolled back (the next pass would write it again)') : ''}`,
      ],
    };
  }
  progress.hold = { wave: hold.wave, policy: hold.policy, since: hold.since };
  if (hold.policy !== 'rollback') return { notes: [] };
  const rolled = await rollbackWave(pass, wave, read.versionId, read);
  for (const back of rolled) {
    const index = results.findIndex((r) => bindingKey(r) === bindingKey(back));
    const forward = results[index];
    if (forward === undefined) {
      // A binding of the failed wave this pass's filters left out: rolled back all the same, and reported.
      results.push(back);
      pass.log.result?.(back);
      continue;
    }
    const merged: BindingResult = {
      ...forward,
      ...(back.rolledBack === undefined ? {} : { rolledBack: back.rolledBack }),
      ...(back.action === 'failed' ? { action: 'failed' as const, ...(back.error ? { error: back.error } : {}) } : {}),
    };
    for (const note of back.notes ?? []) addNote(merged, note);
    results[index] = merged;
    pass.log.result?.(merged);
  }
  const to = [...new Set(rolled.flatMap((r) => (r.rolledBack === undefined ? [] : [r.rolledBack.to])))];
  return {
    notes: [],
    ...(to.length > 0 ? { outcome: `wave ${halt.wave} is rolled back to version ${to.join(', ')}` } : {}),
  };
}

/**
 * The version read is held: every binding of the sequence is reported `skipped` (`Held`), the later waves not
 * written, the rollback finished where a pass left it unfinished; `release` or a newer version ends the hold.
 */
async function heldSequence(
  pass: Pass,
  bindings: Binding[],
  full: Binding[],
  read: NonNullable<ReturnType<Reads['values']['get']>>,
  found: FoundHold,
  progress: WaveProgress,
): Promise<Omit<Sequence, 'notes'>> {
  const { hold } = found;
  const source = found.binding.fetchId;
  const done = hold.policy === 'rollback' ? 'rolled back' : 'halted';
  const why = `${HELD}: version ${read.versionId} is held since ${hold.since}: wave ${hold.wave} of ${hold.of} failed (${done}): ${hold.reason}; ${releaseHint(source)}`;
  const failedWave = full.filter((b) => b.wave?.index === hold.wave - 1);
  const rolled =
    hold.policy === 'rollback' && !pass.request.dryRun && failedWave.length > 0
      ? await rollbackWave(pass, failedWave, read.versionId, read)
      : [];
  const requested = new Set(bindings.map(bindingKey));
  // A rollback finished outside the pass's filters is reported too.
  const outside = rolled.filter((r) => !requested.has(bindingKey(r)));
  const results = [
    ...bindings.map((b) => rolled.find((r) => bindingKey(r) === bindingKey(b)) ?? baseResult(b)),
    ...outside,
  ];
  for (const result of results) {
    addNote(result, why);
    pass.log.result?.(result);
  }
  Object.assign(progress, {
    wave: hold.wave,
    state: 'held',
    reason: `wave ${hold.wave} failed (${done}): ${hold.reason}`,
    moved: rolled.some((r) => r.rolledBack !== undefined),
    hold: { wave: hold.wave, policy: hold.policy, since: hold.since },
  });
  pass.log.info('waves held', { secretId: source, versionId: read.versionId, wave: hold.wave, of: hold.of });
  return { results, progress, held: true };
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
  gate: readonly Binding[] = [],
): Promise<WaveState> {
  const checked = gate.map(async (binding): Promise<WaveState> => {
    // Not written by this pass (left out by its filters): what its cluster holds decides.
    try {
      return await bindingHealth(pass, binding, undefined, reads);
    } catch (error) {
      return { state: 'waiting', reason: `${bindingKey(binding)}: not checked: ${errorOf(error).message}` };
    }
  });
  const states = await Promise.all([
    ...checked,
    ...bindings.map(async (binding): Promise<WaveState> => {
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
  ]);
  return states.find((s) => s.state === 'failed') ?? states.find((s) => s.state === 'waiting') ?? { state: 'healthy' };
}

async function bindingHealth(
  pass: Pass,
  binding: Binding,
  result: BindingResult | undefined,
  reads: Reads,
): Promise<WaveState> {
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
  // The fingerprint this pass wrote, else the one the Secret carries (a binding only read for the gate).
  const print = result?.hash ?? secret.annotations[FINGERPRINT_ANNOTATION];
  const consumed = { name: binding.secret, annotations: secret.annotations };
  const { workloads: listed } = await listWorkloads(api, binding.namespace);
  for (const kind of WORKLOAD_KINDS) {
    const workloads = listed.filter((w) => w.kind === kind);
    for (const workload of workloads) {
      if (!restartsWorkload(binding.target.restart, consumed, workload)) continue;
      // A consumer not carrying this content's fingerprint was not restarted for it (deployed later, or
      // restart pending): the restart-pending marker makes the next pass restart it.
      if (print === undefined || fingerprintsOf(workload)[annotation] !== print) {
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
