/**
 * How a fault record reads, in the log, the history's summary and the checker's report:
 * "kill leader 2", "partition halves (0,3 | 1,2,4)", "pause-kill: pause 0, kill node 1, ...".
 */
import {describeCombined} from './combined.js'
import type {FaultRecord} from './history.js'

/** "kill node 1", "partition halves (0 | 1,2)", ... */
export function describeFault(record: FaultRecord): string {
  const detail = record.detail ?? {}
  const who = detail.target === 'leader' ? `leader ${record.nodes.join(',')}` : `node ${record.nodes.join(',')}`
  switch (record.kind) {
    case 'kill':
    case 'stop':
    case 'pause':
      return `${record.kind} ${who}`
    case 'power':
      return `${detail.torn_seed === undefined ? 'power cut' : `torn power cut (seed ${String(detail.torn_seed)})`} ${who}`
    case 'power-all':
      return `power cut every node (${record.nodes.join(',')} at once)`
    case 'pause-kill':
    case 'part-kill':
      return describeCombined(record)
    case 'crash':
      return `crash nodes ${record.nodes.join(',')} (SIGKILL ${record.nodes.length} of ${String(detail.of ?? '?')} at once)`
    case 'delay':
      return `delay ${who} ${detail.delay_ms} ms ±${detail.jitter_ms}`
    case 'loss':
      return `loss ${who} ${Math.round(Number(detail.loss) * 100)}%`
    case 'member-add':
      return `add node ${record.nodes.join(',')}`
    case 'member-remove':
      return `remove ${who}`
    case 'corrupt': {
      const what = detail.bitflip !== undefined ? `${String(detail.bitflip)} bits flipped in` : `${String(detail.truncate)} bytes cut off`
      const repaired = record.nodes.length > 1 ? `, repaired by node ${record.nodes[1]}` : ''
      return `corrupt node ${record.nodes[0]} (${what} its ${String(detail.file ?? '?')})${repaired}`
    }
    case 'member-replace': {
      const [old, added] = record.nodes
      const whom = detail.target === 'leader' ? `leader ${old}` : `node ${old}`
      return `replace ${detail.killed === true ? `killed ${whom}` : whom} by node ${added ?? '?'}`
    }
    default:
      return `partition ${String(detail.name ?? record.kind)}`
  }
}
