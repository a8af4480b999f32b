/**
 * After a failed wave (README "Waves"): the hold on the version, recorded on the first wave's Secrets, and the
 * rollback of the failed wave's Secrets to the version each held before, read again by version id. Both are
 * decided from what the Secrets say, so a pass that died half-way is finished by the next one.
 */
import {
  HOLD_ANNOTATION,
  PREVIOUS_VERSION_ANNOTATION,
  RESTART_PENDING_ANNOTATION,
  VERSION_ANNOTATION,
} from '../../domain/names.js';
import { groupBy } from '../concurrency.js';
import { type Hold, holdOf, holdValue } from '../hold.js';
import type { Pass } from '../pass.js';
import type { Binding } from '../plan.js';
import type { SecretValue } from '../ports/source.js';
import type { BindingResult } from '../types.js';
import type { Reads } from './fetch.js';
import { observeRollouts } from './observe.js';
import { addNote, baseResult, bindingKey, errorOf } from './report.js';
import { applyBindings } from './write.js';

/** A hold found on one Secret, with the annotation's exact value (what a release or a supersede clears). */
export interface FoundHold {
  binding: Binding;
  hold: Hold;
  value: string;
}

/** The holds the Secrets of `bindings` carry; a Secret that cannot be read is passed over (its write fails too). */
export async function readHolds(pass: Pass, bindings: Binding[]): Promise<FoundHold[]> {
  const found = await Promise.all(
    bindings.map(async (binding): Promise<FoundHold | undefined> => {
      try {
        const api = await pass.connect(binding.cluster);
        const secret = await api.getSecretMetadata(binding.namespace, binding.secret);
        const value = secret?.annotations[HOLD_ANNOTATION];
        const hold = secret === undefined ? undefined : holdOf(secret.annotations);
        return hold === undefined || value === undefined ? undefined : { binding, hold, value };
      } catch (error) {
        pass.log.warn('hold not read', { cluster: binding.cluster, error: errorOf(error).message });
        return undefined;
      }
    }),
  );
  return found.filter((f): f is FoundHold => f !== undefined);
}

/**
 * Records `hold` on each existing Secret of `bindings` (the first wave's), only on the object read (its uid).
 * Returns how many carry it now: none means the hold is not durable, and nothing may be rolled back.
 */
export async function recordHold(pass: Pass, bindings: Binding[], hold: Hold): Promise<number> {
  const value = holdValue(hold);
  const done = await Promise.all(
    bindings.map(async (binding) => {
      try {
        const api = await pass.connect(binding.cluster);
        const secret = await api.getSecretMetadata(binding.namespace, binding.secret);
        if (secret === undefined) return false;
        if (secret.annotations[HOLD_ANNOTATION] === value) return true;
        return await api.annotateSecret(binding.namespace, binding.secret, HOLD_ANNOTATION, value, {
          uid: secret.uid,
          annotations: {},
        });
      } catch (error) {
        pass.log.warn('hold not recorded', { cluster: binding.cluster, error: errorOf(error).message });
        return false;
      }
    }),
  );
  return done.filter(Boolean).length;
}

/** Removes each found hold while its Secret still carries exactly that value; returns the ones removed. */
export async function clearHolds(pass: Pass, found: FoundHold[]): Promise<FoundHold[]> {
  const cleared = await Promise.all(
    found.map(async (f) => {
      try {
        const api = await pass.connect(f.binding.cluster);
        return await api.clearSecretAnnotation(f.binding.namespace, f.binding.secret, HOLD_ANNOTATION, f.value);
      } catch (error) {
        pass.log.warn('hold not cleared', { cluster: f.binding.cluster, error: errorOf(error).message });
        return false;
      }
    }),
  );
  return found.filter((_, i) => cleared[i] === true);
}

/** Where one binding of the failed wave goes back to. */
type Target = { binding: Binding; to: string | undefined } | { binding: Binding; failed: BindingResult } | undefined;

/**
 * Rolls the failed wave's Secrets that still hold `held` back to the version each held before (its
 * previous-version-id annotation, else AWSPREVIOUS), read by version id, and restarts their consumers back; a Secret
 * rolled back whose restarts a crash left pending gets them finished. Secrets Manager is not written. Returns a
 * result for each binding that needed anything, with `rolledBack` and the rollouts observed; the others are done.
 */
export async function rollbackWave(
  pass: Pass,
  bindings: Binding[],
  held: string,
  read: SecretValue,
): Promise<BindingResult[]> {
  const targets = await Promise.all(
    bindings.map(async (binding): Promise<Target> => {
      try {
        const api = await pass.connect(binding.cluster);
        const secret = await api.getSecretMetadata(binding.namespace, binding.secret);
        const at = secret?.annotations[VERSION_ANNOTATION];
        if (secret === undefined || at === undefined) return undefined;
        if (at === held) return { binding, to: secret.annotations[PREVIOUS_VERSION_ANNOTATION] };
        // Rolled back by a pass that died before its restarts: the same version again finishes them.
        return secret.annotations[RESTART_PENDING_ANNOTATION] === undefined ? undefined : { binding, to: at };
      } catch (error) {
        return { binding, failed: { ...baseResult(binding), action: 'failed', error: errorOf(error) } };
      }
    }),
  );
  const results: BindingResult[] = [];
  const wanted: Array<{ binding: Binding; to: string | undefined }> = [];
  for (const target of targets) {
    if (target === undefined) continue;
    if ('failed' in target) results.push(target.failed);
    else wanted.push(target);
  }
  if (wanted.some((w) => w.to === undefined)) {
    // Written before Secrets recorded their previous version: AWSPREVIOUS is the version before AWSCURRENT.
    let previous: string | undefined;
    try {
      previous = (await pass.source.describeVersions(read.arn)).previousVersionId;
    } catch (error) {
      pass.log.warn('AWSPREVIOUS not read', { secretArn: read.arn, error: errorOf(error).message });
    }
    for (const w of wanted) if (w.to === undefined && previous !== held) w.to = previous;
  }
  for (const w of wanted.filter((x) => x.to === undefined)) {
    const result = baseResult(w.binding);
    addNote(result, `not rolled back: no version before ${held} is known (no previous-version-id, no AWSPREVIOUS)`);
    results.push(result);
  }
  for (const [to, group] of groupBy(
    wanted.filter((w) => w.to !== undefined),
    (w) => w.to as string,
  )) {
    const list = group.map((g) => g.binding);
    let value: SecretValue;
    try {
      value = await pass.source.readVersion(read.arn, to);
    } catch (error) {
      const failure = errorOf(error);
      for (const binding of list) {
        results.push({
          ...baseResult(binding),
          action: 'failed',
          error: { code: failure.code, message: `not rolled back to version ${to}: ${failure.message}` },
        });
      }
      continue;
    }
    const reads: Reads = {
      values: new Map(list.map((b) => [b.fetchId, value])),
      failures: new Map(),
      gone: new Set(),
    };
    const applied = await observeRollouts(pass, await applyBindings(pass, list, reads, false));
    for (const result of applied) {
      if (result.action !== 'failed') {
        result.rolledBack = { from: held, to, restarted: result.restarted };
        addNote(result, `RolledBack: version ${held} -> ${to}; Secrets Manager is not changed`);
      }
      results.push(result);
    }
  }
  const order = new Map(bindings.map((b, i) => [bindingKey(b), i]));
  return results.sort((a, b) => (order.get(bindingKey(a)) ?? 0) - (order.get(bindingKey(b)) ?? 0));
}
