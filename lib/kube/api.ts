/**
 * `KubeApi` implemented with @kubernetes/client-node 2.x (CoreV1Api for Secrets, AppsV1Api for workloads, one row
 * per kind in `kinds.ts`). Every API error is translated into a SyncError by `errors.ts`, naming verb, resource,
 * namespace and cluster; request bodies (Secret data) never reach a message.
 */
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type EventsV1Event,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  type V1Secret,
} from '@kubernetes/client-node';
import {
  CHANGE_CAUSE_ANNOTATION,
  FIELD_MANAGER,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  REPORTING_CONTROLLER,
} from '../domain/names.js';
import { SyncError } from '../errors.js';
import type {
  ChangeCause,
  KubeApi,
  KubeEvent,
  KubeSecret,
  KubeSecretWrite,
  SecretMetadata,
  Workload,
} from '../sync/ports/kube.js';
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
  const events = kc.makeApiClient(EventsV1Api);
  // Generated patch methods default to JSON Patch; an object body needs the content type set per call
  // (https://github.com/kubernetes-client/javascript/issues/2160).
  const strategicMergePatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
  const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  // Lists as PartialObjectMetadataList: the API server sends names, labels and annotations, never Secret data.
  const metadataOnly = setHeaderOptions('Accept', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1');
  // The same for one object: a PartialObjectMetadata, whose body has no `data`.
  const oneMetadataOnly = setHeaderOptions('Accept', 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1');

  const kinds = workloadKinds(
    { apps, batch: kc.makeApiClient(BatchV1Api), custom: kc.makeApiClient(CustomObjectsApi) },
    fieldManager,
  );

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

    async getSecretMetadata(namespace, name) {
      const op = { verb: 'get', resource: 'secrets', namespace, name };
      try {
        const { metadata = {} } = await core.readNamespacedSecret({ namespace, name }, oneMetadataOnly);
        return {
          namespace: metadata.namespace ?? namespace,
          name: metadata.name ?? name,
          labels: metadata.labels ?? {},
          annotations: metadata.annotations ?? {},
          uid: metadata.uid ?? '',
          resourceVersion: metadata.resourceVersion ?? '',
        };
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
      const path = annotationPath(key);
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

    async annotateSecret(namespace, name, key, value, guard) {
      const op = { verb: 'patch', resource: 'secrets', namespace, name };
      const body = [
        { op: 'test', path: '/metadata/uid', value: guard.uid },
        ...Object.entries(guard.annotations).map(([k, v]) => ({ op: 'test', path: annotationPath(k), value: v })),
        // `add` on an existing member replaces it (RFC 6902).
        { op: 'add', path: annotationPath(key), value },
      ];
      try {
        await core.patchNamespacedSecret({ namespace, name, body, fieldManager }, jsonPatch);
        return true;
      } catch (error) {
        if (statusCode(error) === 404 || isFailedPatchTest(error)) return false;
        throw translateKubeError(cluster, op, error, opts.timeouts);
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
      const resource = ops.group === '' ? ops.resource : `${ops.resource}.${ops.group}`;
      const op = { verb: 'list', resource, namespace };
      const workloads: Workload[] = [];
      let cont: string | undefined;
      do {
        let page: Awaited<ReturnType<typeof ops.list>>;
        try {
          page = await ops.list(namespace, cont);
        } catch (error) {
          // A list in any namespace, even one that does not exist, answers 200; a 404 means no such resource.
          if (ops.group !== '' && statusCode(error) === 404) {
            throw new SyncError(
              'KindNotServed',
              `${resource} is not served in cluster "${cluster}" (its CustomResourceDefinition is not installed)`,
              { cause: error, status: 404 },
            );
          }
          throw translateKubeError(cluster, op, error, opts.timeouts);
        }
        for (const item of page.items) workloads.push(toWorkload(kind, namespace, item));
        cont = page.cont;
      } while (cont !== undefined);
      return workloads;
    },

    async patchTemplateAnnotations(namespace, kind, name, annotations, expected, changeCause, restartAt) {
      const ops = kinds[kind];
      const op = { verb: 'patch', resource: ops.resource, namespace, name };
      const path = ops.annotationsPath;
      // Where the annotations go is the workload's own metadata (a Rollout's), the change cause goes with them.
      const own = path === '/metadata/annotations';
      const cause = changeCause === undefined ? {} : { [CHANGE_CAUSE_ANNOTATION]: changeCause.text };
      const restart = restartAt === undefined ? undefined : toRfc3339(restartAt);
      if (expected === undefined) {
        const body = merge(
          nested(path, own ? { ...annotations, ...cause } : annotations),
          own || changeCause === undefined ? {} : { metadata: { annotations: cause } },
          restart === undefined ? {} : { spec: { restartAt: restart } },
        );
        const contentType = ops.objectPatch === 'merge' ? mergePatch : strategicMergePatch;
        await call(op, () => ops.patch(namespace, name, body, contentType));
        return;
      }
      // A JSON Patch whose `test` makes it conditional on the annotations we read, not on the whole object's
      // resourceVersion, which every controller status write moves. The API server never returns an empty map,
      // and `test` against null matches an absent one.
      const body = [
        { op: 'test', path, value: Object.keys(expected).length === 0 ? null : expected },
        { op: 'add', path, value: { ...expected, ...annotations, ...(own ? cause : {}) } },
        ...(changeCause === undefined || own ? [] : changeCauseOps(changeCause)),
        ...(restart === undefined ? [] : [{ op: 'add', path: '/spec/restartAt', value: restart }]),
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
    async recordEvent(event) {
      const { namespace, name } = event;
      try {
        await events.createNamespacedEvent({ namespace, body: toV1Event(event), fieldManager });
        return;
      } catch (error) {
        // AlreadyExists: an identical Event (the name is derived from its content) is counted into its series.
        if (statusCode(error) !== 409) {
          throw translateKubeError(cluster, { verb: 'create', resource: 'events', namespace, name }, error);
        }
      }
      for (let attempt = 1; ; attempt++) {
        const existing = await call({ verb: 'get', resource: 'events', namespace, name }, () =>
          events.readNamespacedEvent({ namespace, name }),
        );
        // A merge patch of the series alone (the rest of an Event is immutable), conditional on the resourceVersion
        // read so that two concurrent reporters do not count one occurrence each into the same number.
        const body = {
          metadata: { resourceVersion: existing.metadata?.resourceVersion },
          series: { count: (existing.series?.count ?? 1) + 1, lastObservedTime: new V1MicroTime(event.time) },
        };
        try {
          await events.patchNamespacedEvent({ namespace, name, body, fieldManager }, mergePatch);
          return;
        } catch (error) {
          if (statusCode(error) === 409 && attempt < MAX_SERIES_ATTEMPTS) continue;
          throw translateKubeError(cluster, { verb: 'patch', resource: 'events', namespace, name }, error);
        }
      }
    },
  };
}

/** Attempts at counting an Event into its series when concurrent reporters keep moving it. */
const MAX_SERIES_ATTEMPTS = 3;

/** JSON Pointer (RFC 6901) of one annotation: `~` escaped as `~0`, `/` as `~1`. */
function annotationPath(key: string): string {
  return `/metadata/annotations/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

/**
 * The JSON Patch operations setting the change cause on the workload's metadata. An absent annotations map is
 * added whole, only while still absent (`test` against null): replacing a map added meanwhile would drop its keys.
 */
function changeCauseOps(changeCause: ChangeCause): object[] {
  if (changeCause.annotationsExist) {
    return [{ op: 'add', path: annotationPath(CHANGE_CAUSE_ANNOTATION), value: changeCause.text }];
  }
  return [
    { op: 'test', path: '/metadata/annotations', value: null },
    { op: 'add', path: '/metadata/annotations', value: { [CHANGE_CAUSE_ANNOTATION]: changeCause.text } },
  ];
}

const API_VERSIONS: Record<KubeEvent['regarding']['kind'], string> = {
  Secret: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Rollout: 'argoproj.io/v1alpha1',
  CronJob: 'batch/v1',
};

/** RFC 3339 in whole seconds, as `metav1.Time` serializes (what `kubectl argo rollouts restart` writes). */
function toRfc3339(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The object `{ a: { b: { c: value } } }` of the JSON Pointer `/a/b/c`. */
function nested(pointer: string, value: object): Record<string, unknown> {
  return pointer
    .split('/')
    .slice(1)
    .reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), value as Record<string, unknown>);
}

/** A deep merge of plain objects (patch bodies built from parts). */
function merge(...parts: Array<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      const before = out[key];
      out[key] =
        typeof before === 'object' && before !== null && typeof value === 'object' && value !== null
          ? merge(before as Record<string, unknown>, value as Record<string, unknown>)
          : value;
    }
  }
  return out;
}

function toV1Event(event: KubeEvent): EventsV1Event {
  const { regarding } = event;
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: event.name, namespace: event.namespace },
    // MicroTime: the API server wants microseconds, which V1MicroTime's serialization gives.
    eventTime: new V1MicroTime(event.time),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: event.reportingInstance,
    action: event.action,
    reason: event.reason,
    type: event.type,
    note: event.note,
    regarding: {
      apiVersion: API_VERSIONS[regarding.kind],
      kind: regarding.kind,
      namespace: regarding.namespace,
      name: regarding.name,
      ...(regarding.uid === undefined || regarding.uid === '' ? {} : { uid: regarding.uid }),
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
