/** Nearest-rank quantile (0 < q <= 1) of ascending `sorted`, which must not be empty. */
export function nearestRank(sorted: ArrayLike<number>, q: number): number {
  const rank = Math.ceil(q * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}
