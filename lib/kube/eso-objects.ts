/**
 * Reads External Secrets Operator objects (ExternalSecret, SecretStore, ClusterSecretStore) from a cluster, for
 * `import --context`. ESO serves `external-secrets.io/v1` (and, in older releases, only `v1beta1`): v1 is asked
 * first, v1beta1 when the server does not know v1. Read only; the objects hold references, never secret values.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { InputError } from '../errors.js';
import { statusCode, translateKubeError } from './errors.js';

const GROUP = 'external-secrets.io';
const VERSIONS = ['v1', 'v1beta1'];

const RESOURCES = [
  { kind: 'SecretStore', plural: 'secretstores', namespaced: true },
  { kind: 'ClusterSecretStore', plural: 'clustersecretstores', namespaced: false },
  { kind: 'ExternalSecret', plural: 'externalsecrets', namespaced: true },
] as const;

/** One object as the API server returned it, with its apiVersion and kind set (list items may omit them). */
export interface EsoObject {
  kind: string;
  namespace?: string;
  name: string;
  body: Record<string, unknown>;
}

/**
 * Every ESO object the context sees, stores first, each kind sorted by namespace and name (a stable order).
 * `namespace` limits the namespaced kinds to one namespace. Throws SyncError (status and reason only) when the
 * cluster cannot be read, and InvalidInput when it serves no ExternalSecret API at all.
 */
export async function listEsoObjects(kc: KubeConfig, cluster: string, namespace?: string): Promise<EsoObject[]> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const objects: EsoObject[] = [];
  for (const resource of RESOURCES) {
    let items: Array<Record<string, unknown>> | undefined;
    let version: string | undefined;
    for (const v of VERSIONS) {
      try {
        const list = (
          resource.namespaced && namespace !== undefined
            ? await api.listNamespacedCustomObject({ group: GROUP, version: v, namespace, plural: resource.plural })
            : await api.listClusterCustomObject({ group: GROUP, version: v, plural: resource.plural })
        ) as { items?: Array<Record<string, unknown>> };
        items = list.items ?? [];
        version = v;
        break;
      } catch (error) {
        if (statusCode(error) === 404) continue;
        throw translateKubeError(
          cluster,
          { verb: 'list', resource: resource.plural, namespace: namespace ?? '(all)' },
          error,
        );
      }
    }
    if (items === undefined) {
      if (resource.kind === 'ExternalSecret') {
        throw new InputError(
          'InvalidInput',
          `cluster "${cluster}" serves no ${GROUP} ExternalSecret API (v1 or v1beta1)`,
        );
      }
      continue;
    }
    const named = items.map((item) => {
      const metadata = (item.metadata ?? {}) as { name?: string; namespace?: string };
      return {
        kind: resource.kind,
        name: metadata.name ?? '',
        ...(metadata.namespace === undefined ? {} : { namespace: metadata.namespace }),
        body: { ...item, apiVersion: `${GROUP}/${version}`, kind: resource.kind },
      };
    });
    const order = (o: { namespace?: string; name: string }) => `${o.namespace ?? ''}/${o.name}`;
    named.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
    objects.push(...named);
  }
  return objects;
}
