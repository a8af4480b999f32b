/**
 * status: where each configured binding stands against AWSCURRENT, read only. Secrets Manager is asked for metadata
 * (DescribeSecret: no value is read), each cluster for the Secret's annotations and its consumers' pod templates.
 * The same resolve and plan stages as a pass pick the bindings (selectors by ListSecrets), and the same connector,
 * call limits and deadline bound the reads, so that one slow or failing cluster never holds the others' rows.
 */
import {
  consumerHashAnnotation,
  fingerprint,
  HASH_ANNOTATION,
  RESTART_PENDING_ANNOTATION,
  SYNCED_AT_ANNOTATION,
  VERSION_ANNOTATION,
} from '../domain/names.js';
import type { ErrorCode } from '../errors.js';
import { SyncError } from '../errors.js';
import { fingerprintsOf, listWorkloads, restartsWorkload, WORKLOAD_KINDS } from './apply/restarter.js';
import { groupBy, mapLimit } from './concurrency.js';
import { type Hold, holdOf } from './hold.js';
import type { Pass } from './pass.js';
import { type Binding, planBindings } from './plan.js';
import type { KubeApi, Workload, WorkloadKind } from './ports/kube.js';
import { VERSION_CHECK_CONCURRENCY } from './stages/fetch.js';
import { errorOf, splitConflicts } from './stages/report.js';
import { checkRequest, resolveSecrets } from './stages/resolve.js';

/**
 * `current`: the Secret is at AWSCURRENT and every consumer runs it. `behind`: the Secret is missing or at another
 * version, or a consumer has not restarted onto it (stale, or a restart pending). `unreadable`: a cluster, Secrets
 * Manager or the configuration did not let us tell (the error names why).
 */
export type StatusState = 'current' | 'behind' | 'unreadable';

/**
 * `current`: the pod template carries the Secret's fingerprint (or no fingerprint, and no restart is pending: the
 * workload started after the content was written, as the restarter decides too). `pending`: the Secret carries
 * the restart-pending marker and this consumer has not been restarted yet. `stale`: anything else.
 */
export type ConsumerState = 'current' | 'stale' | 'pending';

export interface ConsumerStatus {
  kind: WorkloadKind;
  name: string;
  state: ConsumerState;
}

/** One row per binding (cluster x namespace x Kubernetes Secret). Never holds a secret value or a content hash. */
export interface BindingStatus {
  cluster: string;
  namespace: string;
  secret: string;
  /** Source secret as configured or resolved (name or ARN). */
  source: string;
  state: StatusState;
  /** The version id at AWSCURRENT in Secrets Manager. */
  sourceVersionId?: string;
  /** The version id the Secret in the cluster was written from (its version-id annotation). */
  clusterVersionId?: string;
  /** Whether the Secret exists in the cluster; absent when the cluster could not be read. */
  secretExists?: boolean;
  /** When the Secret's current content was written (its synced-at annotation, RFC 3339). */
  syncedAt?: string;
  /** The workloads the target's restart policy restarts for this Secret, each with its state, by kind and name. */
  consumers: ConsumerStatus[];
  /** The hold this Secret carries after a failed wave (first-wave Secrets of a sync with waves; README "Waves"). */
  hold?: Hold;
  error?: { code: ErrorCode; message: string };
}

export interface StatusReport {
  /** Per source secret: its ARN and AWSCURRENT version, or the error that kept us from telling. */
  sources: Array<{ id: string; arn?: string; versionId?: string; error?: { code: ErrorCode; message: string } }>;
  bindings: BindingStatus[];
  /** Bindings per state. */
  summary: Record<StatusState, number>;
  notes: string[];
  durationMs: number;
}

/** What to show: every configured binding, or only these secrets, clusters and namespaces. */
export interface StatusRequest {
  secrets?: string[];
  clusters?: string[];
  namespaces?: string[];
}

/** What one cluster told about one binding: the Secret's metadata and the workloads of its namespace. */
interface Observed {
  exists: boolean;
  annotations: Record<string, string>;
  uid?: string;
  workloads: Workload[];
}

type Reading = { observed: Observed } | { error: SyncError };

/** The status of every binding `pass.request` selects; throws InputError for filters that name nothing configured. */
export async function bindingStatus(pass: Pass): Promise<StatusReport> {
  const { config, request } = pass;
  const started = pass.now().getTime();
  checkRequest(config, request);
  const resolved = await resolveSecrets(pass);
  const split = splitConflicts(planBindings(config, resolved.resolved, request));
  const report: StatusReport = {
    sources: [...resolved.sources],
    bindings: [],
    summary: { current: 0, behind: 0, unreadable: 0 },
    notes: [...resolved.notes],
    durationMs: 0,
  };
  // Secrets Manager and the clusters at once: neither waits for the other.
  const [versions, readings] = await Promise.all([
    sourceVersions(pass, [...new Set(split.bindings.map((b) => b.fetchId))]),
    readClusters(pass, split.bindings),
  ]);
  for (const [id, version] of versions) {
    report.sources.push(
      version instanceof SyncError
        ? { id, error: errorOf(version) }
        : { id, arn: version.arn, ...(version.versionId === undefined ? {} : { versionId: version.versionId }) },
    );
  }
  for (const binding of split.bindings) {
    report.bindings.push(
      rowOf(binding, versions.get(binding.fetchId), readings.get(key(binding)) ?? { error: notRead(binding) }),
    );
  }
  for (const conflict of split.conflicts) {
    report.bindings.push({
      cluster: conflict.cluster,
      namespace: conflict.namespace,
      secret: conflict.secret,
      source: conflict.source,
      state: 'unreadable',
      consumers: [],
      ...(conflict.error === undefined ? {} : { error: conflict.error }),
    });
  }
  report.bindings.sort((a, b) => key(a).localeCompare(key(b)) || a.source.localeCompare(b.source));
  for (const row of report.bindings) report.summary[row.state] += 1;
  report.durationMs = pass.now().getTime() - started;
  return report;
}

function key(b: Pick<Binding, 'cluster' | 'namespace' | 'secret'>): string {
  return `${b.cluster}/${b.namespace}/${b.secret}`;
}

function notRead(binding: Binding): SyncError {
  return new SyncError('Internal', `Secret ${binding.namespace}/${binding.secret} was not read`);
}

type SourceVersion = { arn: string; versionId?: string } | SyncError;

/** DescribeSecret once per distinct source (never GetSecretValue): the version id at AWSCURRENT, or why not. */
async function sourceVersions(pass: Pass, ids: string[]): Promise<Map<string, SourceVersion>> {
  const out = await mapLimit(ids, VERSION_CHECK_CONCURRENCY, async (id): Promise<SourceVersion> => {
    try {
      const described = await pass.source.describeVersions(id);
      if (described.deletedDate !== undefined) {
        return new SyncError('SecretNotFound', `secret "${id}" is scheduled for deletion in Secrets Manager`);
      }
      if (described.currentVersionId === undefined) {
        return new SyncError('SourceError', `secret "${id}" has no version labelled AWSCURRENT`);
      }
      return { arn: described.arn, versionId: described.currentVersionId };
    } catch (error) {
      const e = errorOf(error);
      return new SyncError(e.code, e.message, { cause: error });
    }
  });
  return new Map(ids.map((id, i) => [id, out[i] as SourceVersion]));
}

/** Every cluster's bindings read, clusters in parallel (bounded, as passes): binding key -> what was read. */
async function readClusters(pass: Pass, bindings: Binding[]): Promise<Map<string, Reading>> {
  const readings = new Map<string, Reading>();
  const byCluster = [...groupBy(bindings, (b) => b.cluster)];
  let done = 0;
  await mapLimit(byCluster, pass.config.defaults.clusterConcurrency, async ([cluster, list]) => {
    const read = await readCluster(pass, cluster, list);
    for (const [k, reading] of read) readings.set(k, reading);
    done += 1;
    const failed = [...read.values()].filter((r) => 'error' in r).length;
    pass.log.clusterDone?.({ cluster, done, total: byCluster.length, bindings: list.length, failed });
  });
  return readings;
}

/** One cluster's bindings, namespaces at once (the cluster's call limiter bounds what is in flight). */
async function readCluster(pass: Pass, cluster: string, bindings: Binding[]): Promise<Map<string, Reading>> {
  let api: KubeApi;
  try {
    api = await pass.connect(cluster);
  } catch (error) {
    const failure = asSyncError(error);
    return new Map(bindings.map((binding) => [key(binding), { error: failure }]));
  }
  const perNamespace = await Promise.all(
    [...groupBy(bindings, (b) => b.namespace)].map(([namespace, list]) => readNamespace(api, namespace, list)),
  );
  return new Map(perNamespace.flatMap((read) => [...read]));
}

/** The Secrets of one namespace (metadata only) and, when any target restarts, its workloads once. */
async function readNamespace(api: KubeApi, namespace: string, bindings: Binding[]): Promise<Map<string, Reading>> {
  const restarting = bindings.some((b) => b.target.restart !== 'none');
  const workloads: Promise<Workload[] | SyncError> = restarting
    ? listWorkloads(api, namespace).then(
        (listed) => listed.workloads,
        (error: unknown) => asSyncError(error),
      )
    : Promise.resolve([]);
  const secrets = await Promise.all(
    bindings.map(async (binding): Promise<Omit<Observed, 'workloads'> | SyncError> => {
      try {
        // Metadata only: the API server sends the Secret without its data.
        const secret = await api.getSecretMetadata(namespace, binding.secret);
        return secret === undefined
          ? { exists: false, annotations: {} }
          : { exists: true, annotations: secret.annotations, uid: secret.uid };
      } catch (error) {
        return asSyncError(error);
      }
    }),
  );
  const listed = await workloads;
  const out = new Map<string, Reading>();
  bindings.forEach((binding, i) => {
    const secret = secrets[i] as Omit<Observed, 'workloads'> | SyncError;
    if (secret instanceof SyncError) out.set(key(binding), { error: secret });
    else if (listed instanceof SyncError && binding.target.restart !== 'none') out.set(key(binding), { error: listed });
    else out.set(key(binding), { observed: { ...secret, workloads: listed instanceof SyncError ? [] : listed } });
  });
  return out;
}

function asSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const e = errorOf(error);
  return new SyncError(e.code, e.message, { cause: error });
}

/** One binding's row from its source version and what its cluster told. */
function rowOf(binding: Binding, version: SourceVersion | undefined, reading: Reading): BindingStatus {
  const row: BindingStatus = {
    cluster: binding.cluster,
    namespace: binding.namespace,
    secret: binding.secret,
    source: binding.fetchId,
    state: 'unreadable',
    consumers: [],
  };
  if (version !== undefined && !(version instanceof SyncError) && version.versionId !== undefined) {
    row.sourceVersionId = version.versionId;
  }
  if ('observed' in reading) {
    const { observed } = reading;
    row.secretExists = observed.exists;
    const clusterVersion = observed.annotations[VERSION_ANNOTATION];
    if (clusterVersion !== undefined) row.clusterVersionId = clusterVersion;
    const syncedAt = observed.annotations[SYNCED_AT_ANNOTATION];
    if (syncedAt !== undefined) row.syncedAt = syncedAt;
    const hold = holdOf(observed.annotations);
    if (hold !== undefined) row.hold = hold;
    // Empty for `restart: none`: nothing restarts them, so there is nothing to be behind on.
    row.consumers = consumersOf(binding, observed);
  }
  const failure = 'error' in reading ? reading.error : version instanceof SyncError ? version : undefined;
  if (failure !== undefined || version === undefined) {
    row.error = errorOf(failure ?? new SyncError('Internal', `secret "${binding.fetchId}" was not described`));
    return row;
  }
  const atCurrent = row.secretExists === true && row.clusterVersionId === row.sourceVersionId;
  row.state = atCurrent && row.consumers.every((c) => c.state === 'current') ? 'current' : 'behind';
  return row;
}

/** The consumers the target restarts for this Secret, each compared with the Secret's fingerprint. */
function consumersOf(binding: Binding, observed: Observed): ConsumerStatus[] {
  const { target, secret } = binding;
  const hash = observed.annotations[HASH_ANNOTATION];
  const print = observed.uid === undefined || hash === undefined ? undefined : fingerprint(observed.uid, hash);
  const pending = observed.annotations[RESTART_PENDING_ANNOTATION] !== undefined;
  const annotation = consumerHashAnnotation(secret);
  return observed.workloads
    .filter((w) => restartsWorkload(target.restart, { name: secret, annotations: observed.annotations }, w))
    .map((w) => {
      const carried = fingerprintsOf(w)[annotation];
      let state: ConsumerState;
      if (observed.exists && carried !== undefined && carried === print) state = 'current';
      else if (pending) state = 'pending';
      // No fingerprint and nothing pending: started after the content was written (the restarter's rule too).
      else if (observed.exists && carried === undefined) state = 'current';
      else state = 'stale';
      return { kind: w.kind, name: w.name, state };
    })
    .sort((a, b) => WORKLOAD_KINDS.indexOf(a.kind) - WORKLOAD_KINDS.indexOf(b.kind) || a.name.localeCompare(b.name));
}
