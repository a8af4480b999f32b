/**
 * release: ends the hold on a version after a failed wave (README "Waves"), by removing the hold annotation from the
 * Secrets of the selected secrets' waves, each only while it still carries the value read. Nothing else is written:
 * the next pass (reconcile, a backfill, a continuation) evaluates the gate again and continues the waves.
 */
import { HOLD_ANNOTATION } from '../domain/names.js';
import type { ErrorCode } from '../errors.js';
import { groupBy, mapLimit } from './concurrency.js';
import { type Hold, holdOf } from './hold.js';
import type { Pass } from './pass.js';
import { type Binding, planBindings } from './plan.js';
import { errorOf } from './stages/report.js';
import { checkRequest, resolveSecrets } from './stages/resolve.js';

/** What to release: the holds of these secrets (by name or ARN), optionally in these clusters and namespaces only. */
export interface ReleaseRequest {
  secrets: string[];
  clusters?: string[];
  namespaces?: string[];
}

/** One Secret whose hold was removed, or could not be looked at. */
export interface ReleasedHold {
  cluster: string;
  namespace: string;
  secret: string;
  source: string;
  hold?: Hold;
  error?: { code: ErrorCode; message: string };
}

export interface ReleaseReport {
  /** The Secrets whose hold was removed. */
  released: ReleasedHold[];
  /** The Secrets that could not be read or patched: a hold left there still holds the version. */
  failed: ReleasedHold[];
  /** Secrets of waves looked at (the first wave's carry the hold; the others are looked at for a changed order). */
  checked: number;
  notes: string[];
  durationMs: number;
}

/** Releases the holds of `pass.request`'s secrets; throws InputError for filters that name nothing configured. */
export async function releaseHolds(pass: Pass): Promise<ReleaseReport> {
  const { config, request } = pass;
  const started = pass.now().getTime();
  checkRequest(config, request);
  const resolved = await resolveSecrets(pass);
  const bindings = planBindings(config, resolved.resolved, request).filter((b) => b.wave !== undefined);
  const report: ReleaseReport = {
    released: [],
    failed: [],
    checked: bindings.length,
    notes: [...resolved.notes],
    durationMs: 0,
  };
  if (bindings.length === 0) report.notes.push('no Secret of these secrets is in a sync with rollout.waves');
  const byCluster = [...groupBy(bindings, (b) => b.cluster)];
  await mapLimit(byCluster, config.defaults.clusterConcurrency, async ([cluster, list]) => {
    const rows = await Promise.all(list.map((binding) => releaseOne(pass, cluster, binding)));
    for (const row of rows) {
      if (row === undefined) continue;
      if (row.error === undefined) report.released.push(row);
      else report.failed.push(row);
    }
  });
  const order = (r: ReleasedHold) => `${r.cluster}/${r.namespace}/${r.secret}`;
  report.released.sort((a, b) => order(a).localeCompare(order(b)));
  report.failed.sort((a, b) => order(a).localeCompare(order(b)));
  for (const source of resolved.sources) {
    if (source.error !== undefined) report.notes.push(`secret "${source.id}": ${source.error.message}`);
  }
  report.durationMs = pass.now().getTime() - started;
  return report;
}

async function releaseOne(pass: Pass, cluster: string, binding: Binding): Promise<ReleasedHold | undefined> {
  const row: ReleasedHold = {
    cluster,
    namespace: binding.namespace,
    secret: binding.secret,
    source: binding.fetchId,
  };
  try {
    const api = await pass.connect(cluster);
    const secret = await api.getSecretMetadata(binding.namespace, binding.secret);
    const value = secret?.annotations[HOLD_ANNOTATION];
    if (secret === undefined || value === undefined) return undefined;
    const hold = holdOf(secret.annotations);
    if (hold !== undefined) row.hold = hold;
    // False: removed or replaced meanwhile (a newer version superseded it, or another release): nothing held here.
    const cleared = await api.clearSecretAnnotation(binding.namespace, binding.secret, HOLD_ANNOTATION, value);
    return cleared ? row : undefined;
  } catch (error) {
    return { ...row, error: errorOf(error) };
  }
}
