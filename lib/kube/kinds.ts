/**
 * The per-kind table of workloads (Deployment, StatefulSet, DaemonSet): how each is listed, patched and read with
 * @kubernetes/client-node, and how its objects become the port's `Workload` (Secret references only) and
 * `WorkloadStatus` (rollout counters only).
 */
import type {
  AppsV1Api,
  setHeaderOptions,
  V1DaemonSet,
  V1Deployment,
  V1PodSpec,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { ContainerRefs, PodSpecRefs, Workload, WorkloadKind, WorkloadStatus } from '../sync/ports/kube.js';

/** Page size for lists: bounded memory and response size on namespaces with many objects. */
export const LIST_PAGE_SIZE = 250;

export type WorkloadObject = V1Deployment | V1StatefulSet | V1DaemonSet;

/** One row per workload kind, so the rest of the adapter never switches on the kind. */
export interface KindOps {
  resource: string;
  list(namespace: string, cont: string | undefined): Promise<{ items: WorkloadObject[]; cont: string | undefined }>;
  patch(namespace: string, name: string, body: object, contentType: PatchContentType): Promise<unknown>;
  /** GET of one object (its status is part of it: the `get` the RBAC role grants already suffices). */
  read(namespace: string, name: string): Promise<WorkloadObject>;
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
      read: (namespace, name) => apps.readNamespacedDeployment({ namespace, name }),
    },
    StatefulSet: {
      resource: 'statefulsets',
      list: async (namespace, cont) => {
        const page = await apps.listNamespacedStatefulSet({ namespace, limit: LIST_PAGE_SIZE, _continue: cont });
        return { items: page.items, cont: page.metadata?._continue || undefined };
      },
      patch: (namespace, name, body, contentType) =>
        apps.patchNamespacedStatefulSet({ namespace, name, body, fieldManager }, contentType),
      read: (namespace, name) => apps.readNamespacedStatefulSet({ namespace, name }),
    },
    DaemonSet: {
      resource: 'daemonsets',
      list: async (namespace, cont) => {
        const page = await apps.listNamespacedDaemonSet({ namespace, limit: LIST_PAGE_SIZE, _continue: cont });
        return { items: page.items, cont: page.metadata?._continue || undefined };
      },
      patch: (namespace, name, body, contentType) =>
        apps.patchNamespacedDaemonSet({ namespace, name, body, fieldManager }, contentType),
      read: (namespace, name) => apps.readNamespacedDaemonSet({ namespace, name }),
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
    replicas: desiredPods(kind, item),
    uid: item.metadata?.uid ?? '',
  };
}

function desiredPods(kind: WorkloadKind, item: WorkloadObject): number {
  // An unset spec.replicas means 1 (the API server defaults it); a DaemonSet wants one pod per matching node.
  if (kind === 'DaemonSet') return (item as V1DaemonSet).status?.desiredNumberScheduled ?? 0;
  return (item as V1Deployment | V1StatefulSet).spec?.replicas ?? 1;
}

/** A workload object's rollout state in the port's shape (counters, generations, strategy; nothing else). */
export function toWorkloadStatus(kind: WorkloadKind, item: WorkloadObject): WorkloadStatus {
  return STATUS_OF[kind](item);
}

const STATUS_OF: Record<WorkloadKind, (item: WorkloadObject) => WorkloadStatus> = {
  Deployment: (item) => deploymentStatus(item as V1Deployment),
  StatefulSet: (item) => statefulSetStatus(item as V1StatefulSet),
  DaemonSet: (item) => daemonSetStatus(item as V1DaemonSet),
};

/** The API server omits zero counters from a status: absent means 0. */
const count = (value: number | undefined): number => value ?? 0;

function deploymentStatus(item: V1Deployment): WorkloadStatus {
  const status = item.status ?? {};
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  return {
    kind: 'Deployment',
    uid: item.metadata?.uid ?? '',
    generation: count(item.metadata?.generation),
    observedGeneration: count(status.observedGeneration),
    specReplicas: item.spec?.replicas ?? 1,
    paused: item.spec?.paused ?? false,
    replicas: count(status.replicas),
    updatedReplicas: count(status.updatedReplicas),
    readyReplicas: count(status.readyReplicas),
    availableReplicas: count(status.availableReplicas),
    // https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#failed-deployment
    progressDeadlineExceeded: progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded',
  };
}

function statefulSetStatus(item: V1StatefulSet): WorkloadStatus {
  const status = item.status;
  const strategy = item.spec?.updateStrategy;
  return {
    kind: 'StatefulSet',
    uid: item.metadata?.uid ?? '',
    generation: count(item.metadata?.generation),
    observedGeneration: count(status?.observedGeneration),
    specReplicas: item.spec?.replicas ?? 1,
    onDelete: strategy?.type === 'OnDelete',
    partition: count(strategy?.rollingUpdate?.partition),
    replicas: count(status?.replicas),
    updatedReplicas: count(status?.updatedReplicas),
    readyReplicas: count(status?.readyReplicas),
    currentRevision: status?.currentRevision ?? '',
    updateRevision: status?.updateRevision ?? '',
  };
}

function daemonSetStatus(item: V1DaemonSet): WorkloadStatus {
  const status = item.status;
  return {
    kind: 'DaemonSet',
    uid: item.metadata?.uid ?? '',
    generation: count(item.metadata?.generation),
    observedGeneration: count(status?.observedGeneration),
    onDelete: item.spec?.updateStrategy?.type === 'OnDelete',
    desiredNumberScheduled: count(status?.desiredNumberScheduled),
    updatedNumberScheduled: count(status?.updatedNumberScheduled),
    numberReady: count(status?.numberReady),
    numberAvailable: count(status?.numberAvailable),
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
