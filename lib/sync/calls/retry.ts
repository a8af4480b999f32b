/**
 * A KubeApi that retries what the API server answered with 429 (API Priority and Fairness) or 5xx: jittered
 * exponential backoff, at least the server's `Retry-After`, a bounded number of attempts, and never a wait that
 * would end after the pass's deadline. Errors without an answer (timeouts, resets) are not retried here: the
 * request may have been processed, and a cluster that does not answer would only cost its timeout again.
 *
 * Which calls are safe to repeat blindly (the first attempt may have been applied although it failed):
 * - reads (`getSecret`, `getSecretMetadata`, `listWorkloads`, `readWorkloadStatus`): yes.
 * - `createSecret`: yes; a repeat of an applied create gets 409 AlreadyExists, and the writer re-reads.
 * - `replaceSecret`: yes; it carries the resourceVersion read, so a repeat of an applied PUT gets 409.
 * - `patchTemplateAnnotations`: yes; with `expected` its `test` fails once applied (Conflict, the restarter
 *   re-reads and finds the workload current); without, it sets the same values again (no new rollout).
 * - `clearSecretAnnotation`, `annotateSecret`: yes; they are conditional (JSON Patch `test`), a repeat changes
 *   nothing.
 * - `recordEvent`: not retried at all. An Event is best effort: a cluster that answers 5xx would only spend the
 *   pass's time on it, and a lost Event costs nothing but the Event.
 * - `deleteSecret`: only with preconditions (uid and resourceVersion read), which make a repeat harmless (404 or
 *   409). Without them a repeat some seconds later could delete a Secret that another pass recreated meanwhile.
 */
import { SyncError } from '../../errors.js';
import type { KubeApi } from '../ports/kube.js';
import { decorate } from './decorate.js';

export interface RetryOptions {
  /** Epoch milliseconds: no retry whose wait would end after it. */
  deadlineAt?: number;
  /** Attempts per call, the first included. */
  maxAttempts?: number;
  /** Backoff ceiling of the first retry; it doubles with each further retry. */
  baseDelayMs?: number;
  /** Longest single wait: a `Retry-After` above it is not waited for (the error is returned, still retryable). */
  maxDelayMs?: number;
  /** Told before each wait (logging); never sees request bodies. */
  onRetry?: (retry: { call: string; attempt: number; delayMs: number; error: SyncError }) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1). */
  random?: () => number;
}

export const DEFAULT_MAX_ATTEMPTS = 4;
export const DEFAULT_BASE_DELAY_MS = 200;
export const DEFAULT_MAX_DELAY_MS = 10_000;

/** Whether the API server answered with a status worth repeating the same request for. */
export function isRetryableAnswer(error: unknown): error is SyncError {
  if (!(error instanceof SyncError) || !error.retryable || error.status === undefined) return false;
  return error.status === 429 || error.status >= 500;
}

/** Wraps `api` so that its idempotent-safe calls are retried on 429 and 5xx answers (see the module comment). */
export function retryCalls(api: KubeApi, options: RetryOptions = {}): KubeApi {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;

  /** The wait before retry number `retry` (1-based), or undefined when we should give up. */
  function delayFor(retry: number, error: SyncError): number | undefined {
    // Full jitter (spreads the clients that a throttling server answered at once), on top of Retry-After if any.
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (retry - 1));
    const delay = error.retryAfterMs === undefined ? random() * ceiling : error.retryAfterMs + random() * baseDelayMs;
    if ((error.retryAfterMs ?? 0) > maxDelayMs) return undefined;
    if (options.deadlineAt !== undefined && now() + delay > options.deadlineAt) return undefined;
    return Math.round(delay);
  }

  async function retrying<T>(call: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (attempt >= maxAttempts || !isRetryableAnswer(error)) throw error;
        const delayMs = delayFor(attempt, error);
        if (delayMs === undefined) throw error;
        options.onRetry?.({ call, attempt, delayMs, error });
        await sleep(delayMs);
      }
    }
  }

  return decorate(api, ({ call, args }, next) =>
    // A delete without preconditions is not safe to repeat, an Event not worth it (see the module comment).
    (call === 'deleteSecret' && args[2] === undefined) || call === 'recordEvent' ? next() : retrying(call, next),
  );
}
