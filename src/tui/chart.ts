/**
 * The dashboard's chart row: a blessed-contrib line chart of the commit rate and of the p99
 * publish latency over the last CHART_POINTS seconds. blessed-contrib sizes a chart's canvas
 * once, when it is attached, so a chart of another size is a new widget; one below the
 * minimum size is not drawn at all (the canvas would have no pixels).
 */
import contrib from 'blessed-contrib'
import type blessed from 'blessed'
import type {TopSnapshot} from './model.js'

export const CHART_POINTS = 60
export const CHART_MIN_WIDTH = 40
export const CHART_MIN_HEIGHT = 8
export const RATE_COLOR = 'green'
export const LATENCY_COLOR = 'yellow'

export interface ChartSeries {
  /** Seconds before now, oldest first ("-59" .. "0"). */
  x: string[]
  commits: number[]
  /** ms; 0 for a second without an acknowledged publish of top's publisher. */
  p99: number[]
  /** Top of the y axis: a little above the highest point of either series, at least 1. */
  maxY: number
  /** The chart's border label (blessed tags): each series in its color with its latest value. */
  label: string
}

/** The chart's data from a snapshot: the last `points` seconds (two at least, so a line can be drawn). */
export function chartSeries(snapshot: TopSnapshot, points = CHART_POINTS): ChartSeries {
  const n = Math.max(2, Math.min(points, snapshot.rate_history.length))
  const pad = <T>(values: T[], fill: T): T[] => [...Array<T>(Math.max(0, n - values.length)).fill(fill), ...values.slice(-n)]
  const commits = pad(snapshot.rate_history, 0)
  const p99s = pad(snapshot.p99_history, null)
  const p99 = p99s.map((v) => v ?? 0)
  const top = Math.max(1, ...commits, ...p99)
  const lastP99 = p99s.findLast((v) => v !== null) ?? null
  const latency = snapshot.publisher.on ? `p99 publish ${lastP99 === null ? '-' : `${lastP99} ms`}` : 'p99 publish ms (b publishes)'
  return {
    x: commits.map((_, i) => String(i - (n - 1))),
    commits,
    p99,
    maxY: Math.ceil(top * 1.2),
    label: ` {${RATE_COLOR}-fg}commits/s ${snapshot.commits_per_s}{/${RATE_COLOR}-fg}  {${LATENCY_COLOR}-fg}${latency}{/${LATENCY_COLOR}-fg}  last ${n} s `,
  }
}

export class RateChart {
  private line: contrib.Widgets.LineElement | null = null
  private size = ''
  private drawn = ''

  constructor(private readonly screen: blessed.Widgets.Screen) {}

  /** True when a chart of this size can be drawn. */
  static fits(width: number, height: number): boolean {
    return width >= CHART_MIN_WIDTH && height >= CHART_MIN_HEIGHT
  }

  /** Puts the chart at `top`, `width` x `height`, or takes it away when that is too small. */
  place(top: number, width: number, height: number): void {
    if (!RateChart.fits(width, height)) {
      this.remove()
      return
    }
    const size = `${width}x${height}`
    if (this.line && size === this.size) {
      this.line.top = top
      return
    }
    this.remove()
    const canvasRows = height * 4 - 8 - 11
    // Created without a parent and appended: the canvas only exists after the attach event.
    const line = contrib.line({
      top,
      left: 0,
      width,
      height,
      tags: true,
      border: {type: 'line'},
      showLegend: false,
      minY: 0,
      numYLabels: Math.max(2, Math.floor(canvasRows / 4)),
      xLabelPadding: 3,
      xPadding: 8,
      // The canvas knows the eight basic colors and 'normal' (the terminal's own) only.
      style: {line: RATE_COLOR, text: 'normal', baseline: 'normal', border: {fg: 'grey'}},
    } as contrib.Widgets.LineOptions)
    this.screen.append(line)
    this.line = line
    this.size = size
    this.drawn = ''
  }

  draw(series: ChartSeries): void {
    const line = this.line
    if (!line) return
    const key = JSON.stringify(series)
    if (key === this.drawn) return
    this.drawn = key
    line.options.maxY = series.maxY
    line.setData([
      {title: 'commits/s', x: series.x, y: series.commits, style: {line: RATE_COLOR}},
      {title: 'p99 ms', x: series.x, y: series.p99, style: {line: LATENCY_COLOR}},
    ])
    line.setLabel(series.label)
  }

  get shown(): boolean {
    return this.line !== null
  }

  private remove(): void {
    if (!this.line) return
    this.line.destroy()
    this.line = null
    this.size = ''
  }
}
