/** plan: configuration + resolved sources + request -> bindings. Pure, no I/O. */
import type { Config, TargetConfig, WavesConfig } from '../config/index.js';
import { secretNameFor } from '../domain/names.js';
import type { SyncRequest } from '../domain/request.js';

/** One source secret a sync covers in this pass. */
export interface ResolvedSecret {
  /** The id to read it by: the requested id for events/backfills, the configured id or listed ARN otherwise. */
  fetchId: string;
  /** Its Secrets Manager name, for the default Kubernetes Secret name. */
  name: string;
}

/** One Kubernetes Secret to keep in step with one source secret. */
export interface Binding {
  cluster: string;
  namespace: string;
  /** Kubernetes Secret name. */
  secret: string;
  fetchId: string;
  target: TargetConfig;
  deletionPolicy: 'retain' | 'delete';
  /**
   * The binding's wave (0-based) when its sync declares `rollout.waves`; `of` is that sync's rollout, `sync` its
   * index in `syncs` (continuation messages and logs name it).
   */
  wave?: { index: number; of: WavesConfig; sync: number };
}

/** Expands each sync's resolved secrets over its targets' clusters and namespaces, applying request filters. */
export function planBindings(
  config: Config,
  resolved: ReadonlyMap<number, ResolvedSecret[]>,
  request: SyncRequest,
): Binding[] {
  const bindings: Binding[] = [];
  config.syncs.forEach((sync, index) => {
    for (const source of resolved.get(index) ?? []) {
      for (const target of sync.targets) {
        for (const cluster of target.clusters) {
          if (request.clusters !== undefined && !request.clusters.includes(cluster)) continue;
          for (const namespace of target.namespaces) {
            if (request.namespaces !== undefined && !request.namespaces.includes(namespace)) continue;
            const wave = sync.rollout?.waves.findIndex((w) => w.includes(cluster)) ?? -1;
            bindings.push({
              cluster,
              namespace,
              secret: secretNameFor(source.name, target),
              fetchId: source.fetchId,
              target,
              deletionPolicy: sync.deletionPolicy ?? config.defaults.deletionPolicy,
              ...(sync.rollout !== undefined && wave >= 0
                ? { wave: { index: wave, of: sync.rollout, sync: index } }
                : {}),
            });
          }
        }
      }
    }
  });
  return bindings;
}
