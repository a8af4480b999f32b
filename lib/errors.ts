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
  /** The pass could not confirm that what it synced is still AWSCURRENT (check failed, or read behind the event). */
  | 'VersionUnconfirmed'
  | 'KubernetesError'
  | 'Internal';

export class SyncError extends Error {
  override readonly name: string = 'SyncError';
  readonly code: ErrorCode;
  /** Whether retrying the same request later may succeed (5xx, throttling, network). */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? false;
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

/** Turns anything thrown into a SyncError without copying unknown messages that could hold a value. */
export function toSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const name = error instanceof Error ? error.name : typeof error;
  return new SyncError('Internal', `unexpected ${name}`, { cause: error });
}
