/**
 * The project's error classes. Messages name the thing that failed (secret id, cluster, namespace, key names)
 * and never carry a secret value. SDK errors are translated into these by the adapter that caught them.
 */

/** Stable machine-readable error codes, used in reports and metrics. */
export type ErrorCode =
  | 'InvalidConfig'
  | 'InvalidEvent'
  | 'InvalidInput'
  | 'SecretNotFound'
  | 'SecretNotJson'
  | 'KeyNotFound'
  | 'SourceError'
  | 'ClusterUnknown'
  | 'ClusterUnavailable'
  | 'Forbidden'
  | 'NamespaceNotFound'
  | 'NotManaged'
  | 'OwnedByOtherController'
  | 'SourceMismatch'
  | 'Immutable'
  | 'TypeChange'
  | 'TooLarge'
  | 'Conflict'
  /** The cluster does not serve a workload kind (a Rollout where the Argo Rollouts CRD is not installed). */
  | 'KindNotServed'
  /** The pass could not confirm that what it synced is still AWSCURRENT (check failed, or read behind the event). */
  | 'VersionUnconfirmed'
  | 'KubernetesError'
  | 'Timeout'
  | 'DeadlineExceeded'
  /** A continuation of waves (README "Waves") could not be sent to, or read from, its queue. */
  | 'ContinuationFailed'
  /** Work items of a queued pass could not be enqueued (README "Fleet scale: work items"). */
  | 'QueueFailed'
  | 'Internal';

export class SyncError extends Error {
  override readonly name: string = 'SyncError';
  readonly code: ErrorCode;
  /** Whether retrying the same request later may succeed (5xx, throttling, network). */
  readonly retryable: boolean;
  /** HTTP status of the answer, when a server answered (Kubernetes API errors). */
  readonly status?: number;
  /** How long the server asked us to wait before retrying (its `Retry-After`), in milliseconds. */
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, options?: SyncErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? false;
    if (options?.status !== undefined) this.status = options.status;
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export interface SyncErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  status?: number;
  retryAfterMs?: number;
}

/**
 * Where a request to a cluster failed when no HTTP answer came: `dns`, `connect` (refused, unreachable, connect
 * timeout) and `tls` may mean the cached endpoint or CA is stale; `response` (no headers or body in time, reset) not.
 */
export type ConnectionFailure = 'dns' | 'connect' | 'tls' | 'response';

/** A Kubernetes request that got no HTTP answer. Code `ClusterUnavailable`, or `Timeout` for our own timeouts. */
export class ClusterConnectionError extends SyncError {
  override readonly name = 'ClusterConnectionError';
  readonly failure: ConnectionFailure;

  constructor(
    code: 'ClusterUnavailable' | 'Timeout',
    failure: ConnectionFailure,
    message: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(code, message, options);
    this.failure = failure;
  }
}

/** The configuration file is invalid; `issues` name the place in the file (e.g. `syncs[0].targets[1].keys`). */
export class ConfigError extends SyncError {
  override readonly name = 'ConfigError';
  readonly issues: string[];

  constructor(issues: string[], options?: { cause?: unknown }) {
    super('InvalidConfig', `invalid configuration: ${issues.join('; ')}`, options);
    this.issues = issues;
  }
}

/** An event or manual input that cannot be understood; nothing was done. */
export class InputError extends SyncError {
  override readonly name = 'InputError';

  constructor(code: 'InvalidEvent' | 'InvalidInput', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * The pass deadline came while a call was in flight or about to start: the pass stopped waiting for it and started
 * nothing after it. Retryable: what the call may still have done is repaired by the next pass (restart-pending marker).
 */
export class DeadlineExceededError extends SyncError {
  override readonly name = 'DeadlineExceededError';
  /** The step the pass was in, e.g. `connect`, `write Secret`, `restart`, `version check`. */
  readonly step: string;
  readonly where: { cluster?: string; object?: string };

  constructor(step: string, where: { cluster?: string; object?: string } = {}) {
    const place = where.cluster === undefined ? '' : ` for cluster "${where.cluster}"`;
    const object = where.object === undefined ? '' : ` (${where.object})`;
    super(
      'DeadlineExceeded',
      `pass deadline reached${place} during ${step}${object}; stopped waiting, the next pass repairs it`,
      { retryable: true },
    );
    this.step = step;
    this.where = where;
  }

  /** The same failure, as seen by a binding in `cluster` (e.g. its source read was cut). */
  forCluster(cluster: string): DeadlineExceededError {
    return new DeadlineExceededError(this.step, { ...this.where, cluster });
  }
}

/** Turns anything thrown into a SyncError without copying unknown messages that could hold a value. */
export function toSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const name = error instanceof Error ? error.name : typeof error;
  return new SyncError('Internal', `unexpected ${name}`, { cause: error });
}
