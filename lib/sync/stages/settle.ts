/** The post-write check that each written secret is still at the version read (see `settle`). */
import { DeadlineExceededError } from '../../errors.js';
import { mapLimit } from '../concurrency.js';
import type { Pass } from '../pass.js';
import type { Binding } from '../plan.js';
import type { SecretValue } from '../ports/source.js';
import type { BindingResult } from '../types.js';
import { fetchValues, type Reads, VERSION_CHECK_CONCURRENCY } from './fetch.js';
import { errorOf, failSource, type SourceEntry } from './report.js';
import { applyBindings } from './write.js';

/** Re-applies after a concurrent newer version, at most this often per pass (then the next pass repairs it). */
const MAX_SETTLE_ROUNDS = 3;

/** The results and source entries of a pass, and the notes settling adds. */
export interface Settled {
  results: BindingResult[];
  sources: SourceEntry[];
  notes: string[];
}

/**
 * EventBridge delivers two quick rotations to parallel invocations, and the one that read the older version can
 * write last. So after writing, check (DescribeSecret, no value) that each written secret is still at the version
 * read, and apply again when it moved on. The last writer always checks, so concurrent passes end on the newest.
 * A read older than the event's version (an eventually consistent read) is checked the same way. What cannot be
 * confirmed (the check failed, or the secret kept moving) fails its bindings, so that the platform retries.
 *
 * In: the bindings applied, the values they were written from, and the results and source entries so far. Out:
 * new results (re-applied bindings merged in, unconfirmed ones failed), the source entries with the versions
 * synced, and the notes it adds; nothing it is given is modified.
 */
export async function settle(
  pass: Pass,
  bindings: Binding[],
  read: Reads,
  written: Settled,
  announced: ReadonlyMap<string, string>,
): Promise<Settled> {
  const { source } = pass;
  const values = new Map(read.values);
  const report: Settled = {
    results: written.results.map((r) => ({ ...r })),
    sources: written.sources.map((s) => ({ ...s })),
    notes: [],
  };
  let pending = [
    ...new Set(
      report.results
        .filter(
          (r) =>
            r.action === 'created' ||
            r.action === 'updated' ||
            (announced.has(r.source) && values.get(r.source)?.versionId !== announced.get(r.source)),
        )
        .map((r) => r.source),
    ),
  ].filter((id) => values.has(id));
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
          report.results,
          check.id,
          `could not confirm that "${check.id}" is still at version ${check.read}, the one read: ${check.failure}`,
        );
      }
    }
    const moved = checks.filter((c) => c.moved === true).map((c) => c.id);
    if (moved.length === 0) return report;
    if (round === MAX_SETTLE_ROUNDS) {
      for (const check of checks.filter((c) => c.moved === true)) {
        failSource(
          report.results,
          check.id,
          `AWSCURRENT of "${check.id}" is version ${check.current}, not ${check.read} as synced (it kept moving, or reads lagged behind); the retry syncs the current one`,
        );
      }
      return report;
    }
    // The values only: their source entries are updated below.
    const fresh = await fetchValues(
      pass,
      bindings.filter((b) => moved.includes(b.fetchId)),
      new Map(),
    );
    for (const id of moved) {
      const value = fresh.values.get(id);
      if (value === undefined) {
        const failure = fresh.failures.get(id);
        const reason = failure === undefined ? 'no value returned' : errorOf(failure).message;
        failSource(report.results, id, `"${id}" moved to a newer version that could not be read: ${reason}`);
        continue;
      }
      values.set(id, value);
      const entry = report.sources.find((s) => s.id === id);
      if (entry !== undefined) entry.versionId = value.versionId;
      report.notes.push(`secret "${id}" moved to version ${value.versionId} during the pass; synced that`);
    }
    pending = moved.filter((id) => fresh.values.has(id));
    const again = await applyBindings(
      pass,
      bindings.filter((b) => pending.includes(b.fetchId)),
      { values, failures: new Map(), gone: new Set() },
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
  return report;
}
