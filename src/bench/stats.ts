/**
 * The median the benchmark reports: the lower middle of the sorted values, so that it is
 * always one of the measured values (with 10 kills, the 5th shortest gap). Null for none.
 */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}
