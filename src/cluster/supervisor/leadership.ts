/**
 * Leadership transfer: asks the leader to hand its leadership to a node (default: the running
 * follower with the longest log) and waits until it has.
 */
import type {TransferAnswer} from '../../api/control.js'
import {ClusterError} from '../errors.js'
import {callJson} from '../../client/node-http-client.js'
import {poll} from '../../util/time.js'
import {STATUS_TIMEOUT_MS, type SupervisorCore} from './core.js'
import type {NodeHandle} from './node-handle.js'
import type {RaftObserver} from './raft-observer.js'

/** How often a leadership transfer that lapsed is asked for again. */
const TRANSFER_ATTEMPTS = 3

/**
 * A transfer lapses after an election timeout if the target does not win in time (as in etcd),
 * which a loaded machine can cause: it is asked again, TRANSFER_ATTEMPTS times in all.
 */
export async function transferLeadership(core: SupervisorCore, observer: RaftObserver, target: NodeHandle | null): Promise<TransferAnswer> {
  const answers = await observer.refresh()
  const from = observer.leaderOf(answers)
  if (from === null) throw new ClusterError('NO_LEADER', 'no node is leader right now: see pad-cli status')
  let to: number
  if (target === null) {
    const followers = [...answers].filter(([index, info]) => index !== from && info.state === 'FOLLOWER' && core.nodes[index].record.process === 'running')
    if (followers.length === 0) throw new ClusterError('NODE_STATE', `no running follower can take over from node ${from}`)
    followers.sort(([a, x], [b, y]) => y.log_length - x.log_length || a - b)
    to = followers[0][0]
  } else {
    to = target.record.index
    if (to === from) return {from, to, leader: from, term: answers.get(from)!.current_term, moved: false}
    if (target.record.process !== 'running') {
      throw new ClusterError('NODE_STATE', `node ${to} is not running (${target.record.process}): it cannot take over; start it with pad-cli start ${to}`)
    }
  }
  core.events.record('transfer', {from, to})
  const waitMs = Math.max(1000, 3 * core.state.options.election_timeout_ms)
  let leader: number | null = from
  for (let attempt = 1; attempt <= TRANSFER_ATTEMPTS; attempt++) {
    if (leader !== null) {
      await callJson(core.nodes[leader].record, 'POST', '/admin/transfer-leader', {body: {to}, token: core.token, timeoutMs: STATUS_TIMEOUT_MS * 3})
    }
    const term = await poll(
      async () => {
        const now = await observer.refresh()
        leader = observer.leaderOf(now)
        return leader === to ? now.get(to)!.current_term : undefined
      },
      {timeoutMs: waitMs, intervalMs: 50},
    )
    if (term !== undefined) return {from, to, leader: to, term, moved: true}
    if (leader !== from && leader !== null) break
  }
  const now = leader === null ? 'no node leads' : `node ${leader} leads`
  throw new ClusterError('TIMEOUT', `node ${from} did not hand its leadership to node ${to} (now ${now}): see pad-cli events`)
}
