/**
 * In-memory fakes behind the engine's ports, for unit tests. They model the API semantics the engine relies on
 * (resourceVersion and 409 on stale writes, AlreadyExists, missing and forbidden namespaces, AWSCURRENT versions),
 * count every call by method, track calls in flight, and can inject failures.
 */
import { setImmediate as tick } from 'node:timers/promises';
import type { TargetConfig } from '../../lib/config/index.js';
import { CHANGE_CAUSE_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../lib/domain/names.js';
import { refersTo } from '../../lib/domain/secret-id.js';
import { SyncError, toSyncError } from '../../lib/errors.js';
import type { KubeCall } from '../../lib/sync/calls/decorate.js';
import type {
  ClusterConnector,
  DeletePreconditions,
  KubeApi,
  KubeEvent,
  KubeSecret,
  KubeSecretWrite,
  PodSpecRefs,
  SecretMetadata,
  Workload,
  WorkloadKind,
  WorkloadStatus,
} from '../../lib/sync/ports/kube.js';
import type {
  SecretFilter,
  SecretRef,
  SecretSource,
  SecretValue,
  SecretVersions,
} from '../../lib/sync/ports/source.js';

/** Counts calls in flight across any number of fakes sharing it, and remembers the maximum. */
export class InFlightMeter {
  current = 0;
  max = 0;

  async around<T>(fn: () => Promise<T>): Promise<T> {
    this.current += 1;
    this.max = Math.max(this.max, this.current);
    try {
      return await fn();
    } finally {
      this.current -= 1;
    }
  }
}

interface Injected<M extends string> {
  method: M;
  error: () => Error;
  times: number;
  when?: (args: unknown[]) => boolean;
}

/** Failure injection and call counting shared by the fakes. */
class CallBook<M extends string> {
  readonly calls = new Map<M, number>();
  readonly log: Array<{ method: M; args: unknown[] }> = [];
  private readonly injected: Array<Injected<M>> = [];
  private readonly stalls: Array<{ method: M; when?: (args: unknown[]) => boolean }> = [];

  count(method: M): number {
    return this.calls.get(method) ?? 0;
  }

  total(): number {
    return [...this.calls.values()].reduce((a, b) => a + b, 0);
  }

  reset(): void {
    this.calls.clear();
    this.log.length = 0;
  }

  inject(method: M, error: () => Error, options: { times?: number; when?: (args: unknown[]) => boolean }): void {
    const entry: Injected<M> = { method, error, times: options.times ?? 1 };
    if (options.when !== undefined) entry.when = options.when;
    this.injected.push(entry);
  }

  stall(method: M, when?: (args: unknown[]) => boolean): void {
    this.stalls.push(when === undefined ? { method } : { method, when });
  }

  unstall(): void {
    this.stalls.length = 0;
  }

  /** Whether a recorded call must never answer (a server that accepted the request and went silent). */
  stalled(method: M, args: unknown[]): boolean {
    return this.stalls.some((s) => s.method === method && (s.when?.(args) ?? true));
  }

  /** Records the call, then throws an injected failure if one matches. */
  enter(method: M, args: unknown[]): void {
    this.calls.set(method, this.count(method) + 1);
    this.log.push({ method, args });
    const hit = this.injected.find((i) => i.method === method && i.times > 0 && (i.when?.(args) ?? true));
    if (hit !== undefined) {
      hit.times -= 1;
      throw hit.error();
    }
  }
}

export type KubeMethod = KubeCall;

/** What the fake stores for a Secret: the API view, including immutability and owner kinds. */
export type StoredSecret = KubeSecret;

/** An Event as the fake keeps it: the first occurrence, and its series' count and last time. */
export interface StoredEvent extends KubeEvent {
  count: number;
  lastObservedTime: Date;
}

export interface WorkloadSeed {
  kind?: WorkloadKind;
  namespace: string;
  name: string;
  paused?: boolean;
  annotations?: Record<string, string>;
  templateAnnotations?: Record<string, string>;
  podSpec?: PodSpecRefs;
  /** Pods wanted (default 1). */
  replicas?: number;
}

/** The status shape of one kind. */
export type StatusOf<K extends WorkloadKind> = Extract<WorkloadStatus, { kind: K }>;

/** One answer of a scripted rollout: these fields, the rest as for a workload rolled out at its generation. */
export type StatusStep<K extends WorkloadKind> = Partial<Omit<StatusOf<K>, 'kind'>>;

/** The status of `workload` rolled out at `generation`: every pod updated, ready and available. */
export function rolledOutStatus(workload: Workload, generation: number): WorkloadStatus {
  const n = workload.replicas ?? 1;
  const observed = { uid: workload.uid, generation, observedGeneration: generation };
  switch (workload.kind) {
    case 'Deployment':
      return {
        kind: 'Deployment',
        ...observed,
        specReplicas: n,
        paused: workload.paused,
        replicas: n,
        updatedReplicas: n,
        readyReplicas: n,
        availableReplicas: n,
        progressDeadlineExceeded: false,
      };
    case 'StatefulSet':
      return {
        kind: 'StatefulSet',
        ...observed,
        specReplicas: n,
        onDelete: false,
        partition: 0,
        replicas: n,
        updatedReplicas: n,
        readyReplicas: n,
        currentRevision: `${workload.name}-${generation}`,
        updateRevision: `${workload.name}-${generation}`,
      };
    case 'DaemonSet':
      return {
        kind: 'DaemonSet',
        ...observed,
        onDelete: false,
        desiredNumberScheduled: n,
        updatedNumberScheduled: n,
        numberReady: n,
        numberAvailable: n,
      };
    case 'Rollout':
      // No Argo controller in the fake: rolled out means it recorded every restart and is Healthy.
      return { kind: 'Rollout', uid: workload.uid, phase: 'Healthy' };
    case 'CronJob':
      return { kind: 'CronJob', uid: workload.uid };
  }
}

const clone = <T>(value: T): T => structuredClone(value);
const sameMap = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** Pod spec of one container reading `secretName` through `envFrom`. */
export function envFromSpec(...secretNames: string[]): PodSpecRefs {
  return { containers: [{ envFrom: secretNames.map((name) => ({ secretRef: { name } })) }] };
}

/**
 * An in-memory Kubernetes API server for one cluster. Every method yields to the event loop once so that
 * concurrent callers really interleave (and the meter sees them).
 */
export class FakeKubeApi implements KubeApi {
  readonly cluster: string;
  readonly book = new CallBook<KubeMethod>();
  /** Calls in flight on this cluster. */
  readonly meter = new InFlightMeter();
  /** Calls in flight across every fake sharing it (all clusters). */
  readonly shared: InFlightMeter | undefined;
  /** Namespaces that exist. */
  readonly namespaces: Set<string>;
  /** Namespaces where every call is refused with 403. */
  readonly forbidden = new Set<string>();
  /** Whether the cluster serves Argo Rollouts (its CRD installed); when not, listing them throws KindNotServed. */
  servesRollouts = true;
  /** Namespaces where only listing Rollouts is refused with 403 (their opt-in role not bound). */
  readonly rolloutsForbidden = new Set<string>();
  /** `spec.restartAt` of each Rollout, as the restart patches set it. */
  private readonly restartAts = new Map<string, string>();
  private readonly secrets = new Map<string, StoredSecret>();
  private readonly workloads = new Map<string, Workload>();
  /** metadata.generation per workload: 1 when seeded, +1 per template patch. */
  private readonly generations = new Map<string, number>();
  private readonly statusScripts = new Map<string, { steps: Array<Record<string, unknown>>; read: number }>();
  /** Events by namespace/name, as the API server would keep them (series counted into the first). */
  private readonly eventStore = new Map<string, StoredEvent>();
  private version = 100;
  /** Runs (and is awaited) before each call, after counting, e.g. to simulate another writer. */
  before?: (method: KubeMethod, args: unknown[]) => void | Promise<void>;

  constructor(cluster: string, options: { namespaces?: string[]; meter?: InFlightMeter } = {}) {
    this.cluster = cluster;
    this.namespaces = new Set(options.namespaces ?? []);
    this.shared = options.meter;
  }

  // --- test helpers ---------------------------------------------------------------------------------------

  calls(method: KubeMethod): number {
    return this.book.count(method);
  }

  /** Calls that write anything but Events (`recordEvent` is counted by `events()`). */
  writes(): number {
    return (
      this.calls('createSecret') +
      this.calls('replaceSecret') +
      this.calls('deleteSecret') +
      this.calls('clearSecretAnnotation') +
      this.calls('annotateSecret') +
      this.calls('patchTemplateAnnotations')
    );
  }

  /** The Events stored, in the order first recorded; `count` is 1, or the series count. */
  events(): StoredEvent[] {
    return [...this.eventStore.values()].map(clone);
  }

  /** The next `times` calls of `method` (matching `when`) throw `error`. */
  fail(method: KubeMethod, error: () => Error, options: { times?: number; when?: (args: unknown[]) => boolean } = {}) {
    this.book.inject(method, error, options);
  }

  /** Calls of `method` (matching `when`) are counted and then never answered, as by a silent API server. */
  stall(method: KubeMethod, when?: (args: unknown[]) => boolean): void {
    this.book.stall(method, when);
  }

  /** Answers every call again (drops the stalls). */
  unstall(): void {
    this.book.unstall();
  }

  /** Stores a Secret as if someone else created it. */
  seedSecret(
    secret: Partial<KubeSecret> & { namespace: string; name: string; data?: Record<string, string> },
  ): StoredSecret {
    this.namespaces.add(secret.namespace);
    const stored: StoredSecret = {
      type: 'Opaque',
      data: {},
      labels: {},
      annotations: {},
      immutable: false,
      ownerKinds: [],
      uid: crypto.randomUUID(),
      ...clone(secret),
      resourceVersion: this.nextVersion(),
    };
    this.secrets.set(key(secret.namespace, secret.name), stored);
    return clone(stored);
  }

  secret(namespace: string, name: string): StoredSecret | undefined {
    const stored = this.secrets.get(key(namespace, name));
    return stored === undefined ? undefined : clone(stored);
  }

  /** Changes a stored Secret behind the writer's back (bumps its resourceVersion). */
  touchSecret(namespace: string, name: string, change: (s: StoredSecret) => void = () => {}): void {
    const stored = this.secrets.get(key(namespace, name));
    if (stored === undefined) throw new Error(`no Secret ${namespace}/${name}`);
    change(stored);
    stored.resourceVersion = this.nextVersion();
  }

  seedWorkload(seed: WorkloadSeed): Workload {
    this.namespaces.add(seed.namespace);
    const workload: Workload = {
      kind: seed.kind ?? 'Deployment',
      namespace: seed.namespace,
      name: seed.name,
      paused: seed.paused ?? false,
      annotations: clone(seed.annotations ?? {}),
      templateAnnotations: clone(seed.templateAnnotations ?? {}),
      podSpec: clone(seed.podSpec ?? {}),
      resourceVersion: this.nextVersion(),
      replicas: seed.replicas ?? 1,
      uid: crypto.randomUUID(),
    };
    const k = workloadKey(workload.namespace, workload.kind, workload.name);
    this.workloads.set(k, workload);
    this.generations.set(k, 1);
    return clone(workload);
  }

  /**
   * Status reads of a workload answer `steps` in turn, the last one repeated (unscripted workloads answer rolled
   * out at once). Each step's fields override those of the workload rolled out at its current generation.
   */
  scriptRollout<K extends WorkloadKind>(namespace: string, kind: K, name: string, steps: Array<StatusStep<K>>): void {
    this.statusScripts.set(workloadKey(namespace, kind, name), { steps: clone(steps), read: 0 });
  }

  /** The `spec.restartAt` a Rollout was patched with last, if any. */
  restartAt(namespace: string, name: string): string | undefined {
    return this.restartAts.get(workloadKey(namespace, 'Rollout', name));
  }

  /** Deletes a workload (e.g. between its restart and the rollout check). */
  removeWorkload(namespace: string, name: string, kind: WorkloadKind = 'Deployment'): void {
    this.workloads.delete(workloadKey(namespace, kind, name));
  }

  /** metadata.generation of a workload (1 when seeded, +1 per template patch). */
  generation(namespace: string, name: string, kind: WorkloadKind = 'Deployment'): number {
    return this.generations.get(workloadKey(namespace, kind, name)) ?? 0;
  }

  workload(namespace: string, name: string, kind: WorkloadKind = 'Deployment'): Workload {
    const workload = this.workloads.get(workloadKey(namespace, kind, name));
    if (workload === undefined) throw new Error(`no ${kind} ${namespace}/${name}`);
    return clone(workload);
  }

  /** Template patches sent, in order. */
  templatePatches(): Array<{
    namespace: string;
    kind: WorkloadKind;
    name: string;
    annotations: Record<string, string>;
    restartAt?: Date;
  }> {
    return this.book.log
      .filter((c) => c.method === 'patchTemplateAnnotations')
      .map((c) => {
        const [namespace, kind, name, annotations, , restartAt] = c.args as [
          string,
          WorkloadKind,
          string,
          Record<string, string>,
          unknown,
          Date | undefined,
        ];
        return { namespace, kind, name, annotations, ...(restartAt === undefined ? {} : { restartAt }) };
      });
  }

  // --- KubeApi ----------------------------------------------------------------------------------------------

  getSecret(namespace: string, name: string): Promise<KubeSecret | undefined> {
    return this.call('getSecret', [namespace, name], () => {
      this.checkAccess('get', namespace, name);
      const stored = this.secrets.get(key(namespace, name));
      return stored === undefined ? undefined : clone(stored);
    });
  }

  getSecretMetadata(namespace: string, name: string): Promise<SecretMetadata | undefined> {
    return this.call('getSecretMetadata', [namespace, name], () => {
      this.checkAccess('get', namespace, name);
      const stored = this.secrets.get(key(namespace, name));
      if (stored === undefined) return undefined;
      const { labels, annotations, uid, resourceVersion } = clone(stored);
      return { namespace, name, labels, annotations, uid, resourceVersion };
    });
  }

  createSecret(secret: KubeSecretWrite): Promise<KubeSecret> {
    return this.call('createSecret', [clone(secret)], () => {
      this.checkAccess('create', secret.namespace, secret.name);
      if (!this.namespaces.has(secret.namespace)) {
        throw new SyncError(
          'NamespaceNotFound',
          `create Secret ${secret.namespace}/${secret.name} in cluster "${this.cluster}": namespace not found`,
        );
      }
      if (this.secrets.has(key(secret.namespace, secret.name))) {
        throw new SyncError(
          'Conflict',
          `create Secret ${secret.namespace}/${secret.name} in cluster "${this.cluster}": already exists`,
          { retryable: true },
        );
      }
      const stored = this.store(secret, { immutable: false, ownerKinds: [] });
      return clone(stored);
    });
  }

  replaceSecret(secret: KubeSecretWrite): Promise<KubeSecret> {
    return this.call('replaceSecret', [clone(secret)], () => {
      this.checkAccess('update', secret.namespace, secret.name);
      const existing = this.secrets.get(key(secret.namespace, secret.name));
      if (existing === undefined) {
        throw new SyncError('KubernetesError', `update Secret ${secret.namespace}/${secret.name}: not found`);
      }
      if (secret.resourceVersion !== existing.resourceVersion) {
        throw new SyncError(
          'Conflict',
          `update Secret ${secret.namespace}/${secret.name} in cluster "${this.cluster}": the object has been modified`,
          { retryable: true },
        );
      }
      if (existing.type !== secret.type) {
        throw new SyncError('KubernetesError', `update Secret ${secret.namespace}/${secret.name}: type is immutable`);
      }
      if (existing.immutable && JSON.stringify(sorted(existing.data)) !== JSON.stringify(sorted(secret.data))) {
        throw new SyncError('KubernetesError', `update Secret ${secret.namespace}/${secret.name}: data is immutable`);
      }
      const stored = this.store(secret, {
        immutable: existing.immutable,
        ownerKinds: existing.ownerKinds,
        uid: existing.uid,
      });
      return clone(stored);
    });
  }

  deleteSecret(namespace: string, name: string, preconditions?: DeletePreconditions): Promise<void> {
    return this.call('deleteSecret', [namespace, name, clone(preconditions)], () => {
      this.checkAccess('delete', namespace, name);
      const stored = this.secrets.get(key(namespace, name));
      if (
        stored !== undefined &&
        preconditions !== undefined &&
        (stored.uid !== preconditions.uid ||
          (preconditions.resourceVersion !== undefined && stored.resourceVersion !== preconditions.resourceVersion))
      ) {
        throw new SyncError(
          'Conflict',
          `delete Secret ${namespace}/${name} in cluster "${this.cluster}": precondition failed`,
          { retryable: true },
        );
      }
      this.secrets.delete(key(namespace, name));
    });
  }

  annotateSecret(
    namespace: string,
    name: string,
    annotation: string,
    value: string,
    guard: { uid: string; annotations: Record<string, string> },
  ): Promise<boolean> {
    return this.call('annotateSecret', [namespace, name, annotation, value, clone(guard)], () => {
      this.checkAccess('patch', namespace, name);
      const stored = this.secrets.get(key(namespace, name));
      if (stored === undefined || stored.uid !== guard.uid) return false;
      if (Object.entries(guard.annotations).some(([k, v]) => stored.annotations[k] !== v)) return false;
      stored.annotations[annotation] = value;
      stored.resourceVersion = this.nextVersion();
      return true;
    });
  }

  clearSecretAnnotation(namespace: string, name: string, annotation: string, expected: string): Promise<boolean> {
    return this.call('clearSecretAnnotation', [namespace, name, annotation, expected], () => {
      this.checkAccess('patch', namespace, name);
      const stored = this.secrets.get(key(namespace, name));
      if (stored === undefined || stored.annotations[annotation] !== expected) return false;
      delete stored.annotations[annotation];
      stored.resourceVersion = this.nextVersion();
      return true;
    });
  }

  listManagedSecrets(namespace: string): Promise<SecretMetadata[]> {
    return this.call('listManagedSecrets', [namespace], () => {
      this.checkAccess('list', namespace, 'secrets');
      return [...this.secrets.values()]
        .filter((s) => s.namespace === namespace && s.labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE)
        .map((s) => ({
          namespace: s.namespace,
          name: s.name,
          labels: clone(s.labels),
          annotations: clone(s.annotations),
          uid: s.uid,
          resourceVersion: s.resourceVersion,
        }));
    });
  }

  listWorkloads(namespace: string, kind: WorkloadKind): Promise<Workload[]> {
    return this.call('listWorkloads', [namespace, kind], () => {
      this.checkAccess('list', namespace, kind);
      if (kind === 'Rollout' && !this.servesRollouts) {
        throw new SyncError('KindNotServed', `rollouts.argoproj.io is not served in cluster "${this.cluster}"`);
      }
      if (kind === 'Rollout' && this.rolloutsForbidden.has(namespace)) {
        throw new SyncError('Forbidden', `list rollouts.argoproj.io in namespace ${namespace}: forbidden`);
      }
      return [...this.workloads.values()].filter((w) => w.namespace === namespace && w.kind === kind).map(clone);
    });
  }

  // The parameters as the port declares them: the fake cannot drift from its signature.
  patchTemplateAnnotations(...args: Parameters<KubeApi['patchTemplateAnnotations']>): Promise<void> {
    const [namespace, kind, name, annotations, expected, changeCause, restartAt] = args;
    return this.call(
      'patchTemplateAnnotations',
      [namespace, kind, name, clone(annotations), clone(changeCause), restartAt],
      () => {
        this.checkAccess('patch', namespace, name);
        const workload = this.workloads.get(workloadKey(namespace, kind, name));
        if (workload === undefined)
          throw new SyncError('KubernetesError', `patch ${kind} ${namespace}/${name}: not found`);
        // As the adapter: a Rollout's annotations are those of its own metadata.
        const target = kind === 'Rollout' ? workload.annotations : workload.templateAnnotations;
        if (expected !== undefined && !sameMap(expected, target)) {
          throw new SyncError('Conflict', `patch ${kind} ${namespace}/${name}: the object has been modified`);
        }
        Object.assign(target, annotations);
        if (changeCause !== undefined) workload.annotations[CHANGE_CAUSE_ANNOTATION] = changeCause.text;
        workload.resourceVersion = this.nextVersion();
        const k = workloadKey(namespace, kind, name);
        if (restartAt !== undefined) this.restartAts.set(k, restartAt.toISOString());
        this.generations.set(k, (this.generations.get(k) ?? 0) + 1);
      },
    );
  }

  readWorkloadStatus(namespace: string, kind: WorkloadKind, name: string): Promise<WorkloadStatus | undefined> {
    return this.call('readWorkloadStatus', [namespace, kind, name], () => {
      this.checkAccess('get', namespace, name);
      const k = workloadKey(namespace, kind, name);
      const workload = this.workloads.get(k);
      if (workload === undefined) return undefined;
      const status = rolledOutStatus(workload, this.generations.get(k) ?? 1);
      const script = this.statusScripts.get(k);
      if (script === undefined || script.steps.length === 0) return status;
      const step = script.steps[Math.min(script.read, script.steps.length - 1)];
      script.read += 1;
      return { ...status, ...clone(step) } as WorkloadStatus;
    });
  }

  recordEvent(event: KubeEvent): Promise<void> {
    return this.call('recordEvent', [clone(event)], () => {
      this.checkAccess('create', event.namespace, 'events');
      if (!this.namespaces.has(event.namespace)) {
        throw new SyncError('NamespaceNotFound', `create Event in ${event.namespace}: namespace not found`);
      }
      const id = key(event.namespace, event.name);
      const existing = this.eventStore.get(id);
      if (existing === undefined) {
        this.eventStore.set(id, { ...clone(event), count: 1, lastObservedTime: event.time });
        return;
      }
      existing.count += 1;
      existing.lastObservedTime = event.time;
    });
  }

  // --- internals --------------------------------------------------------------------------------------------

  private async call<T>(method: KubeMethod, args: unknown[], body: () => T): Promise<T> {
    const run = () =>
      this.meter.around(async () => {
        await tick();
        this.book.enter(method, args);
        if (this.book.stalled(method, args)) await never();
        await this.before?.(method, args);
        return body();
      });
    return this.shared === undefined ? run() : this.shared.around(run);
  }

  private checkAccess(verb: string, namespace: string, name: string): void {
    if (this.forbidden.has(namespace)) {
      throw new SyncError(
        'Forbidden',
        `${verb} ${name} in namespace ${namespace} of cluster "${this.cluster}": forbidden`,
      );
    }
  }

  private store(
    write: KubeSecretWrite,
    rest: { immutable: boolean; ownerKinds: string[]; uid?: string },
  ): StoredSecret {
    const stored: StoredSecret = {
      namespace: write.namespace,
      name: write.name,
      type: write.type,
      data: clone(write.data),
      labels: clone(write.labels),
      annotations: clone(write.annotations),
      immutable: rest.immutable,
      ownerKinds: [...rest.ownerKinds],
      resourceVersion: this.nextVersion(),
      uid: rest.uid ?? crypto.randomUUID(),
    };
    this.secrets.set(key(write.namespace, write.name), stored);
    return stored;
  }

  private nextVersion(): string {
    this.version += 1;
    return String(this.version);
  }
}

/** A promise that never settles. */
function never(): Promise<never> {
  return new Promise<never>(() => {});
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function workloadKey(namespace: string, kind: WorkloadKind, name: string): string {
  return `${namespace}/${kind}/${name}`;
}

function sorted(data: Record<string, string>): Array<[string, string]> {
  return Object.entries(data).sort(([a], [b]) => a.localeCompare(b));
}

// --- Secrets Manager ------------------------------------------------------------------------------------------

export type SourceMethod =
  | 'getCurrent'
  | 'getMany'
  | 'getVersion'
  | 'list'
  | 'describe'
  | 'currentVersionId'
  | 'describeVersions';

interface StoredSource {
  arn: string;
  name: string;
  tags: Record<string, string>;
  versions: SecretValue[];
  deletedDate?: Date;
}

const ARN_PREFIX = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:';
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** The 6 random characters Secrets Manager appends to a secret's name in its ARN. */
function randomSuffix(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => SUFFIX_ALPHABET[b % 62]).join('');
}

/** An in-memory Secrets Manager: each `put` adds a version and moves AWSCURRENT to it. */
export class FakeSecretSource implements SecretSource {
  readonly book = new CallBook<SourceMethod>();
  private readonly secrets = new Map<string, StoredSource>();
  private serial = 0;

  calls(method: SourceMethod): number {
    return this.book.count(method);
  }

  /** Reads of secret values (single and batched). */
  reads(): number {
    return this.calls('getCurrent') + this.calls('getMany') + this.calls('getVersion');
  }

  fail(
    method: SourceMethod,
    error: () => Error,
    options: { times?: number; when?: (args: unknown[]) => boolean } = {},
  ) {
    this.book.inject(method, error, options);
  }

  /** ARN of a stored secret (full form, with the 6-character suffix). */
  arnOf(name: string): string {
    const stored = this.secrets.get(name);
    if (stored === undefined) throw new Error(`no secret ${name}`);
    return stored.arn;
  }

  /** Adds a version (JSON-stringified unless a string or bytes) and makes it AWSCURRENT; returns its versionId. */
  put(name: string, value: unknown, options: { tags?: Record<string, string> } = {}): string {
    let stored = this.secrets.get(name);
    if (stored === undefined) {
      stored = { arn: `${ARN_PREFIX}${name}-${randomSuffix()}`, name, tags: {}, versions: [] };
      this.secrets.set(name, stored);
    }
    if (options.tags !== undefined) stored.tags = { ...options.tags };
    // As PutSecretValue moves the labels: the current version becomes AWSPREVIOUS.
    for (const version of stored.versions) {
      const wasCurrent = version.versionStages.includes('AWSCURRENT');
      version.versionStages = version.versionStages.filter((s) => s !== 'AWSCURRENT' && s !== 'AWSPREVIOUS');
      if (wasCurrent) version.versionStages.push('AWSPREVIOUS');
    }
    this.serial += 1;
    const versionId = `v${this.serial}`;
    const version: SecretValue = { arn: stored.arn, name, versionId, versionStages: ['AWSCURRENT'] };
    if (value instanceof Uint8Array) version.secretBinary = value;
    else version.secretString = typeof value === 'string' ? value : JSON.stringify(value);
    stored.versions.push(version);
    return versionId;
  }

  /** Deletes a secret, as DeleteSecret would (reads then fail with SecretNotFound). */
  remove(name: string): void {
    this.secrets.delete(name);
  }

  /** Schedules a secret for deletion (DeleteSecret with a recovery window): described with a deletedDate, not read. */
  scheduleDeletion(name: string, at = new Date()): void {
    const stored = this.secrets.get(name);
    if (stored === undefined) throw new Error(`no secret ${name}`);
    stored.deletedDate = at;
  }

  /** TagResource/UntagResource: replaces the secret's tags (no new version). */
  setTags(name: string, tags: Record<string, string>): void {
    const stored = this.secrets.get(name);
    if (stored === undefined) throw new Error(`no secret ${name}`);
    stored.tags = { ...tags };
  }

  /** RestoreSecret: cancels a scheduled deletion. */
  restore(name: string): void {
    const stored = this.secrets.get(name);
    if (stored !== undefined) delete stored.deletedDate;
  }

  /** The port's read, choosing as the adapter does: `getCurrent` for one id, `getMany` for several (both counted). */
  async read(ids: readonly string[]): Promise<Map<string, SecretValue | Error>> {
    const distinct = [...new Set(ids)];
    if (distinct.length !== 1) return this.getMany(distinct);
    const id = distinct[0] as string;
    return new Map([[id, await this.getCurrent(id).catch((e: unknown) => toSyncError(e))]]);
  }

  getCurrent(id: string): Promise<SecretValue> {
    return this.call('getCurrent', [id], () => this.current(id));
  }

  /** GetSecretValue by VersionId (any stage). */
  readVersion(id: string, versionId: string): Promise<SecretValue> {
    return this.call('getVersion', [id, versionId], () => {
      const version = this.find(id).versions.find((v) => v.versionId === versionId);
      if (version === undefined) throw new SyncError('SecretNotFound', `secret "${id}" has no version ${versionId}`);
      return clone(version);
    });
  }

  getMany(ids: readonly string[]): Promise<Map<string, SecretValue | Error>> {
    return this.call('getMany', [[...ids]], () => {
      const out = new Map<string, SecretValue | Error>();
      for (const id of ids) {
        try {
          out.set(id, this.current(id));
        } catch (error) {
          out.set(id, error as Error);
        }
      }
      return out;
    });
  }

  list(filter: SecretFilter): Promise<SecretRef[]> {
    return this.call('list', [clone(filter)], () =>
      [...this.secrets.values()]
        .filter((s) => s.deletedDate === undefined)
        .filter((s) => filter.namePrefix === undefined || s.name.startsWith(filter.namePrefix))
        .filter((s) => Object.entries(filter.tags ?? {}).every(([k, v]) => s.tags[k] === v))
        .map((s) => ({ arn: s.arn, name: s.name, tags: { ...s.tags } })),
    );
  }

  currentVersionId(id: string): Promise<string | undefined> {
    return this.call('currentVersionId', [id], () => this.current(id).versionId);
  }

  /** DescribeSecret's view: identity, deletion date and the AWSCURRENT version id; counted, never a value read. */
  describeVersions(id: string): Promise<SecretVersions> {
    return this.call('describeVersions', [id], () => {
      const stored = this.find(id);
      const out: SecretVersions = { arn: stored.arn, name: stored.name, tags: { ...stored.tags } };
      if (stored.deletedDate !== undefined) out.deletedDate = stored.deletedDate;
      const current = stored.versions.find((v) => v.versionStages.includes('AWSCURRENT'));
      if (current !== undefined) out.currentVersionId = current.versionId;
      const previous = stored.versions.find((v) => v.versionStages.includes('AWSPREVIOUS'));
      if (previous !== undefined) out.previousVersionId = previous.versionId;
      return out;
    });
  }

  describe(id: string): Promise<SecretRef> {
    return this.call('describe', [id], () => {
      const stored = this.find(id);
      const ref: SecretRef = { arn: stored.arn, name: stored.name, tags: { ...stored.tags } };
      if (stored.deletedDate !== undefined) ref.deletedDate = stored.deletedDate;
      return ref;
    });
  }

  /** Calls of `method` (matching `when`) are counted and then never answered. */
  stall(method: SourceMethod, when?: (args: unknown[]) => boolean): void {
    this.book.stall(method, when);
  }

  private async call<T>(method: SourceMethod, args: unknown[], body: () => T): Promise<T> {
    await tick();
    this.book.enter(method, args);
    if (this.book.stalled(method, args)) await never();
    return body();
  }

  /** Resolves an id as Secrets Manager does: the name, the full ARN, or the partial ARN of exactly one secret. */
  private find(id: string): StoredSource {
    for (const stored of this.secrets.values()) {
      if (refersTo(id, stored)) return stored;
    }
    throw new SyncError('SecretNotFound', `secret "${id}" not found`);
  }

  private current(id: string): SecretValue {
    const stored = this.find(id);
    if (stored.deletedDate !== undefined) {
      throw new SyncError('SecretNotFound', `secret "${id}" is scheduled for deletion in Secrets Manager`);
    }
    const version = stored.versions.find((v) => v.versionStages.includes('AWSCURRENT'));
    if (version === undefined) throw new SyncError('SecretNotFound', `secret "${id}" has no AWSCURRENT version`);
    return clone(version);
  }
}

// --- clusters -------------------------------------------------------------------------------------------------

/** Hands out FakeKubeApis by cluster name; clusters in `unavailable` fail to connect, `silent` never answer. */
export class FakeConnector implements ClusterConnector {
  readonly apis = new Map<string, FakeKubeApi>();
  readonly unavailable = new Set<string>();
  readonly silent = new Set<string>();
  readonly meter = new InFlightMeter();
  connects = 0;

  constructor(apis: FakeKubeApi[] = []) {
    for (const api of apis) this.apis.set(api.cluster, api);
  }

  api(cluster: string): FakeKubeApi {
    const api = this.apis.get(cluster);
    if (api === undefined) throw new Error(`no fake cluster ${cluster}`);
    return api;
  }

  connect(cluster: string): Promise<KubeApi> {
    return this.meter.around(async () => {
      this.connects += 1;
      await tick();
      if (this.silent.has(cluster)) await never();
      if (this.unavailable.has(cluster)) {
        throw new SyncError('ClusterUnavailable', `cluster "${cluster}" is unavailable: connect ETIMEDOUT`, {
          retryable: true,
        });
      }
      const api = this.apis.get(cluster);
      if (api === undefined) throw new SyncError('ClusterUnknown', `cluster "${cluster}" is not configured`);
      return api;
    });
  }
}

// --- builders -------------------------------------------------------------------------------------------------

/** A target as the schema outputs it (defaults filled), with overrides. */
export function targetConfig(overrides: Partial<TargetConfig> = {}): TargetConfig {
  return {
    clusters: ['a'],
    namespaces: ['app'],
    type: 'Opaque',
    labels: {},
    annotations: {},
    restart: 'auto',
    adopt: false,
    recreate: false,
    ...overrides,
  };
}

/** A SecretValue at AWSCURRENT holding `secretString` (or `secretBinary` when bytes are given). */
export function secretValue(value: string | Uint8Array, name = 'app/db', versionId = 'v1'): SecretValue {
  const out: SecretValue = { arn: `${ARN_PREFIX}${name}-AbCdEf`, name, versionId, versionStages: ['AWSCURRENT'] };
  if (typeof value === 'string') out.secretString = value;
  else out.secretBinary = value;
  return out;
}

/** Base64 of a UTF-8 string, as Secret data holds it. */
export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
