/**
 * The Kubernetes ports of the engine: `ClusterConnector` (implemented in `lib/clusters`) hands out one `KubeApi` per
 * cluster, which `lib/kube` implements with `@kubernetes/client-node`; unit tests use in-memory fakes. Nothing here
 * imports an SDK. Implementations translate API errors into
 * `SyncError` (codes `Forbidden`, `NamespaceNotFound`, `Conflict`, `KubernetesError`, ...), naming the verb,
 * resource, namespace and name, never the body of a Secret.
 */

/**
 * The kinds whose consumers we find and restart: the apps/v1 three, Argo Rollouts (`argoproj.io/v1alpha1`, restarted
 * by `spec.restartAt`; a cluster without its CRD has none) and CronJobs (their job template is updated for the
 * next run; nothing restarts).
 */
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Rollout' | 'CronJob';

/** A Secret's metadata, as listed without its data. */
export interface SecretMetadata {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Keys the fingerprint on pod templates (see `fingerprint` in lib/domain/names.ts). */
  uid: string;
  resourceVersion: string;
}

/** What we write: the full desired Secret (labels/annotations are merged into existing ones by the writer). */
export interface KubeSecretWrite extends Omit<SecretMetadata, 'uid' | 'resourceVersion'> {
  type: string;
  data: Record<string, string>;
  /** Required by `replaceSecret` for optimistic locking. */
  resourceVersion?: string;
}

/** A Kubernetes Secret as read from the API server; `data` values are base64, as on the wire. */
export interface KubeSecret extends SecretMetadata, Pick<KubeSecretWrite, 'type' | 'data'> {
  immutable: boolean;
  /** Kinds of the owner references, e.g. `ExternalSecret`. */
  ownerKinds: string[];
}

/** Kubernetes DeleteOptions preconditions: the object as it was read. */
export interface DeletePreconditions {
  uid: string;
  resourceVersion?: string;
}

/** The parts of a pod spec that can reference a Secret. */
export interface PodSpecRefs {
  containers?: ContainerRefs[];
  initContainers?: ContainerRefs[];
  volumes?: Array<{
    secret?: { secretName?: string };
    projected?: { sources?: Array<{ secret?: { name?: string } }> };
  }>;
}

export interface ContainerRefs {
  env?: Array<{ valueFrom?: { secretKeyRef?: { name?: string } } }>;
  envFrom?: Array<{ secretRef?: { name?: string } }>;
}

export interface Workload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** Deployment `spec.paused`; always false for other kinds. */
  paused: boolean;
  annotations: Record<string, string>;
  /** The pod template's annotations (a CronJob's: its job template's pod template). */
  templateAnnotations: Record<string, string>;
  podSpec: PodSpecRefs;
  resourceVersion: string;
  /**
   * Pods wanted when listed: `spec.replicas` (default 1), for a DaemonSet `status.desiredNumberScheduled`. Zero
   * means a restart rolls nothing, so there is nothing to wait for. Undefined when unknown.
   */
  replicas?: number;
  /** Names the workload in the Events about it (`kubectl describe` matches Events by uid). */
  uid: string;
}

/**
 * A workload's rollout state as its controller reports it, one shape per kind (field names as in the API).
 * `generation` is `metadata.generation`: the status describes the current spec once `observedGeneration` reaches it.
 */
export type WorkloadStatus = DeploymentStatus | StatefulSetStatus | DaemonSetStatus | RolloutStatus | CronJobStatus;

export interface DeploymentStatus {
  kind: 'Deployment';
  /** metadata.uid: names the workload in the Events about its rollout. */
  uid: string;
  generation: number;
  observedGeneration: number;
  /** `spec.replicas` (default 1). */
  specReplicas: number;
  paused: boolean;
  /** Pods of every ReplicaSet, old ones included. */
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  /** Condition `Progressing=False` with reason `ProgressDeadlineExceeded` (`spec.progressDeadlineSeconds` passed). */
  progressDeadlineExceeded: boolean;
}

export interface StatefulSetStatus {
  kind: 'StatefulSet';
  uid: string;
  generation: number;
  observedGeneration: number;
  specReplicas: number;
  /** `spec.updateStrategy.type: OnDelete`: a template change replaces no pod until someone deletes it. */
  onDelete: boolean;
  /** `spec.updateStrategy.rollingUpdate.partition`: pods with a lower ordinal keep the old template. */
  partition: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  currentRevision: string;
  updateRevision: string;
}

export interface DaemonSetStatus {
  kind: 'DaemonSet';
  uid: string;
  generation: number;
  observedGeneration: number;
  onDelete: boolean;
  desiredNumberScheduled: number;
  updatedNumberScheduled: number;
  numberReady: number;
  numberAvailable: number;
}

/**
 * An Argo Rollout's restart state (https://argoproj.github.io/argo-rollouts/features/restart/): the controller sets
 * `status.restartedAt` once it has restarted every pod older than `spec.restartAt`; `phase` is its health.
 */
export interface RolloutStatus {
  kind: 'Rollout';
  uid: string;
  /** `spec.restartAt` (RFC 3339), when set. */
  restartAt?: string;
  /** `status.restartedAt` (RFC 3339), when set. */
  restartedAt?: string;
  /** `status.phase`: Healthy, Progressing, Paused or Degraded; empty before the controller wrote a status. */
  phase: string;
  /** `status.message` (why it is Degraded or Paused), when set. */
  message?: string;
}

/** A CronJob has no rollout: its next Job uses the template it has then. */
export interface CronJobStatus {
  kind: 'CronJob';
  uid: string;
}

/** The object an Event is about (`regarding`); `uid` when known, or `kubectl describe` does not list the Event. */
export interface EventObject {
  kind: 'Secret' | WorkloadKind;
  namespace: string;
  name: string;
  uid?: string;
}

/**
 * One `events.k8s.io/v1` Event. `name` is derived from everything but the time, so an identical Event has the same
 * name: the adapter then counts it into the existing one's `series` instead of creating another.
 */
export interface KubeEvent {
  /** The Event's own namespace: its object's. */
  namespace: string;
  name: string;
  regarding: EventObject;
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  /** Human-readable, at most 1 kB; names, ids and error codes only, never a value. */
  note: string;
  reportingInstance: string;
  time: Date;
}

/** What a restart patch puts on the workload's own metadata, next to the pod-template annotations. */
export interface ChangeCause {
  /** The `kubernetes.io/change-cause` text. */
  text: string;
  /** Whether the workload's metadata had annotations when read: a JSON Patch adds a key only to a map that exists. */
  annotationsExist: boolean;
}

export interface KubeApi {
  readonly cluster: string;
  /** GET; `undefined` when the Secret does not exist. */
  getSecret(namespace: string, name: string): Promise<KubeSecret | undefined>;
  /**
   * GET as PartialObjectMetadata: the Secret's labels, annotations and uid without its data (the API server sends
   * none), for `status`. Needs `get` on secrets, as `getSecret` does; `undefined` when the Secret does not exist.
   */
  getSecretMetadata(namespace: string, name: string): Promise<SecretMetadata | undefined>;
  /** POST; throws `Conflict` (AlreadyExists) or `NamespaceNotFound`. */
  createSecret(secret: KubeSecretWrite): Promise<KubeSecret>;
  /** PUT with `resourceVersion`; throws `Conflict` when someone else wrote first. */
  replaceSecret(secret: KubeSecretWrite): Promise<KubeSecret>;
  /**
   * DELETE (deletion policy `delete`, and `recreate`). Missing Secret is not an error. With `preconditions` (the uid
   * and resourceVersion read) it deletes only that object as read, else `Conflict`: never one written since.
   */
  deleteSecret(namespace: string, name: string, preconditions?: DeletePreconditions): Promise<void>;
  /**
   * Removes one annotation only while it still holds `expected` (a JSON Patch `test`, then `remove`). Returns false,
   * changing nothing, when it holds something else, is absent, or the Secret is gone.
   */
  clearSecretAnnotation(namespace: string, name: string, key: string, expected: string): Promise<boolean>;
  /**
   * Sets one annotation only while the Secret is still the object `guard.uid` names and holds `guard.annotations`
   * (JSON Patch `test`s, then `add`). Returns false, changing nothing, when not, or when the Secret is gone.
   */
  annotateSecret(
    namespace: string,
    name: string,
    key: string,
    value: string,
    guard: { uid: string; annotations: Record<string, string> },
  ): Promise<boolean>;
  /**
   * The Secrets of a namespace carrying our managed-by label, metadata only (the API server sends no data). Needs
   * `list` on secrets (the optional `eks-secret-sync-list` role); without it, `Forbidden`.
   */
  listManagedSecrets(namespace: string): Promise<SecretMetadata[]>;
  /**
   * Every workload of one kind in a namespace. A cluster that does not serve the kind (a Rollout without the Argo
   * Rollouts CRD: 404 on the list) throws SyncError `KindNotServed`.
   */
  listWorkloads(namespace: string, kind: WorkloadKind): Promise<Workload[]>;
  /**
   * Sets pod-template annotations with our field manager (a CronJob's: its job template's pod template). With
   * `expected` (those annotations as read) the patch applies only if they are still exactly that, else `Conflict`;
   * controller status writes do not interfere. With `changeCause`, the same patch sets `kubernetes.io/change-cause`
   * on the workload's metadata. A Rollout is the exception: any pod-template change starts a new canary or
   * blue-green rollout, so its annotations (and `expected`) are those of its own metadata, and `restartAt` sets its
   * `spec.restartAt`, Argo's restart of the current revision.
   */
  patchTemplateAnnotations(
    namespace: string,
    kind: WorkloadKind,
    name: string,
    annotations: Record<string, string>,
    expected?: Record<string, string>,
    changeCause?: ChangeCause,
    restartAt?: Date,
  ): Promise<void>;
  /** GET of one workload, its rollout state only; `undefined` when it does not exist (deleted meanwhile). */
  readWorkloadStatus(namespace: string, kind: WorkloadKind, name: string): Promise<WorkloadStatus | undefined>;
  /**
   * Creates the Event in its object's namespace; when one of the same name exists (an identical Event), counts this
   * one into its `series` instead. Needs `create`, `get` and `patch` on `events.k8s.io` events.
   */
  recordEvent(event: KubeEvent): Promise<void>;
}

/** Gives a Kubernetes API handle per configured cluster name. Throws SyncError `ClusterUnavailable`/`ClusterUnknown`. */
export interface ClusterConnector {
  connect(cluster: string): Promise<KubeApi>;
}
