/**
 * The dashboard's screen: header, node table, log cells (wide terminals), chart, timeline, key
 * hint and a help overlay, laid out again from the screen's size on every render (so a resize
 * or a tiny terminal never breaks it). It only draws a TopSnapshot and the log tails it is
 * given; it never talks to the cluster.
 */
import blessed from 'blessed'
import type {RaftLogAnswer} from '../api/node-http.js'
import {formatBytes} from '../util/size-text.js'
import {chartSeries, RateChart} from './chart.js'
import {helpLines} from './keys.js'
import {logCells} from './log-cells.js'
import type {NodeRow, RoleView, TimelineEntry, TopSnapshot} from './model.js'

/** What the ROLE cell shows: the Raft role, or for a non-voter its membership (see roleCell). */
type RoleCell = RoleView | 'LEARNER' | 'REMOVED'

const ROLE_COLORS: Record<RoleCell, string> = {
  LEARNER: 'blue',
  REMOVED: 'grey',
  LEADER: 'green',
  FOLLOWER: 'cyan',
  CANDIDATE: 'yellow',
  DOWN: 'red',
  PAUSED: 'magenta',
  STARTING: 'yellow',
  CORRUPT: 'red',
  UNKNOWN: 'white',
}

export const HINT_LONG = '↑↓/jk select  x kill  s stop  r start/restart  p pause/resume  i isolate  h heal  t transfer  a add  d remove  b publisher  ? help  q quit'
export const HINT_SHORT = '↑↓ x kill s stop r start p pause i isol h heal t xfer a add d rm b pub ? q'

/** From this width on, each node's log tail is drawn as cells (a row per node). */
export const LOG_CELLS_WIDTH = 120

/** A node's log tail as last fetched: the answer, null when the node could not say (shown as n/a). */
export type LogTailOf = (index: number) => RaftLogAnswer | null | undefined

/** The timeline box needs its border and one event. */
const TIMELINE_MIN = 3

export class TopView {
  private readonly header: blessed.Widgets.BoxElement
  private readonly table: blessed.Widgets.BoxElement
  private readonly logRows: blessed.Widgets.BoxElement
  private readonly chart: RateChart
  private readonly timeline: blessed.Widgets.BoxElement
  private readonly hint: blessed.Widgets.BoxElement
  private readonly help: blessed.Widgets.BoxElement
  helpShown = false
  /** How many entries each log row can show after the last render; null while the rows are hidden. */
  logEntriesWanted: number | null = null

  constructor(readonly screen: blessed.Widgets.Screen) {
    const box = (options: blessed.Widgets.BoxOptions): blessed.Widgets.BoxElement =>
      blessed.box({parent: screen, tags: true, wrap: false, left: 0, width: '100%', height: 1, top: 0, ...options})
    this.header = box({style: {fg: 'white', bg: 'blue', bold: true}})
    this.table = box({})
    this.logRows = box({})
    this.chart = new RateChart(screen)
    this.timeline = box({label: ' events, newest first ', border: {type: 'line'}, style: {border: {fg: 'grey'}}})
    this.hint = box({style: {fg: 'black', bg: 'white'}})
    this.help = blessed.box({
      parent: screen,
      tags: true,
      top: 'center',
      left: 'center',
      width: HELP_WIDTH,
      height: helpLines().length + 2,
      border: {type: 'line'},
      label: ' help ',
      style: {fg: 'white', bg: 'black', border: {fg: 'yellow'}},
      hidden: true,
      content: helpText(),
    })
  }

  setHelp(shown: boolean): void {
    this.helpShown = shown
    if (shown) {
      this.help.show()
      this.help.setFront()
    } else this.help.hide()
  }

  render(snapshot: TopSnapshot, selected: number, logTail: LogTailOf = () => undefined): void {
    const width = Math.max(1, this.screen.width as number)
    const height = Math.max(1, this.screen.height as number)
    const rows = snapshot.nodes.length + 1
    // Top to bottom: header (1), table (nodes + heading), log cells (a row per node, wide
    // terminals), chart, timeline (the rest), hint (1). Each optional part is drawn only when
    // the timeline still gets its minimum below it.
    let top = 0
    place(this.header, top, 1, height)
    top += 1
    const tableHeight = Math.min(rows, Math.max(0, height - top - 1))
    place(this.table, top, tableHeight, height)
    top += tableHeight
    const logHeight = width >= LOG_CELLS_WIDTH && height - top - 1 - snapshot.nodes.length >= TIMELINE_MIN && snapshot.nodes.length > 0 ? snapshot.nodes.length : 0
    place(this.logRows, top, logHeight, height)
    top += logHeight
    const chartHeight = chartHeightFor(height - top - 1)
    this.chart.place(top, width, chartHeight)
    top += this.chart.shown ? chartHeight : 0
    const timelineHeight = Math.max(0, height - top - 1)
    place(this.timeline, top, timelineHeight >= TIMELINE_MIN ? timelineHeight : 0, height)
    place(this.hint, height - 1, height >= 2 ? 1 : 0, height)

    this.header.setContent(clip(headerText(snapshot), width))
    this.table.setContent(tableLines(snapshot.nodes, selected, width).join('\n'))
    this.logEntriesWanted = logHeight > 0 ? Math.max(1, width - LOG_PREFIX) : null
    if (logHeight > 0) this.logRows.setContent(snapshot.nodes.map((n) => logRowLine(n, selected, logTail(n.index), width)).join('\n'))
    this.chart.draw(chartSeries(snapshot))
    if (timelineHeight >= TIMELINE_MIN) {
      const inner = Math.max(1, width - 2)
      this.timeline.setContent(snapshot.timeline.slice(0, timelineHeight - 2).map((e) => timelineLine(e, inner)).join('\n'))
    }
    this.hint.setContent(clip(width >= HINT_LONG.length ? HINT_LONG : HINT_SHORT, width))
    this.help.width = Math.min(HELP_WIDTH, width)
    this.help.height = Math.min(helpLines().length + 2, height)
    // A chart made anew on a resize is appended over everything: the help stays in front.
    if (this.helpShown) this.help.setFront()
    this.screen.render()
  }
}

const HELP_WIDTH = 66

/** The chart's height for `free` rows: about 40% of them, 8 to 12, leaving the timeline its minimum; 0: no chart. */
function chartHeightFor(free: number): number {
  const height = Math.min(12, Math.max(8, Math.floor(free * 0.4)))
  return free - height >= TIMELINE_MIN ? height : 0
}

/** `>` (selected) and the node index, before the cells. */
const LOG_PREFIX = 4

/** One node's log row: its index, then its log tail as cells, or why there is none. */
export function logRowLine(node: NodeRow, selected: number, tail: RaftLogAnswer | null | undefined, width: number): string {
  const prefix = `${node.index === selected ? '>' : ' '}${String(node.index).padStart(2)} `
  const cells = width - LOG_PREFIX
  if (tail) return blessed.escape(prefix) + logCells(tail, cells)
  const why = node.process !== 'running' ? `log: n/a (${node.process})` : tail === null ? 'log: n/a' : 'log: ...'
  return `${blessed.escape(prefix)}{grey-fg}${blessed.escape(clip(why, cells))}{/grey-fg}`
}

function place(element: blessed.Widgets.BoxElement, top: number, height: number, screenHeight: number): void {
  if (height <= 0 || top >= screenHeight) {
    element.hide()
    return
  }
  element.top = top
  element.height = height
  element.show()
}

export function headerText(s: TopSnapshot): string {
  return blessed.escape(headerPlain(s))
}

export function headerPlain(s: TopSnapshot): string {
  const leader = s.leader === null ? 'none' : `node ${s.leader}`
  const parts = [
    ` pad-cli top`,
    `cluster ${s.cluster}`,
    `leader ${leader}`,
    `term ${s.term ?? '-'}`,
    `elections ${s.elections}`,
    `${s.commits_per_s} msgs/s`,
  ]
  if (s.publisher.on) parts.push(`publishing ${s.publisher.rate}/s`)
  if (s.status_error) parts.push('supervisor not answering')
  return parts.join('  ')
}

const COLUMNS: [string, number][] = [
  [' #', 3],
  ['NODE', 8],
  ['PROCESS', 8],
  ['ROLE', 9],
  ['TERM', 5],
  ['COMMIT', 7],
  ['APPLIED', 7],
  ['LOG', 7],
  ['LAG', 5],
]

/** What a wide terminal adds after LAG: where the node's log starts, and its size on disk. */
const WIDE_COLUMNS: [string, number][] = [
  ['FIRST', 8],
  ['DISK', 9],
]

/** From this width on the table has the WIDE_COLUMNS (80 columns keep the narrow table). */
export const WIDE_TABLE = 100

/** A node id (host:port) in `width` characters: whole if it fits, else its :port. */
function shortId(id: string, width: number): string {
  if (id.length <= width) return id
  const colon = id.lastIndexOf(':')
  return colon >= 0 ? id.slice(colon).slice(0, width) : id.slice(0, width)
}

export function tableLines(nodes: NodeRow[], selected: number, width: number): string[] {
  // Wide terminals get the whole node id (host:port); 80 columns get its :port.
  const longest = Math.max(4, ...nodes.map((n) => n.node_id.length))
  const wide = width >= WIDE_TABLE
  const columns: [string, number][] = [...COLUMNS, ...(wide ? WIDE_COLUMNS : [])].map(([name, w]) => [name, name === 'NODE' && width >= 110 ? Math.min(21, longest) : w])
  const heading = columns.map(([name, w], i) => (i >= 4 ? name.padStart(w) : name.padEnd(w))).join(' ') + ' FAULTS'
  const lines = [`{bold}${blessed.escape(clip(heading, width))}{/bold}`]
  for (const node of nodes) {
    const cells = [
      `${node.index === selected ? '>' : ' '}${String(node.index).padStart(2)}`,
      shortId(node.node_id, columns[1][1]),
      node.process,
      roleCell(node),
      num(node.term),
      num(node.commit_index),
      num(node.last_applied),
      num(node.log_length),
      num(node.lag),
      ...(wide ? [num(node.first_index), node.disk_bytes === null ? '-' : formatBytes(node.disk_bytes)] : []),
    ]
    const texts = cells.map((c, i) => {
      const w = columns[i][1]
      const t = c.length > w ? c.slice(0, w) : c
      return i >= 4 ? t.padStart(w) : t.padEnd(w)
    })
    const faults = node.faults || (node.process === 'running' ? '' : '-')
    const plain = texts.join(' ') + ' ' + faults
    const clipped = clip(plain, width)
    // Color the role cell (columns 0..3 are before it) within what fits.
    const roleStart = texts.slice(0, 3).join(' ').length + 1
    const roleEnd = roleStart + columns[3][1]
    let line = blessed.escape(clipped.slice(0, roleStart))
    if (clipped.length > roleStart) {
      const color = ROLE_COLORS[roleCell(node)]
      line += `{${color}-fg}{bold}${blessed.escape(clipped.slice(roleStart, roleEnd))}{/bold}{/${color}-fg}`
      line += blessed.escape(clipped.slice(roleEnd))
    }
    lines.push(node.index === selected ? `{inverse}${line}${' '.repeat(Math.max(0, width - clipped.length))}{/inverse}` : line)
  }
  return lines
}

/**
 * The ROLE cell. A learner is always a follower, so its cell says LEARNER (while it runs); a
 * removed node's says REMOVED. The 80-column table has no room for a MEMBER column of its own
 * (top --once prints one).
 */
export function roleCell(node: NodeRow): RoleCell {
  if (node.membership === 'removed') return 'REMOVED'
  if (node.membership === 'learner' && node.role === 'FOLLOWER') return 'LEARNER'
  return node.role
}

function timelineLine(entry: TimelineEntry, width: number): string {
  const time = entry.time.slice(11, 19)
  const text = clip(`${time} ${entry.kind === 'action' ? '$ ' : ''}${entry.text}`, width)
  const color = entry.kind === 'action' ? 'yellow' : entry.kind === 'error' ? 'red' : eventColor(entry.type)
  return color ? `{${color}-fg}${blessed.escape(text)}{/${color}-fg}` : blessed.escape(text)
}

function eventColor(type: string): string | null {
  switch (type) {
    case 'election':
    case 'leader':
      return 'green'
    case 'exit':
    case 'kill':
    case 'stop':
      return 'red'
    case 'pause':
    case 'partition':
    case 'delay':
    case 'loss':
      return 'magenta'
    case 'heal':
    case 'resume':
    case 'start':
      return 'cyan'
    default:
      return null
  }
}

function helpText(): string {
  return blessed.escape(helpLines().join('\n'))
}

function num(value: number | null): string {
  return value === null ? '-' : String(value)
}

export function clip(text: string, width: number): string {
  return text.length > width ? text.slice(0, Math.max(0, width)) : text
}
