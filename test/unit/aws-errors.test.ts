import { describe, expect, it } from 'vitest';
import { isRetryableAwsError, safeErrorName } from '../../lib/aws/errors.js';
import { SyncError } from '../../lib/errors.js';

const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error('x'), { name }, extra);

describe('isRetryableAwsError', () => {
  it.each([
    ['throttling by name', named('ThrottlingException')],
    ['a throttled request by name', named('RequestThrottledException')],
    ['an unavailable service by name', named('ServiceUnavailableException')],
    ['an internal error by name', named('InternalServiceError')],
    ['a timeout by name', named('TimeoutError')],
    ['a networking error by name', named('NetworkingError')],
    ['HTTP 429', named('Whatever', { $metadata: { httpStatusCode: 429 } })],
    ['HTTP 503', named('Whatever', { $metadata: { httpStatusCode: 503 } })],
    ['a server fault', named('Whatever', { $fault: 'server' })],
    ['an SDK-marked retryable error', named('Whatever', { $retryable: {} })],
    ['a reset connection', named('Error', { code: 'ECONNRESET' })],
    ['an unreachable network', named('Error', { code: 'ENETUNREACH' })],
    ['a plain object (a batch entry)', { name: 'ThrottlingException' }],
    ['a retryable SyncError', new SyncError('SourceError', 'x', { retryable: true })],
  ])('retries %s', (_label, error) => {
    expect(isRetryableAwsError(error)).toBe(true);
  });

  it.each([
    ['access denied', named('AccessDeniedException', { $fault: 'client' })],
    ['HTTP 400', named('ValidationException', { $metadata: { httpStatusCode: 400 } })],
    ['a final SyncError', new SyncError('SourceError', 'x')],
    ['a string', 'ThrottlingException'],
    ['undefined', undefined],
  ])('does not retry %s', (_label, error) => {
    expect(isRetryableAwsError(error)).toBe(false);
  });
});

describe('safeErrorName', () => {
  it('keeps identifiers and drops free text', () => {
    expect(safeErrorName('ResourceNotFoundException')).toBe('ResourceNotFoundException');
    expect(safeErrorName('not an identifier: {"password":"x"}')).toBeUndefined();
    expect(safeErrorName(42)).toBeUndefined();
  });
});
