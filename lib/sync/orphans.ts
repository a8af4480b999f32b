/**
 * Orphans: Secrets we wrote for a selector source (`namePrefix`, `tags`) whose source secret no longer matches it
 * (a tag removed, the secret renamed or deleted). No event announces that, so reconcile looks for them: it lists our
 * managed Secrets (metadata only) where selector syncs write, and applies the deletion policy to those whose source
 * Secrets Manager confirms gone or no longer matching. Anything it cannot confirm is left alone.
 */
import type { Config, SourceConfig } from '../config/index.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, SOURCE_ANNOTATION, secretNameFor } from '../domain/names.js';
import { isSecretArn, nameFromArn } from '../domain/secret-id.js';
import { toSyncError } from '../errors.js';
import { groupBy, mapLimit } from './concurrency.js';
import type { Binding } from './plan.js';
import type { KubeApi, SecretMetadata } from './ports/kube.js';
import type { SecretRef, SecretSource } from './ports/source.js';
import type { BindingResult, SyncReport } from './types.js';

type Selector = Exclude<SourceConfig, { secret: string }>;

export interface OrphanContext {
  config: Config;
  source: SecretSource;
  /** The cluster's API handle, bounded like the rest of the pass. */
  connect(cluster: string): Promise<KubeApi>;
  /** Every binding planned in this pass (conflicting ones too): a Secret one of them names is never an orphan. */
  planned: readonly Binding[];
  dryRun: boolean;
  report: SyncReport;
  warn(message: string, attributes: Record<string, unknown>): void;
}

/** `arn:aws:secretsmanager:<region>:<account>:secret:`, the part that says whose secret it is. */
function scopeOf(arn: string): string {
  return arn.slice(0, arn.indexOf(':secret:') + ':secret:'.length);
}

function matches(selector: Selector, ref: SecretRef): boolean {
  const prefixOk = !('namePrefix' in selector) || ref.name.startsWith(selector.namePrefix);
  return prefixOk && Object.entries(selector.tags ?? {}).every(([k, v]) => ref.tags[k] === v);
}

interface Place {
  cluster: string;
  namespace: string;
  /** The selector syncs writing here, with their deletion policy. */
  syncs: Array<{ selector: Selector; deletionPolicy: 'retain' | 'delete' }>;
}

/** What Secrets Manager says of an orphan candidate's source: why it is an orphan, or undefined when it is not. */
type Verdict = { orphan: true; reason: string } | { orphan: false };

/**
 * Finds and handles the orphans of every selector sync whose listing succeeded in this pass. Results are
 * `orphaned` (retain) or `deleted`; a failed delete is `failed`. Listing failures are notes, not failures.
 */
export async function reconcileOrphans(ctx: OrphanContext): Promise<BindingResult[]> {
  const { config, report } = ctx;
  const places = new Map<string, Place>();
  for (const sync of config.syncs) {
    if ('secret' in sync.source) continue;
    // An unlisted selector would make every Secret it wrote look orphaned.
    const key = `selector ${JSON.stringify({ ...sync.source })}`;
    if (report.sources.some((s) => s.id === key && s.error !== undefined)) continue;
    for (const target of sync.targets) {
      for (const cluster of target.clusters) {
        for (const namespace of target.namespaces) {
          const id = `${cluster}/${namespace}`;
          const place = places.get(id) ?? { cluster, namespace, syncs: [] };
          place.syncs.push({
            selector: sync.source,
            deletionPolicy: sync.deletionPolicy ?? config.defaults.deletionPolicy,
          });
          places.set(id, place);
        }
      }
    }
  }
  if (places.size === 0) return [];

  const written = new Set(ctx.planned.map((b) => `${b.cluster}/${b.namespace}/${b.secret}`));
  // Secrets of this account and region, as Secrets Manager named them in this pass.
  const scopes = new Set<string>();
  for (const s of report.sources) if (s.arn !== undefined) scopes.add(scopeOf(s.arn));
  for (const b of ctx.planned) if (isSecretArn(b.fetchId)) scopes.add(scopeOf(b.fetchId));

  // One ListSecrets per candidate source (by name: also finds a secret that lost its tags), shared across places.
  const lookups = new Map<string, Promise<SecretRef[]>>();
  const lookup = (name: string) => {
    let refs = lookups.get(name);
    if (refs === undefined) {
      refs = ctx.source.list({ namePrefix: name });
      lookups.set(name, refs);
    }
    return refs;
  };

  const judge = async (place: Place, arn: string, name: string): Promise<Verdict> => {
    const refs = await lookup(name);
    for (const ref of refs) scopes.add(scopeOf(ref.arn));
    const found = refs.find((ref) => ref.arn === arn);
    if (found !== undefined) {
      // Listed by its selector a moment ago, or matching another selector writing here: not an orphan.
      if (place.syncs.some((s) => matches(s.selector, found))) return { orphan: false };
      return { orphan: true, reason: `source secret "${name}" no longer matches the selector` };
    }
    // Not ours to judge: a secret of another account or region (another deployment may write here).
    if (!scopes.has(scopeOf(arn))) return { orphan: false };
    return { orphan: true, reason: `source secret "${name}" was deleted (or is scheduled for deletion)` };
  };

  const handle = async (api: KubeApi, place: Place, secret: SecretMetadata): Promise<BindingResult | undefined> => {
    const arn = secret.annotations[SOURCE_ANNOTATION];
    if (arn === undefined || !isSecretArn(arn) || secret.labels[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return;
    const name = nameFromArn(arn);
    // Selector targets always derive the Secret's name from the source's: anything else was not written by one.
    if (name === undefined || secretNameFor(name) !== secret.name) return;
    if (written.has(`${place.cluster}/${place.namespace}/${secret.name}`)) return;
    const inScope = place.syncs.filter((s) => !('namePrefix' in s.selector) || name.startsWith(s.selector.namePrefix));
    if (inScope.length === 0) return;
    const base = {
      cluster: place.cluster,
      namespace: place.namespace,
      secret: secret.name,
      source: arn,
      restarted: [],
      ...(ctx.dryRun ? { dryRun: true } : {}),
    };
    let verdict: Verdict;
    try {
      verdict = await judge(place, arn, name);
    } catch (error) {
      report.notes.push(
        `orphan check of Secret ${place.namespace}/${secret.name} in cluster "${place.cluster}" skipped: ${toSyncError(error).message}`,
      );
      return;
    }
    if (!verdict.orphan) return;
    if (!inScope.every((s) => s.deletionPolicy === 'delete')) {
      return { ...base, action: 'orphaned', notes: [`${verdict.reason}; Secret kept (deletionPolicy retain)`] };
    }
    try {
      if (!ctx.dryRun) {
        await api.deleteSecret(place.namespace, secret.name, {
          uid: secret.uid,
          resourceVersion: secret.resourceVersion,
        });
      }
      return { ...base, action: 'deleted', notes: [`${verdict.reason}; Secret deleted (deletionPolicy delete)`] };
    } catch (error) {
      const failure = toSyncError(error);
      return { ...base, action: 'failed', error: { code: failure.code, message: failure.message } };
    }
  };

  const byCluster = [...groupBy([...places.values()], (p) => p.cluster)];
  const perCluster = await mapLimit(byCluster, config.defaults.clusterConcurrency, async ([cluster, list]) => {
    let api: KubeApi;
    try {
      api = await ctx.connect(cluster);
    } catch (error) {
      // The cluster's bindings already failed with this; the orphan check waits for the next reconcile.
      ctx.warn('orphan check skipped: cluster unavailable', { cluster, error: toSyncError(error).message });
      return [];
    }
    const perPlace = await Promise.all(
      list.map(async (place) => {
        let secrets: SecretMetadata[];
        try {
          secrets = await api.listManagedSecrets(place.namespace);
        } catch (error) {
          const failure = toSyncError(error);
          const hint =
            failure.code === 'Forbidden'
              ? ' (the sync identity may not list Secrets there: bind the eks-secret-sync-list ClusterRole, deploy/rbac.yaml)'
              : '';
          report.notes.push(
            `orphan check skipped in namespace "${place.namespace}" of cluster "${cluster}": ${failure.message}${hint}`,
          );
          ctx.warn('orphan check skipped', { cluster, namespace: place.namespace, code: failure.code });
          return [];
        }
        const results = await Promise.all(secrets.map((secret) => handle(api, place, secret)));
        return results.filter((r): r is BindingResult => r !== undefined);
      }),
    );
    return perPlace.flat();
  });
  return perCluster.flat();
}
