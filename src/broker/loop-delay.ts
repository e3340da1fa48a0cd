/**
 * How late the event loop runs, from perf_hooks' sampler: the figure that says whether some
 * piece of work held the loop (and with it Raft heartbeats and every client) too long.
 *
 * Reported over a recent window: the histogram is rotated every WINDOW_MS, and a reading
 * covers the previous window and the current one, so a stall stays visible for at least one
 * full window after it happened.
 */
import {monitorEventLoopDelay, type IntervalHistogram} from 'node:perf_hooks'

const WINDOW_MS = 5_000
/** Sampling period: finer costs more wake-ups, coarser misses short stalls. */
const RESOLUTION_MS = 10

export interface LoopDelay {
  maxMs: number
  p99Ms: number
}

export class LoopDelayMonitor {
  private readonly histogram: IntervalHistogram
  private previous: LoopDelay = {maxMs: 0, p99Ms: 0}
  private readonly rotation: NodeJS.Timeout

  constructor() {
    this.histogram = monitorEventLoopDelay({resolution: RESOLUTION_MS})
    this.histogram.enable()
    this.rotation = setInterval(() => {
      this.previous = this.current()
      this.histogram.reset()
    }, WINDOW_MS)
    this.rotation.unref()
  }

  /** The worst delay and the 99th percentile over the recent window, in milliseconds. */
  read(): LoopDelay {
    const current = this.current()
    return {maxMs: Math.max(current.maxMs, this.previous.maxMs), p99Ms: Math.max(current.p99Ms, this.previous.p99Ms)}
  }

  stop(): void {
    clearInterval(this.rotation)
    this.histogram.disable()
  }

  private current(): LoopDelay {
    // No sample yet reads as a huge max: report nothing instead.
    if (this.histogram.count === 0) return {maxMs: 0, p99Ms: 0}
    return {maxMs: round(this.histogram.max / 1e6), p99Ms: round(this.histogram.percentile(99) / 1e6)}
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}
