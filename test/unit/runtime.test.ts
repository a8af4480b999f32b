import { describe, expect, it } from 'vitest';
import { FLUSH_MARGIN_MS, passDeadline } from '../../functions/runtime.js';

const NOW = 1_700_000_000_000;
const remaining = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

describe('passDeadline', () => {
  it('keeps the flush margin before the end of a normal invocation', () => {
    expect(FLUSH_MARGIN_MS).toBe(5_000);
    expect(passDeadline(remaining(120_000), NOW)).toBe(NOW + 115_000);
  });

  it('keeps a quarter of a short remaining time, never more than is left', () => {
    expect(passDeadline(remaining(8_000), NOW)).toBe(NOW + 6_000);
    expect(passDeadline(remaining(400), NOW)).toBe(NOW + 300);
    expect(passDeadline(remaining(0), NOW)).toBe(NOW);
    expect(passDeadline(remaining(-5), NOW)).toBe(NOW);
  });
});
