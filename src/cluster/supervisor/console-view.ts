/**
 * The nodes as the web console draws them: what the supervisor knows of each process and what
 * the nodes last said about their Raft state, with the faults they should have now.
 */
import type {ConsoleNode} from '../../api/console.js'
import type {SupervisorCore} from './core.js'
import type {NetworkFaults} from './network-faults.js'

export function consoleNodes(core: SupervisorCore, faults: NetworkFaults): ConsoleNode[] {
  return core.nodes.map(({record, view}) => {
    const serving = record.process === 'running' || record.process === 'paused'
    return {
      index: record.index,
      node_id: record.node_id,
      membership: record.membership,
      process: record.process,
      pid: record.pid,
      // What a node that does not run last said is history, not its state.
      role: serving ? view.role : null,
      term: view.term,
      vote: serving ? view.vote : null,
      leader: serving ? view.leader : null,
      commit: view.commitIndex,
      applied: view.lastApplied,
      last_index: view.logLength,
      host: record.host,
      http_port: record.http_port,
      faults: serving ? faults.intended(record.index) : [],
    }
  })
}
