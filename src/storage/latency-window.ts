import {nearestRank} from '../util/quantile.js'

/** Summary of the recent samples of a LatencyWindow, in milliseconds. */
export interface LatencySummary {
  last: number
  avg: number
  p50: number
  p99: number
  max: number
}

/**
 * The last `size` samples in a ring, for percentiles over a bounded recent window.
 * Adding is O(1); summarizing sorts a copy, so call it when metrics are asked for, not per sample.
 */
export class LatencyWindow {
  private readonly samples: Float64Array
  private count = 0
  private next = 0
  private lastSample = 0

  constructor(size = 1024) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window size must be a positive integer, got ${size}`)
    this.samples = new Float64Array(size)
  }

  add(ms: number): void {
    this.samples[this.next] = ms
    this.next = (this.next + 1) % this.samples.length
    if (this.count < this.samples.length) this.count++
    this.lastSample = ms
  }

  summary(): LatencySummary {
    if (this.count === 0) return {last: 0, avg: 0, p50: 0, p99: 0, max: 0}
    const sorted = this.samples.slice(0, this.count).sort()
    let sum = 0
    for (const s of sorted) sum += s
    return {
      last: this.lastSample,
      avg: sum / this.count,
      p50: nearestRank(sorted, 0.5),
      p99: nearestRank(sorted, 0.99),
      max: sorted[sorted.length - 1],
    }
  }
}
