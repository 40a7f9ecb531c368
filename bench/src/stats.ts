/**
 * percentile gives the p-th percentile (0 to 100) of `values` by linear
 * interpolation between closest ranks, or NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

/** median is the 50th percentile. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** rate gives items per second for a duration in milliseconds. */
export function rate(items: number, durationMs: number): number {
  return durationMs > 0 ? (items * 1000) / durationMs : Number.NaN;
}

/** round keeps `digits` decimals, so JSON stays readable. */
export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * epochMs is the wall clock in milliseconds with sub-millisecond digits.
 * Harness and workers share the machine's clock, so their stamps compare.
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** highest gives the item with the largest `value`, or undefined for none. */
export function highest<T>(
  items: readonly T[],
  value: (item: T) => number,
): T | undefined {
  return items.reduce<T | undefined>(
    (top, item) => (top === undefined || value(item) > value(top) ? item : top),
    undefined,
  );
}
