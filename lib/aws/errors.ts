/**
 * What an AWS SDK (or network) error says about retrying, shared by the Secrets Manager and EKS adapters so both
 * classify the same error the same way. Reads only names, codes and metadata: never the message.
 */
import { SyncError } from '../errors.js';

const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
]);
const SERVER_NAMES = new Set(['InternalServiceError', 'ServiceUnavailable', 'ServiceUnavailableException']);
const NETWORK_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'NetworkingError']);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

interface AwsErrorShape {
  name?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: unknown;
}

/** An error name or code safe to put in a message: an identifier, never free text that might echo input. */
export function safeErrorName(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/.test(value) ? value : undefined;
}

/**
 * Whether retrying may succeed: throttling, a server fault (429/5xx, `$fault: server`, SDK-marked retryable), a
 * timeout or a dropped connection. A SyncError keeps its own verdict; anything that is not an object is final.
 */
export function isRetryableAwsError(error: unknown): boolean {
  if (error instanceof SyncError) return error.retryable;
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as AwsErrorShape;
  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status === 429 || status >= 500)) return true;
  if (shape.$fault === 'server' || shape.$retryable !== undefined) return true;
  const name = safeErrorName(shape.name);
  if (name !== undefined && (THROTTLING_NAMES.has(name) || SERVER_NAMES.has(name) || NETWORK_NAMES.has(name))) {
    return true;
  }
  const code = safeErrorName(shape.code);
  return code !== undefined && NETWORK_CODES.has(code);
}
