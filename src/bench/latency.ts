/** Ack latencies, recorded in microseconds into an HdrHistogram (3 significant digits). */
import * as hdr from 'hdr-histogram-js'

export class LatencyRecorder {
  private readonly histogram = hdr.build({lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3})

  /** Records one latency given in milliseconds. */
  record(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)))
  }

  get count(): number {
    return this.histogram.totalCount
  }

  percentileMs(p: number): number {
    return this.histogram.totalCount === 0 ? 0 : round3(this.histogram.getValueAtPercentile(p) / 1000)
  }

  maxMs(): number {
    return this.histogram.totalCount === 0 ? 0 : round3(this.histogram.maxValue / 1000)
  }
}

export function round3(value: number): number {
  return Math.round(value * 1000) / 1000
}
