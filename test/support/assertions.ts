/** Assertions shared by unit and integration tests. */
import { expect } from 'vitest';
import { InputError, SyncError } from '../../lib/errors.js';

/** Awaits a promise that must reject with a SyncError and returns that error (fails the test otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SyncError);
  return error as SyncError;
}

/** Runs `parse`, which must throw an InputError with `code`, and returns that error (fails the test otherwise). */
export function inputErrorOf(parse: () => unknown, code: 'InvalidEvent' | 'InvalidInput'): InputError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe(code);
    return error as InputError;
  }
  throw new Error(`expected ${code}, but nothing was thrown`);
}

/** Fails when the JSON text of `thing` holds any of `values`, plainly or base64-encoded (as in Secret data). */
export function expectNoSecretValueIn(thing: unknown, ...values: string[]): void {
  const text = JSON.stringify(thing);
  for (const value of values) {
    expect(text).not.toContain(value);
    expect(text).not.toContain(Buffer.from(value).toString('base64'));
  }
}
