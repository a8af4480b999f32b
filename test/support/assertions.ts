/** Assertions shared by unit and integration tests. */
import { expect } from 'vitest';
import { SyncError } from '../../lib/errors.js';

/** Awaits a promise that must reject with a SyncError and returns that error (fails the test otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SyncError);
  return error as SyncError;
}
