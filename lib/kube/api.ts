/**
 * `KubeApi` implemented with @kubernetes/client-node 2.x (CoreV1Api for Secrets, AppsV1Api for workloads, one row
 * per kind in `kinds.ts`). Every API error is translated into a SyncError by `errors.ts`, naming verb, resource,
 * namespace and cluster; request bodies (Secret data) never reach a message.
 */
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Secret,
} from '@kubernetes/client-node';
import { FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/names.js';
import { SyncError } from '../errors.js';
import type { KubeApi, KubeSecret, KubeSecretWrite, SecretMetadata, Workload } from '../sync/ports/kube.js';
import type { KubeTimeouts } from '../timeouts.js';
import { isFailedPatchTest, type KubeOperation, statusCode, translateKubeError } from './errors.js';
import { LIST_PAGE_SIZE, toWorkload, toWorkloadStatus, workloadKinds } from './kinds.js';

/** Our Secrets, for the orphan check (the label every Secret we write carries). */
const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/**
 * Builds the KubeApi of one cluster from its KubeConfig (one KubeConfig per cluster, built by lib/clusters, which
 * applies the timeouts; `timeouts` here only lets error messages say how long we waited).
 */
export function createKubeApi(
  cluster: string,
  kc: KubeConfig,
  opts: { fieldManager?: string; timeouts?: Readonly<KubeTimeouts> } = {},
): KubeApi {
  const fieldManager = opts.fieldManager ?? FIELD_MANAGER;
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  // Generated patch methods default to JSON Patch; an object body needs the content type set per call
  // (https://github.com/kubernetes-client/javascript/issues/2160).
  const strategicMergePatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
  const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  // Lists as PartialObjectMetadataList: the API server sends names, labels and annotations, never Secret data.
  const metadataOnly = setHeaderOptions('Accept', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1');

  const kinds = workloadKinds(apps, fieldManager);

  async function call<T>(op: KubeOperation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw translateKubeError(cluster, op, error, opts.timeouts);
    }
  }

  return {
    cluster,

    async getSecret(namespace, name) {
      const op = { verb: 'get', resource: 'secrets', namespace, name };
      try {
        return toKubeSecret(await core.readNamespacedSecret({ namespace, name }), namespace);
      } catch (error) {
        if (statusCode(error) === 404) return undefined;
        throw translateKubeError(cluster, op, error, opts.timeouts);
      }
    },

    async createSecret(secret) {
      const op = { verb: 'create', resource: 'secrets', namespace: secret.namespace, name: secret.name };
      const body = toV1Secret(secret);
      const created = await call(op, () =>
        core.createNamespacedSecret({ namespace: secret.namespace, body, fieldManager }),
      );
      return toKubeSecret(created, secret.namespace);
    },

    async replaceSecret(secret) {
      if (secret.resourceVersion === undefined) {
        // Without it the PUT would silently overwrite a concurrent write.
        throw new SyncError('Internal', `replaceSecret ${secret.namespace}/${secret.name} needs a resourceVersion`);
      }
      const op = { verb: 'update', resource: 'secrets', namespace: secret.namespace, name: secret.name };
      const body = toV1Secret(secret);
      const replaced = await call(op, () =>
        core.replaceNamespacedSecret({ namespace: secret.namespace, name: secret.name, body, fieldManager }),
      );
      return toKubeSecret(replaced, secret.namespace);
    },

    async deleteSecret(namespace, name, preconditions) {
      const op = { verb: 'delete', resource: 'secrets', namespace, name };
      try {
        // A failed precondition is a 409 Conflict: someone replaced or changed the Secret since we read it.
        const body = preconditions === undefined ? undefined : { preconditions };
        await core.deleteNamespacedSecret({ namespace, name, ...(body === undefined ? {} : { body }) });
      } catch (error) {
        if (statusCode(error) === 404) return;
        throw translateKubeError(cluster, op, error, opts.timeouts);
      }
    },

    async clearSecretAnnotation(namespace, name, key, expected) {
      const op = { verb: 'patch', resource: 'secrets', namespace, name };
      // JSON Pointer escaping (RFC 6901): `~` as `~0`, `/` as `~1`.
      const path = `/metadata/annotations/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      const body = [
        { op: 'test', path, value: expected },
        { op: 'remove', path },
      ];
      try {
        await core.patchNamespacedSecret({ namespace, name, body, fieldManager }, jsonPatch);
        return true;
      } catch (error) {
        // A failed `test` (another value, or none) is a bare 422 naming no object; a 404 means the Secret is gone.
        const code = statusCode(error);
        if (code === 404 || isFailedPatchTest(error)) return false;
        throw translateKubeError(cluster, op, error);
      }
    },

    async listManagedSecrets(namespace) {
      const op = { verb: 'list', resource: 'secrets', namespace };
      const found: SecretMetadata[] = [];
      let cont: string | undefined;
      do {
        const page = await call(op, () =>
          core.listNamespacedSecret(
            { namespace, labelSelector: MANAGED_SELECTOR, limit: LIST_PAGE_SIZE, _continue: cont },
            metadataOnly,
          ),
        );
        // A PartialObjectMetadataList without matches has no `items` at all.
        for (const item of page.items ?? []) {
          const metadata = item.metadata ?? {};
          found.push({
            namespace: metadata.namespace ?? namespace,
            name: metadata.name ?? '',
            labels: metadata.labels ?? {},
            annotations: metadata.annotations ?? {},
            uid: metadata.uid ?? '',
            resourceVersion: metadata.resourceVersion ?? '',
          });
        }
        cont = page.metadata?._continue || undefined;
      } while (cont !== undefined);
      return found;
    },

    async listWorkloads(namespace, kind) {
      const ops = kinds[kind];
      const op = { verb: 'list', resource: ops.resource, namespace };
      const workloads: Workload[] = [];
      let cont: string | undefined;
      do {
        const page = await call(op, () => ops.list(namespace, cont));
        for (const item of page.items) workloads.push(toWorkload(kind, namespace, item));
        cont = page.cont;
      } while (cont !== undefined);
      return workloads;
    },

    async patchTemplateAnnotations(namespace, kind, name, annotations, expected) {
      const ops = kinds[kind];
      const op = { verb: 'patch', resource: ops.resource, namespace, name };
      if (expected === undefined) {
        const body = { spec: { template: { metadata: { annotations } } } };
        await call(op, () => ops.patch(namespace, name, body, strategicMergePatch));
        return;
      }
      // A JSON Patch whose `test` makes it conditional on the template annotations we read, not on the whole
      // object's resourceVersion, which every controller status write moves. The API server never returns an
      // empty map, and `test` against null matches an absent one.
      const path = '/spec/template/metadata/annotations';
      const body = [
        { op: 'test', path, value: Object.keys(expected).length === 0 ? null : expected },
        { op: 'add', path, value: { ...expected, ...annotations } },
      ];
      try {
        await ops.patch(namespace, name, body, jsonPatch);
      } catch (error) {
        // A failed `test` is a bare 422 Invalid naming no object (validation errors name the workload): someone
        // changed the annotations since we read them.
        if (isFailedPatchTest(error)) {
          throw new SyncError(
            'Conflict',
            `${kind.toLowerCase()} "${namespace}/${name}" pod template annotations changed concurrently in cluster "${cluster}"`,
            { cause: error },
          );
        }
        throw translateKubeError(cluster, op, error, opts.timeouts);
      }
    },

    async readWorkloadStatus(namespace, kind, name) {
      const ops = kinds[kind];
      const op = { verb: 'get', resource: ops.resource, namespace, name };
      try {
        return toWorkloadStatus(kind, await ops.read(namespace, name));
      } catch (error) {
        if (statusCode(error) === 404) return undefined;
        throw translateKubeError(cluster, op, error, opts.timeouts);
      }
    },
  };
}

function toV1Secret(secret: KubeSecretWrite): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secret.name,
      namespace: secret.namespace,
      labels: secret.labels,
      annotations: secret.annotations,
      ...(secret.resourceVersion === undefined ? {} : { resourceVersion: secret.resourceVersion }),
    },
    type: secret.type,
    data: secret.data,
  };
}

function toKubeSecret(secret: V1Secret, namespace: string): KubeSecret {
  const metadata = secret.metadata ?? {};
  return {
    namespace: metadata.namespace ?? namespace,
    name: metadata.name ?? '',
    type: secret.type ?? 'Opaque',
    data: secret.data ?? {},
    labels: metadata.labels ?? {},
    annotations: metadata.annotations ?? {},
    immutable: secret.immutable ?? false,
    ownerKinds: (metadata.ownerReferences ?? []).map((ref) => ref.kind),
    resourceVersion: metadata.resourceVersion ?? '',
    uid: metadata.uid ?? '',
  };
}
