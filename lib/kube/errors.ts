/**
 * Maps @kubernetes/client-node failures to SyncError: the status code, reason, field paths, cause types and the
 * name of a refusing webhook or policy, never a server message or a request body (Secret data).
 */
import { ApiException } from '@kubernetes/client-node';
import { ClusterConnectionError, type ConnectionFailure, SyncError } from '../errors.js';
import type { KubeTimeouts } from '../timeouts.js';

/** What a request was doing, for error messages. */
export interface KubeOperation {
  verb: string;
  resource: string;
  namespace: string;
  name?: string;
}

/**
 * The parts of a Kubernetes `Status` we keep. Its `message` (and each cause's) is free text that an admission
 * webhook or policy can template request data into, and that the server's own validation uses to quote values
 * (the JSON error of a bad `.dockerconfigjson`): it never leaves this module.
 */
interface KubeStatus {
  reason?: string;
  details?: { kind?: string; name?: string; causes: Array<{ reason?: string; field?: string }> };
  /** Who refused the request (webhook, policy, or the user the authorizer denied), from server-written text. */
  refusedBy?: string;
}

/** `metav1.StatusReason` values; anything else (a webhook may set any text) is dropped. */
const STATUS_REASONS = new Set([
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'AlreadyExists',
  'Conflict',
  'Gone',
  'Invalid',
  'ServerTimeout',
  'StorageReadError',
  'Timeout',
  'TooManyRequests',
  'BadRequest',
  'MethodNotAllowed',
  'NotAcceptable',
  'RequestEntityTooLarge',
  'UnsupportedMediaType',
  'InternalError',
  'Expired',
  'ServiceUnavailable',
]);
/** `metav1.CauseType` and `field.ErrorType` values (the `reason` of `status.details.causes[]`). */
const CAUSE_REASONS = new Set([
  'FieldValueNotFound',
  'FieldValueRequired',
  'FieldValueDuplicate',
  'FieldValueInvalid',
  'FieldValueNotSupported',
  'FieldValueForbidden',
  'FieldValueTooLong',
  'FieldValueTooShort',
  'FieldValueTooMany',
  'FieldValueTooFew',
  'FieldValueTypeInvalid',
  'InternalError',
  'UnexpectedServerResponse',
  'FieldManagerConflict',
  'NamespaceTerminating',
]);
/** A field path as `field.Path` prints it (`data[.dockerconfigjson]`, `metadata.annotations[a/b]`). */
const FIELD_PATH = /^[A-Za-z0-9_.\-/[\]]{1,256}$/;
/** Kinds (`Secret`, or a resource such as `namespaces`) and object names as the API server validates them. */
const DETAIL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?$/;
const MAX_CAUSES = 10;
/**
 * Prefixes the API server itself writes before a webhook's or a policy's own text (the names in them are
 * validated object names), and the authorizer's message, whose only variable part is the authenticated user.
 * https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/
 */
/** An object name (DNS-1123 subdomain), and the `secrets "name" is forbidden: ` that admission errors may start with. */
const NAME = '[a-z0-9][-a-z0-9.]{0,252}';
const FORBIDDEN_PREFIX = '(?:[a-z0-9.]+(?: "[-a-z0-9.]*")? is forbidden: )?';
const REFUSERS: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [
    new RegExp(`^${FORBIDDEN_PREFIX}admission webhook "(${NAME})" denied the request`),
    (m) => `denied by admission webhook "${m[1]}"`,
  ],
  [
    new RegExp(`^${FORBIDDEN_PREFIX}ValidatingAdmissionPolicy '(${NAME})' with binding '(${NAME})' denied request`),
    (m) => `denied by ValidatingAdmissionPolicy "${m[1]}" (binding "${m[2]}")`,
  ],
  [
    /^[a-z0-9.]+(?: "[-a-z0-9.]*")? is forbidden: User "([^"]{1,256})" cannot /,
    (m) => `user "${m[1]}" is not authorized`,
  ],
];

/** The HTTP status of an API answer; undefined when there was none (network, timeout). */
export function statusCode(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && error instanceof Error ? code : undefined;
}

function pick(value: unknown, allowed: Set<string> | RegExp): string | undefined {
  if (typeof value !== 'string') return undefined;
  return (allowed instanceof Set ? allowed.has(value) : allowed.test(value)) ? value : undefined;
}

function refuser(message: unknown): string | undefined {
  if (typeof message !== 'string') return undefined;
  for (const [pattern, describe] of REFUSERS) {
    const match = pattern.exec(message);
    if (match) return describe(match);
  }
  return undefined;
}

/**
 * The structured parts of the V1Status in an ApiException's body (usually raw JSON text; sometimes already
 * parsed, sometimes absent), each checked against Kubernetes' own vocabulary.
 */
function parseStatus(error: unknown): KubeStatus {
  const body = (error as { body?: unknown }).body;
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return {};
    }
  }
  if (typeof value !== 'object' || value === null) return {};
  const status = value as Record<string, unknown>;
  const details = status.details as Record<string, unknown> | undefined;
  const reason = pick(status.reason, STATUS_REASONS);
  const refusedBy = refuser(status.message);
  const parsed: KubeStatus = {
    ...(reason === undefined ? {} : { reason }),
    ...(refusedBy === undefined ? {} : { refusedBy }),
  };
  if (typeof details !== 'object' || details === null) return parsed;
  const kind = pick(details.kind, DETAIL_NAME);
  const name = pick(details.name, DETAIL_NAME);
  const causes = (Array.isArray(details.causes) ? (details.causes as unknown[]) : [])
    .slice(0, MAX_CAUSES)
    .map((cause) => {
      const c = (typeof cause === 'object' && cause !== null ? cause : {}) as Record<string, unknown>;
      const causeReason = pick(c.reason, CAUSE_REASONS);
      const field = pick(c.field, FIELD_PATH);
      return {
        ...(causeReason === undefined ? {} : { reason: causeReason }),
        ...(field === undefined ? {} : { field }),
      };
    })
    .filter((cause) => cause.reason !== undefined || cause.field !== undefined);
  return {
    ...parsed,
    details: { ...(kind === undefined ? {} : { kind }), ...(name === undefined ? {} : { name }), causes },
  };
}

/** A failed JSON Patch `test` operation: a bare 422 naming no object (validation errors name the object). */
export function isFailedPatchTest(error: unknown): boolean {
  return statusCode(error) === 422 && parseStatus(error).details?.kind === undefined;
}

/** `HTTP 422 Invalid: data[.dockerconfigjson] FieldValueInvalid; denied by ...`: the structured parts only. */
function describeStatus(code: number, status: KubeStatus): string {
  const causes = (status.details?.causes ?? []).map((c) => [c.field, c.reason].filter(Boolean).join(' '));
  const head = `HTTP ${code}${status.reason === undefined ? '' : ` ${status.reason}`}`;
  const denied = status.refusedBy === undefined ? '' : `; ${status.refusedBy}`;
  return `${head}${causes.length === 0 ? '' : `: ${causes.join(', ')}`}${denied}`;
}

/**
 * Maps a client-node failure to a SyncError. Only the status code, reason, field paths, cause types and the name
 * of a refusing webhook or policy are copied: server messages and the exception's own `message` (which embeds the
 * response body) may quote what we sent.
 * `timeouts` (those the request ran with) only make timeout messages say how long we waited.
 */
export function translateKubeError(
  cluster: string,
  op: KubeOperation,
  error: unknown,
  timeouts?: Readonly<KubeTimeouts>,
): SyncError {
  if (error instanceof SyncError) return error;
  const where = `in namespace "${op.namespace}" of cluster "${cluster}"`;
  const object = `${singular(op.resource)} "${op.namespace}/${op.name ?? ''}"`;
  const code = statusCode(error);
  if (code === undefined) return networkError(cluster, op, error, timeouts);

  const status = parseStatus(error);
  const detail = describeStatus(code, status);
  const options = { cause: error, status: code };
  switch (true) {
    case code === 401:
      return new SyncError(
        'ClusterUnavailable',
        `cluster "${cluster}" rejected our credentials (401 Unauthorized)`,
        options,
      );
    case code === 403:
      return new SyncError('Forbidden', `forbidden: cannot ${op.verb} ${op.resource} ${where} (${detail})`, options);
    case code === 404 && status.details?.kind === 'namespaces':
      return new SyncError(
        'NamespaceNotFound',
        `namespace "${op.namespace}" not found in cluster "${cluster}"`,
        options,
      );
    case code === 404 && op.verb === 'update':
      // Deleted between our read and our PUT: the same race as a 409, and re-reading resolves it the same way.
      return new SyncError('Conflict', `${object} was deleted concurrently in cluster "${cluster}"`, options);
    case code === 404:
      return new SyncError('KubernetesError', `${object} not found in cluster "${cluster}"`, options);
    case code === 409 && status.reason === 'AlreadyExists':
      return new SyncError('Conflict', `${object} already exists in cluster "${cluster}"`, options);
    case code === 409:
      return new SyncError(
        'Conflict',
        `${object} was modified concurrently in cluster "${cluster}" (cannot ${op.verb}: ${detail})`,
        options,
      );
    case code === 422:
      return new SyncError(
        'KubernetesError',
        `cannot ${op.verb} ${object} in cluster "${cluster}" (${detail})`,
        options,
      );
    case code === 429 || code >= 500 || code === 410: {
      const retryAfterMs = retryAfter(error);
      return new SyncError(
        'KubernetesError',
        `cannot ${op.verb} ${op.resource} ${where}: HTTP ${code}${status.reason ? ` ${status.reason}` : ''}`,
        { ...options, retryable: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
      );
    }
    default:
      // 400 and the rest: the reason only.
      return new SyncError(
        'KubernetesError',
        `cannot ${op.verb} ${op.resource} ${where}: HTTP ${code}${status.reason ? ` ${status.reason}` : ''}`,
        options,
      );
  }
}

/** Certificate problems do not heal by retrying; connection resets and timeouts may. */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|TLS|SSL/;
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL']);

/** undici's timeout errors, by the timeout of ours that fired. */
const TIMEOUT_CODES: Record<string, { failure: ConnectionFailure; what: (t?: Readonly<KubeTimeouts>) => string }> = {
  UND_ERR_CONNECT_TIMEOUT: { failure: 'connect', what: (t) => `could not connect${within(t?.connectMs)}` },
  UND_ERR_HEADERS_TIMEOUT: { failure: 'response', what: (t) => `no response headers${within(t?.headersMs)}` },
  UND_ERR_BODY_TIMEOUT: { failure: 'response', what: (t) => `response body stalled${forMs(t?.bodyMs)}` },
};

function within(ms: number | undefined): string {
  return ms === undefined ? ' in time' : ` within ${ms} ms`;
}

function forMs(ms: number | undefined): string {
  return ms === undefined ? '' : ` for ${ms} ms`;
}

function networkError(
  cluster: string,
  op: KubeOperation,
  error: unknown,
  timeouts: Readonly<KubeTimeouts> | undefined,
): SyncError {
  const codes = errorCodes(error);
  const name = error instanceof Error ? error.name : typeof error;
  const reason = codes.length > 0 ? `${name} (${codes.join(', ')})` : name;
  const trying = `while trying to ${op.verb} ${op.resource} in namespace "${op.namespace}"`;
  const timeout = codes.map((c) => TIMEOUT_CODES[c]).find((t) => t !== undefined);
  if (timeout !== undefined) {
    return new ClusterConnectionError(
      'Timeout',
      timeout.failure,
      `cluster "${cluster}" timed out ${trying}: ${timeout.what(timeouts)} (${codes.join(', ')})`,
      { cause: error, retryable: true },
    );
  }
  const tls = codes.some((c) => TLS_CODE.test(c));
  const failure: ConnectionFailure = tls
    ? 'tls'
    : codes.some((c) => DNS_CODES.has(c))
      ? 'dns'
      : codes.some((c) => CONNECT_CODES.has(c))
        ? 'connect'
        : 'response';
  const problem = tls ? 'TLS verification failed' : 'unreachable';
  return new ClusterConnectionError(
    'ClusterUnavailable',
    failure,
    `cluster "${cluster}" ${problem} ${trying}: ${reason}`,
    {
      cause: error,
      retryable: !tls,
    },
  );
}

/**
 * `Retry-After` of an HTTP answer in milliseconds: delta-seconds or an HTTP date (RFC 9110 10.2.3). The API
 * server sends seconds with 429 (API Priority and Fairness) and some 5xx.
 */
export function retryAfter(error: unknown, now: number = Date.now()): number | undefined {
  const headers = (error as { headers?: unknown } | null)?.headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === 'retry-after');
  const value = typeof entry?.[1] === 'string' ? entry[1].trim() : undefined;
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date names its weekday or month; Date.parse alone would read "-1" as a year.
  const date = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Error codes along the `cause` chain (fetch wraps the socket error as its cause). */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && !codes.includes(code)) codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

function singular(resource: string): string {
  return resource.endsWith('s') ? resource.slice(0, -1) : resource;
}
