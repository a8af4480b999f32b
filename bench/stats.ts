/** Percentiles for the benchmark output. */

export interface Timing {
  n: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of the samples (ms), rounded to 0.1 ms. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return round(sorted[rank - 1] as number);
}

/** Count, p50, p95, min and max of the samples (ms). */
export function timing(samples: readonly number[]): Timing {
  return {
    n: samples.length,
    p50: percentile(samples, 0.5),
    p95: percentile(samples, 0.95),
    min: round(Math.min(...samples)),
    max: round(Math.max(...samples)),
  };
}

/** Rounds to `digits` decimals (0.1 by default). */
export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
