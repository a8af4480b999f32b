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

/**
 * Fails when `thing` (a text as it is, anything else as its JSON text) holds any of `values`, plainly or
 * base64-encoded (as in Secret data).
 */
export function expectNoSecretValueIn(thing: unknown, ...values: string[]): void {
  const text = typeof thing === 'string' ? thing : JSON.stringify(thing);
  for (const value of values) {
    expect(text).not.toContain(value);
    expect(text).not.toContain(Buffer.from(value).toString('base64'));
  }
}

/** The secret values one test file makes up (`<label>-<run>-<random>`), kept so that it can check none leaked. */
export function seededValues(run: string): { seeded: string[]; value: (label: string) => string } {
  const seeded: string[] = [];
  const value = (label: string): string => {
    const password = `${label}-${run}-${Math.random().toString(36).slice(2, 10)}`;
    seeded.push(password);
    return JSON.stringify({ username: 'app', password });
  };
  return { seeded, value };
}
