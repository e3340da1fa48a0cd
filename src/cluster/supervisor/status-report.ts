/**
 * `status`: every node's process as the supervisor knows it, with its Raft state and faults
 * as the node answers them right now.
 */
import type {CorruptView, MemberRole} from '../../api/control.js'
import {corruptReport} from '../../client/corrupt-report.js'
import type {FaultsAnswer} from '../../api/node-admin.js'
import type {Configuration} from '../membership-plan.js'
import {callJson} from '../../client/node-http-client.js'
import {faultViews, type ClusterStatus, type FaultView, type NodeStatus} from '../status.js'
import {STATUS_TIMEOUT_MS, type SupervisorCore} from './core.js'
import type {NetworkFaults} from './network-faults.js'
import {configurationOf} from './member-calls.js'
import {hasProcess} from './node-handle.js'
import type {RaftObserver} from './raft-observer.js'

export async function clusterStatus(core: SupervisorCore, observer: RaftObserver, faults: NetworkFaults): Promise<ClusterStatus> {
  const answers = await observer.refresh()
  const applied = new Map<number, FaultView[]>()
  // A node that runs but does not answer /raft may be one that found its data corrupt: it says so on /status.
  const corrupt = new Map<number, CorruptView>()
  await Promise.all(
    core.nodes
      .filter((n) => !answers.has(n.record.index) && n.record.process === 'running')
      .map(async (node) => {
        try {
          const found = await corruptReport(node.record, STATUS_TIMEOUT_MS)
          if (found !== null) corrupt.set(node.record.index, {file: found.file, reason: found.reason, detected_at: found.detected_at})
        } catch {
          // It does not answer at all: nothing more to say.
        }
      }),
  )
  await Promise.all(
    core.nodes
      .filter((n) => answers.has(n.record.index))
      .map(async (node) => {
        try {
          const answer = await callJson<FaultsAnswer>(node.record, 'GET', '/admin/faults', {token: core.token, timeoutMs: STATUS_TIMEOUT_MS})
          const views = faultViews(answer.faults)
          // In namespaces the cuts are routes in the kernel, not in the node's filter: shown with what the node has.
          applied.set(node.record.index, core.state.options.netns ? withKernelCuts(views, faults.intended(node.record.index)) : views)
        } catch {
          // Fall back to what the node should have.
        }
      }),
  )
  // The leader as the nodes answered just now, so the table agrees with itself.
  const leader = observer.leaderOf(answers)
  const leaderInfo = leader === null ? undefined : answers.get(leader)
  const leaderCommit = leaderInfo ? leaderInfo.commit_index : null
  const config = configurationOf(leaderInfo)
  const nodes: NodeStatus[] = core.nodes.map((node) => {
    const r = node.record
    const info = answers.get(r.index)
    const running = r.process === 'running' || r.process === 'starting'
    return {
      index: r.index,
      node_id: r.node_id,
      membership: memberRole(r.index, r.membership, config),
      pid: hasProcess(node) ? r.pid : null,
      process: r.process,
      exit_code: r.exit_code,
      exit_signal: r.exit_signal,
      crash_log: r.process === 'crashed' ? node.crashLog : [],
      restart_at: node.restartAt === null ? null : new Date(node.restartAt).toISOString(),
      role: info ? info.state : null,
      term: info ? info.current_term : null,
      commit_index: info ? info.commit_index : null,
      last_applied: info ? info.last_applied : null,
      log_length: info ? info.log_length : null,
      first_index: info ? info.first_index : null,
      snapshot_index: info ? info.snapshot_index : null,
      disk_bytes: info ? info.disk_bytes : null,
      snapshots_sent: info ? info.snapshots_sent : null,
      snapshots_installed: info ? info.snapshots_installed : null,
      corrupt: corrupt.get(r.index) ?? null,
      lag: info && leaderCommit !== null ? Math.max(0, leaderCommit - info.last_applied) : null,
      leader_index: info ? info.leader_index : null,
      host: r.host,
      tcp_port: r.tcp_port,
      http_port: r.http_port,
      raft_port: r.raft_port,
      faults: applied.get(r.index) ?? (running || r.process === 'paused' ? faults.intended(r.index) : []),
      data_dir: r.data_dir,
      log_file: r.log_file,
      lazy_fs: r.lazy_fs ? {backing: r.lazy_fs.backing, pid: r.lazy_fs.pid} : null,
    }
  })
  return {
    cluster: core.state.name,
    leader,
    term: leaderInfo ? leaderInfo.current_term : null,
    supervisor_pid: process.pid,
    membership: config,
    lazy_fs: core.state.options.lazy_fs === true,
    unsafe_no_fsync: core.state.options.unsafe_no_fsync === true,
    nodes,
  }
}

/**
 * What the leader's configuration says of a node, when it states one; else what cluster.json
 * says. A node removed stays removed (a new node's record is ahead of the leader's
 * configuration until it has joined: it shows as the learner it is about to be).
 */
export function memberRole(index: number, recorded: MemberRole, config: Configuration | null): MemberRole {
  if (recorded === 'removed' || config === null) return recorded
  if (config.voters.includes(index)) return 'voter'
  if (config.learners.includes(index)) return 'learner'
  return recorded === 'learner' ? 'learner' : 'removed'
}

/** A node's filter faults with the kernel's cuts (the intended faults' drops) added, by peer. */
function withKernelCuts(views: FaultView[], intended: FaultView[]): FaultView[] {
  const byPeer = new Map(views.map((v) => [v.peer, v]))
  for (const cut of intended.filter((v) => v.drop)) {
    const view = byPeer.get(cut.peer)
    byPeer.set(cut.peer, view ? {...view, drop: true} : {peer: cut.peer, drop: true, expires_at: cut.expires_at})
  }
  return [...byPeer.values()].sort((a, b) => a.peer - b.peer)
}
