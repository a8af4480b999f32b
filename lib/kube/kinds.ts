/**
 * The per-kind table of workloads (Deployment, StatefulSet, DaemonSet): how each is listed and patched with
 * @kubernetes/client-node, and how its objects become the port's `Workload` (Secret references only).
 */
import type {
  AppsV1Api,
  setHeaderOptions,
  V1DaemonSet,
  V1Deployment,
  V1PodSpec,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { ContainerRefs, PodSpecRefs, Workload, WorkloadKind } from '../sync/ports/kube.js';

/** Page size for lists: bounded memory and response size on namespaces with many objects. */
export const LIST_PAGE_SIZE = 250;

export type WorkloadObject = V1Deployment | V1StatefulSet | V1DaemonSet;

/** One row per workload kind, so the rest of the adapter never switches on the kind. */
export interface KindOps {
  resource: string;
  list(namespace: string, cont: string | undefined): Promise<{ items: WorkloadObject[]; cont: string | undefined }>;
  patch(namespace: string, name: string, body: object, contentType: PatchContentType): Promise<unknown>;
}

type PatchContentType = ReturnType<typeof setHeaderOptions>;

/** The list and patch calls of each kind, patches written as `fieldManager`. */
export function workloadKinds(apps: AppsV1Api, fieldManager: string): Record<WorkloadKind, KindOps> {
  return {
    Deployment: {
      resource: 'deployments',
      list: async (namespace, cont) => {
        const page = await apps.listNamespacedDeployment({ namespace, limit: LIST_PAGE_SIZE, _continue: cont });
        return { items: page.items, cont: page.metadata?._continue || undefined };
      },
      patch: (namespace, name, body, contentType) =>
        apps.patchNamespacedDeployment({ namespace, name, body, fieldManager }, contentType),
    },
    StatefulSet: {
      resource: 'statefulsets',
      list: async (namespace, cont) => {
        const page = await apps.listNamespacedStatefulSet({ namespace, limit: LIST_PAGE_SIZE, _continue: cont });
        return { items: page.items, cont: page.metadata?._continue || undefined };
      },
      patch: (namespace, name, body, contentType) =>
        apps.patchNamespacedStatefulSet({ namespace, name, body, fieldManager }, contentType),
    },
    DaemonSet: {
      resource: 'daemonsets',
      list: async (namespace, cont) => {
        const page = await apps.listNamespacedDaemonSet({ namespace, limit: LIST_PAGE_SIZE, _continue: cont });
        return { items: page.items, cont: page.metadata?._continue || undefined };
      },
      patch: (namespace, name, body, contentType) =>
        apps.patchNamespacedDaemonSet({ namespace, name, body, fieldManager }, contentType),
    },
  };
}

export function toWorkload(kind: WorkloadKind, namespace: string, item: WorkloadObject): Workload {
  const template = item.spec?.template;
  return {
    kind,
    namespace: item.metadata?.namespace ?? namespace,
    name: item.metadata?.name ?? '',
    // Only Deployments can be paused; the field does not exist on the other kinds.
    paused: kind === 'Deployment' ? ((item as V1Deployment).spec?.paused ?? false) : false,
    annotations: item.metadata?.annotations ?? {},
    templateAnnotations: template?.metadata?.annotations ?? {},
    podSpec: toPodSpecRefs(template?.spec),
    resourceVersion: item.metadata?.resourceVersion ?? '',
  };
}

/** Copies only the Secret references: the rest of a pod spec (env values included) stays out of our objects. */
function toPodSpecRefs(spec: V1PodSpec | undefined): PodSpecRefs {
  if (spec === undefined) return {};
  const refs: PodSpecRefs = {};
  if (spec.containers !== undefined) refs.containers = spec.containers.map(toContainerRefs);
  if (spec.initContainers !== undefined) refs.initContainers = spec.initContainers.map(toContainerRefs);
  if (spec.volumes !== undefined) {
    refs.volumes = spec.volumes.map((volume) => ({
      ...(volume.secret === undefined ? {} : { secret: { secretName: volume.secret.secretName } }),
      ...(volume.projected === undefined
        ? {}
        : {
            projected: {
              sources: (volume.projected.sources ?? []).map((source) =>
                source.secret === undefined ? {} : { secret: { name: source.secret.name } },
              ),
            },
          }),
    }));
  }
  return refs;
}

function toContainerRefs(container: V1PodSpec['containers'][number]): ContainerRefs {
  const refs: ContainerRefs = {};
  if (container.env !== undefined) {
    refs.env = container.env.map((env) => {
      const secretName = env.valueFrom?.secretKeyRef?.name;
      return env.valueFrom?.secretKeyRef === undefined ? {} : { valueFrom: { secretKeyRef: { name: secretName } } };
    });
  }
  if (container.envFrom !== undefined) {
    refs.envFrom = container.envFrom.map((source) =>
      source.secretRef === undefined ? {} : { secretRef: { name: source.secretRef.name } },
    );
  }
  return refs;
}
