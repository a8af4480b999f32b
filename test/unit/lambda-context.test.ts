import { describe, expect, it } from 'vitest';
import { functionTimeoutMs } from '../../scripts/lambda-context.js';

describe('functionTimeoutMs', () => {
  it("gives each function serverless.yml's timeout, so a local invoke gets Lambda's pass deadline", () => {
    expect(functionTimeoutMs('onRotation')).toBe(120_000);
    expect(functionTimeoutMs('backfill')).toBe(900_000);
    expect(functionTimeoutMs('reconcile')).toBe(900_000);
  });

  it('names a function serverless.yml does not define', () => {
    expect(() => functionTimeoutMs('onRotate')).toThrow('serverless.yml sets no timeout for function "onRotate"');
  });
});
