/**
 * The per-kind table of workloads (Deployment, StatefulSet, DaemonSet, Argo Rollout, CronJob): how each is listed,
 * patched and read with @kubernetes/client-node, where its pod template and our annotations are, and how its objects
 * become the port's `Workload` (Secret references only) and `WorkloadStatus` (rollout counters only).
 */
import type {
  AppsV1Api,
  BatchV1Api,
  CustomObjectsApi,
  setHeaderOptions,
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1ObjectMeta,
  V1PodSpec,
  V1PodTemplateSpec,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { ContainerRefs, PodSpecRefs, Workload, WorkloadKind, WorkloadStatus } from '../sync/ports/kube.js';

/** Page size for lists: bounded memory and response size on namespaces with many objects. */
export const LIST_PAGE_SIZE = 250;

/**
 * An Argo Rollout (`argoproj.io/v1alpha1`), the fields we read: client-node has no type for it
 * (https://argoproj.github.io/argo-rollouts/features/specification/).
 */
export interface RolloutObject {
  metadata?: V1ObjectMeta;
  spec?: { replicas?: number; restartAt?: string; template?: V1PodTemplateSpec };
  status?: { restartedAt?: string; phase?: string; message?: string };
}

export type WorkloadObject = V1Deployment | V1StatefulSet | V1DaemonSet | RolloutObject | V1CronJob;

/** One row per workload kind, so the rest of the adapter never switches on the kind. */
export interface KindOps {
  resource: string;
  /** The group of `resource` in messages (`rollouts.argoproj.io`); empty for built-in kinds. */
  group: string;
  /** JSON Pointer of the annotations the restart patch sets (see `patchTemplateAnnotations` in the port). */
  annotationsPath: string;
  /** Patch content type for an object body: strategic merge, or merge for custom resources, which lack the former. */
  objectPatch: 'strategic' | 'merge';
  list(namespace: string, cont: string | undefined): Promise<{ items: WorkloadObject[]; cont: string | undefined }>;
  patch(namespace: string, name: string, body: object, contentType: PatchContentType): Promise<unknown>;
  /** GET of one object (its status is part of it: the `get` the RBAC role grants already suffices). */
  read(namespace: string, name: string): Promise<WorkloadObject>;
}

type PatchContentType = ReturnType<typeof setHeaderOptions>;

const POD_TEMPLATE_ANNOTATIONS = '/spec/template/metadata/annotations';

/** Argo Rollouts' API (https://argoproj.github.io/argo-rollouts/features/specification/). */
const ROLLOUTS = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' } as const;

/** A list response, the parts paging reads (a custom resource's list is untyped: it is cast to this). */
interface ListPage<T> {
  items?: T[];
  metadata?: { _continue?: string };
}

/** `KindOps.list` over one kind's list call: pages of `LIST_PAGE_SIZE`, and no token after the last page. */
function paged(
  call: (page: {
    namespace: string;
    limit: number;
    _continue: string | undefined;
  }) => Promise<ListPage<WorkloadObject>>,
): KindOps['list'] {
  return async (namespace, cont) => {
    const page = await call({ namespace, limit: LIST_PAGE_SIZE, _continue: cont });
    return { items: page.items ?? [], cont: page.metadata?._continue || undefined };
  };
}

/** The list and patch calls of each kind, patches written as `fieldManager`. */
export function workloadKinds(
  apis: { apps: AppsV1Api; batch: BatchV1Api; custom: CustomObjectsApi },
  fieldManager: string,
): Record<WorkloadKind, KindOps> {
  const { apps, batch, custom } = apis;
  const pod = { group: '', annotationsPath: POD_TEMPLATE_ANNOTATIONS, objectPatch: 'strategic' } as const;
  return {
    Deployment: {
      ...pod,
      resource: 'deployments',
      list: paged((page) => apps.listNamespacedDeployment(page)),
      patch: (namespace, name, body, contentType) =>
        apps.patchNamespacedDeployment({ namespace, name, body, fieldManager }, contentType),
      read: (namespace, name) => apps.readNamespacedDeployment({ namespace, name }),
    },
    StatefulSet: {
      ...pod,
      resource: 'statefulsets',
      list: paged((page) => apps.listNamespacedStatefulSet(page)),
      patch: (namespace, name, body, contentType) =>
        apps.patchNamespacedStatefulSet({ namespace, name, body, fieldManager }, contentType),
      read: (namespace, name) => apps.readNamespacedStatefulSet({ namespace, name }),
    },
    DaemonSet: {
      ...pod,
      resource: 'daemonsets',
      list: paged((page) => apps.listNamespacedDaemonSet(page)),
      patch: (namespace, name, body, contentType) =>
        apps.patchNamespacedDaemonSet({ namespace, name, body, fieldManager }, contentType),
      read: (namespace, name) => apps.readNamespacedDaemonSet({ namespace, name }),
    },
    Rollout: {
      resource: ROLLOUTS.plural,
      group: ROLLOUTS.group,
      // Not the pod template: changing it starts a new canary or blue-green rollout (stakater/Reloader#591).
      annotationsPath: '/metadata/annotations',
      objectPatch: 'merge',
      list: paged(
        async (page) => (await custom.listNamespacedCustomObject({ ...ROLLOUTS, ...page })) as ListPage<RolloutObject>,
      ),
      patch: (namespace, name, body, contentType) =>
        custom.patchNamespacedCustomObject({ ...ROLLOUTS, namespace, name, body, fieldManager }, contentType),
      read: async (namespace, name) =>
        (await custom.getNamespacedCustomObject({ ...ROLLOUTS, namespace, name })) as RolloutObject,
    },
    CronJob: {
      resource: 'cronjobs',
      group: '',
      annotationsPath: '/spec/jobTemplate/spec/template/metadata/annotations',
      objectPatch: 'strategic',
      list: paged((page) => batch.listNamespacedCronJob(page)),
      patch: (namespace, name, body, contentType) =>
        batch.patchNamespacedCronJob({ namespace, name, body, fieldManager }, contentType),
      read: (namespace, name) => batch.readNamespacedCronJob({ namespace, name }),
    },
  };
}

/** The pod template of a workload object: a CronJob's is in its job template. */
function templateOf(kind: WorkloadKind, item: WorkloadObject): V1PodTemplateSpec | undefined {
  if (kind === 'CronJob') return (item as V1CronJob).spec?.jobTemplate?.spec?.template;
  return (item as Exclude<WorkloadObject, V1CronJob>).spec?.template;
}

export function toWorkload(kind: WorkloadKind, namespace: string, item: WorkloadObject): Workload {
  const template = templateOf(kind, item);
  const replicas = desiredPods(kind, item);
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
    ...(replicas === undefined ? {} : { replicas }),
    uid: item.metadata?.uid ?? '',
  };
}

function desiredPods(kind: WorkloadKind, item: WorkloadObject): number | undefined {
  // A CronJob's pods are its Jobs', started on schedule: none to roll.
  if (kind === 'CronJob') return undefined;
  // An unset spec.replicas means 1 (the API server defaults it); a DaemonSet wants one pod per matching node.
  if (kind === 'DaemonSet') return (item as V1DaemonSet).status?.desiredNumberScheduled ?? 0;
  return (item as V1Deployment | V1StatefulSet | RolloutObject).spec?.replicas ?? 1;
}

/** A workload object's rollout state in the port's shape (counters, generations, strategy; nothing else). */
export function toWorkloadStatus(kind: WorkloadKind, item: WorkloadObject): WorkloadStatus {
  return STATUS_OF[kind](item);
}

const STATUS_OF: Record<WorkloadKind, (item: WorkloadObject) => WorkloadStatus> = {
  Deployment: (item) => deploymentStatus(item as V1Deployment),
  StatefulSet: (item) => statefulSetStatus(item as V1StatefulSet),
  DaemonSet: (item) => daemonSetStatus(item as V1DaemonSet),
  Rollout: (item) => rolloutStatus(item as RolloutObject),
  CronJob: (item) => ({ kind: 'CronJob', uid: item.metadata?.uid ?? '' }),
};

function rolloutStatus(item: RolloutObject): WorkloadStatus {
  const { restartAt } = item.spec ?? {};
  const { restartedAt, phase, message } = item.status ?? {};
  return {
    kind: 'Rollout',
    uid: item.metadata?.uid ?? '',
    ...(restartAt === undefined ? {} : { restartAt }),
    ...(restartedAt === undefined ? {} : { restartedAt }),
    phase: phase ?? '',
    ...(message === undefined ? {} : { message }),
  };
}

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
