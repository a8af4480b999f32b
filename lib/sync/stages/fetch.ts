/** Reading the source secrets of a pass, and confirming a deletion before the deletion policy applies. */
import type { SyncRequest } from '../../domain/request.js';
import { SyncError, toSyncError } from '../../errors.js';
import { mapLimit } from '../concurrency.js';
import type { Pass } from '../pass.js';
import type { Binding } from '../plan.js';
import type { SecretValue } from '../ports/source.js';
import type { BindingResult } from '../types.js';
import { baseResult, errorOf, type SourceEntry } from './report.js';

/** DescribeSecret calls in flight while checking versions or deletions. */
export const VERSION_CHECK_CONCURRENCY = 8;

/** A pass's reads, checked once: the later stages look ids up here and never test a value for an error again. */
export interface Reads {
  values: ReadonlyMap<string, SecretValue>;
  /** Every id whose read failed, with its error (also the ones in `gone`). */
  failures: ReadonlyMap<string, Error>;
  /** Sources that no longer exist: their bindings follow the deletion policy instead of a sync. */
  gone: ReadonlySet<string>;
}

/** The reads, the report's source entries for them, and notes. */
export interface Fetched extends Reads {
  sources: SourceEntry[];
  notes: string[];
}

/** The reads of a DeleteSecret pass: nothing is read, every confirmed binding's source is gone. */
export function goneReads(bindings: readonly Binding[]): Reads {
  return { values: new Map(), failures: new Map(), gone: new Set(bindings.map((b) => b.fetchId)) };
}

/**
 * Reads each distinct source secret of `bindings` once at AWSCURRENT (the adapter batches several). `announced`
 * holds the versions the events announced, by fetch id: a note says when AWSCURRENT has moved past one.
 */
export async function fetchValues(
  pass: Pass,
  bindings: Binding[],
  announced: ReadonlyMap<string, string>,
  pinned: ReadonlyMap<string, string> = new Map(),
): Promise<Fetched> {
  const { request } = pass;
  const ids = [...new Set(bindings.map((b) => b.fetchId))];
  const read = await readPinned(pass, ids, pinned);
  const values = new Map<string, SecretValue>();
  const failures = new Map<string, Error>();
  const gone = new Set<string>();
  const sources: SourceEntry[] = [];
  const notes: string[] = [];
  for (const id of ids) {
    const value = read.get(id);
    if (value === undefined || value instanceof Error) {
      if (value !== undefined) failures.set(id, value);
      if (sourceGone(request, value)) {
        gone.add(id);
        sources.push({ id, deleted: true });
      } else {
        sources.push({ id, error: errorOf(value ?? new Error('no value returned')) });
      }
      continue;
    }
    values.set(id, value);
    sources.push({ id, arn: value.arn, versionId: value.versionId });
    const versionId = announced.get(id);
    if (versionId !== undefined && value.versionId !== versionId) {
      notes.push(`event version ${versionId} of "${id}" is no longer AWSCURRENT; synced version ${value.versionId}`);
    }
  }
  return { values, failures, gone, sources, notes };
}

/**
 * Reads `ids`: a work item's secrets by the version it was planned with (GetSecretValue by VersionId), the rest at
 * AWSCURRENT. A pinned version that is no longer AWSCURRENT (rotated again since) or gone is read at AWSCURRENT
 * instead, so a late item never writes an older value than the inline pass would.
 */
async function readPinned(
  pass: Pass,
  ids: readonly string[],
  pinned: ReadonlyMap<string, string>,
): Promise<Map<string, SecretValue | Error>> {
  const read = new Map<string, SecretValue | Error>();
  const byVersion = ids.filter((id) => pinned.has(id));
  const values = await mapLimit(byVersion, VERSION_CHECK_CONCURRENCY, async (id) => {
    try {
      return await pass.source.readVersion(id, pinned.get(id) as string);
    } catch (error) {
      return toSyncError(error);
    }
  });
  byVersion.forEach((id, i) => {
    const value = values[i];
    if (value !== undefined && !(value instanceof Error) && value.versionStages.includes('AWSCURRENT')) {
      read.set(id, value);
    } else if (value instanceof SyncError && value.code !== 'SecretNotFound') {
      read.set(id, value);
    }
  });
  const rest = ids.filter((id) => !read.has(id));
  if (rest.length > 0) for (const [id, value] of await pass.source.read(rest)) read.set(id, value);
  return read;
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
 * A DeleteSecret event can arrive late (after RestoreSecret) or be replayed: the deletion policy applies only to a
 * secret that Secrets Manager confirms gone (not found, or scheduled for deletion). The other bindings are
 * `unchanged` with a note, or `failed` when the check itself failed (the retry checks again).
 */
export async function confirmDeleted(
  pass: Pass,
  bindings: Binding[],
): Promise<{ bindings: Binding[]; results: BindingResult[] }> {
  const ids = [...new Set(bindings.map((b) => b.fetchId))];
  const checks = await mapLimit(ids, VERSION_CHECK_CONCURRENCY, async (id) => {
    try {
      const ref = await pass.source.describe(id);
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
        notes: ['DeleteSecret event, but the source secret exists and is not scheduled for deletion; nothing deleted'],
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
