/**
 * Fleet-scale passes (README "Fleet scale: work items"). A pass over more clusters than one invocation can work
 * through is planned here and enqueued as work items, one per group of clusters; each worker runs the same engine
 * over its clusters with the secrets already resolved, so idempotency, restart-once, the deadline and the identity
 * rules are the inline pass's own. Items carry secret ids and version ids, never a value.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config/index.js';
import { WORK_ITEM_TYPE, type WorkContext, type WorkItem, type WorkSecret } from '../domain/work-item.js';
import { mapLimit } from './concurrency.js';
import type { PassRequest } from './pass.js';
import type { Binding, ResolvedSecret } from './plan.js';
import type { SecretSource } from './ports/source.js';
import { errorOf, type SourceEntry } from './stages/report.js';

const hashes = new WeakMap<Config, string>();

/** A fingerprint of the configuration: a worker on another one (a deploy in between) resolves the ids again. */
export function configHash(config: Config): string {
  let hash = hashes.get(config);
  if (hash === undefined) {
    hash = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
    hashes.set(config, hash);
  }
  return hash;
}

/** Whether a pass is queued, and if not because of what (a note), for a pass whose bindings are planned. */
export function fanoutDecision(
  config: Config,
  request: PassRequest,
  bindings: readonly Binding[],
  hasQueue: boolean,
): { queue: boolean; note?: string } {
  const { mode, threshold } = config.defaults.fanout;
  if (mode === 'inline' || request.work !== undefined || bindings.length === 0) return { queue: false };
  const clusters = new Set(bindings.map((b) => b.cluster)).size;
  if (mode === 'auto' && clusters <= threshold) return { queue: false };
  const why = mode === 'queue' ? 'fanout: queue' : `${clusters} clusters (fanout threshold ${threshold})`;
  // Waves gate later clusters on earlier ones within one pass; dry runs and deletions report everything at once.
  if (bindings.some((b) => b.wave !== undefined))
    return { queue: false, note: `${why}, but a sync has waves: ran inline` };
  if (request.dryRun) return { queue: false, note: `${why}, but a dry run: ran inline` };
  if (request.deleted) return { queue: false, note: `${why}, but a deletion: ran inline` };
  if (!hasQueue) return { queue: false, note: `${why}, but no work queue here: ran inline` };
  return { queue: true };
}

/** The resolved secrets of a work item, by sync index, as the resolve stage gives them. */
export function resolvedOf(work: WorkContext): Map<number, ResolvedSecret[]> {
  const resolved = new Map<number, ResolvedSecret[]>();
  for (const { sync, fetchId, name } of work.secrets) {
    resolved.set(sync, [...(resolved.get(sync) ?? []), { fetchId, name }]);
  }
  return resolved;
}

/** The versions a work item pins, by fetch id. */
export function pinnedOf(work: WorkContext | undefined): Map<string, string> {
  const pinned = new Map<string, string>();
  for (const s of work?.secrets ?? []) if (s.versionId !== undefined) pinned.set(s.fetchId, s.versionId);
  return pinned;
}

/** The planned work: items, and the source entries of the version lookups (errors included). */
export interface PlannedWork {
  items: WorkItem[];
  sources: SourceEntry[];
  clusters: number;
  bindings: number;
}

/**
 * Splits `bindings` into work items of `clustersPerItem` clusters each (clusters in name order), with the AWSCURRENT
 * version of each secret from DescribeSecret (no value read). A secret whose version cannot be looked up is left
 * out, with its error as a source entry: the pass fails and is retried.
 */
export async function planWork(
  config: Config,
  request: PassRequest,
  source: SecretSource,
  bindings: readonly Binding[],
  resolved: ReadonlyMap<number, ResolvedSecret[]>,
  everything: boolean,
): Promise<PlannedWork> {
  const ids = [...new Set(bindings.map((b) => b.fetchId))];
  const looked = await mapLimit(ids, 8, async (id) => {
    try {
      return await source.currentVersionId(id);
    } catch (error) {
      return errorOf(error);
    }
  });
  const versions = new Map<string, string | undefined>();
  const sources: SourceEntry[] = [];
  ids.forEach((id, i) => {
    const v = looked[i];
    if (typeof v === 'object') sources.push({ id, error: v });
    else {
      versions.set(id, v);
      sources.push({ id, ...(v === undefined ? {} : { versionId: v }) });
    }
  });
  const usable = bindings.filter((b) => versions.has(b.fetchId));
  const clusters = [...new Set(usable.map((b) => b.cluster))].sort();
  const size = config.defaults.fanout.clustersPerItem;
  const groups: string[][] = [];
  for (let i = 0; i < clusters.length; i += size) groups.push(clusters.slice(i, i + size));
  const hash = configHash(config);
  const items: WorkItem[] = groups.map((group, index) => {
    const inGroup = new Set(usable.filter((b) => group.includes(b.cluster)).map((b) => b.fetchId));
    const secrets: WorkSecret[] = [];
    for (const [sync, list] of resolved) {
      for (const secret of list) {
        if (!inGroup.has(secret.fetchId)) continue;
        const versionId = versions.get(secret.fetchId);
        secrets.push({ sync, ...secret, ...(versionId === undefined ? {} : { versionId }) });
      }
    }
    return {
      type: WORK_ITEM_TYPE,
      correlationId: request.pass,
      item: index + 1,
      items: groups.length,
      trigger: request.trigger,
      restart: request.restart,
      clusters: group,
      ...(request.namespaces === undefined ? {} : { namespaces: request.namespaces }),
      secrets,
      everything,
      configHash: hash,
      ...(request.origin === undefined ? {} : { origin: request.origin }),
    };
  });
  return { items, sources, clusters: clusters.length, bindings: usable.length };
}
