/**
 * What the nodes say about their Raft state: follows each node's /events stream, asks /raft
 * when told to (the supervisor polls once a second, in case an event was missed), and records
 * roles, elections, leader changes and the snapshots nodes send and install in the timeline.
 */
import {followEvents, type NodeStreamItem} from '../../client/node-events.js'
import {getRaft, type RaftInfo} from '../../client/raft-state.js'
import {STATUS_TIMEOUT_MS, type SupervisorCore} from './core.js'
import type {NodeHandle, RaftView} from './node-handle.js'

export class RaftObserver {
  private leader: number | null = null
  private readonly electionsSeen = new Set<number>()
  /** Who wants every item the nodes' streams bring (the web console), after the view took it in. */
  private readonly listeners = new Set<(index: number, item: NodeStreamItem) => void>()

  constructor(private readonly core: SupervisorCore) {}

  /** Follows the /events stream of the node's current process, again if it ends while that process runs. */
  follow(node: NodeHandle): void {
    node.closeEvents?.()
    const subprocess = node.subprocess
    const index = node.record.index
    node.closeEvents = followEvents(node.record, {
      event: (item) => {
        if (node.subprocess !== subprocess) return
        node.lastEventAt = Date.now()
        const patch = viewPatch(item)
        if (patch) this.observe(index, patch)
        this.recordSnapshot(index, item)
        for (const listener of this.listeners) listener(index, item)
      },
      skipped: (reason, count) => this.core.log('skipped events that do not decode', {node: index, reason, skipped: count}),
      end: () => {
        node.closeEvents = null
        // The stream ended: the node is stopping, or restarted its HTTP server. Follow again
        // while this same process runs; the /raft poll covers the gap.
        setTimeout(() => {
          if (node.subprocess === subprocess && subprocess !== null && !this.core.stopping && node.closeEvents === null && node.record.process === 'running') this.follow(node)
        }, 500).unref()
      },
    })
  }

  /** Calls `listener` with every item of every node's stream (no new stream is opened); returns how to stop. */
  onItem(listener: (index: number, item: NodeStreamItem) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Records in the timeline a snapshot the node sent or installed; other events are not. */
  private recordSnapshot(index: number, item: NodeStreamItem): void {
    if (item.type === 'snapshot-send') this.core.events.record('snapshot-send', {node: index, to: item.to, index: item.index, bytes: item.bytes, ms: item.ms})
    else if (item.type === 'snapshot-install') this.core.events.record('snapshot-install', {node: index, index: item.index, rows: item.rows, ms: item.ms})
  }

  /** Stops following every node. */
  closeAll(): void {
    for (const node of this.core.nodes) node.closeEvents?.()
  }

  /** Merges what a node said about itself; records role changes, elections, leader changes. */
  private observe(index: number, patch: Partial<RaftView>): void {
    const node = this.core.nodes[index]
    const before = node.view
    const view = {...before, ...patch}
    // Updates of an older term never undo newer ones.
    if (before.term !== null && view.term !== null && view.term < before.term) return
    node.view = view
    if (patch.role !== undefined && patch.role !== before.role && view.role !== null) {
      this.core.events.record('role', {node: index, role: view.role, term: view.term})
      if (view.role === 'LEADER' && view.term !== null && !this.electionsSeen.has(view.term)) {
        this.electionsSeen.add(view.term)
        this.core.events.record('election', {term: view.term, winner: index, node_id: node.record.node_id})
      }
    }
    this.updateLeader()
  }

  /** The leader as last recorded (null: none). */
  get currentLeader(): number | null {
    return this.leader
  }

  /** Records a change of leader: the running node that says LEADER in the newest term. */
  updateLeader(): void {
    let leader: number | null = null
    let term = -1
    for (const node of this.core.nodes) {
      if (node.record.process !== 'running' || node.view.role !== 'LEADER') continue
      if ((node.view.term ?? 0) > term) {
        term = node.view.term ?? 0
        leader = node.record.index
      }
    }
    if (leader === this.leader) return
    const previous = this.leader
    this.leader = leader
    this.core.events.record('leader', {leader, previous, term: leader === null ? null : term})
  }

  /** Asks every running node for /raft now. */
  async refresh(): Promise<Map<number, RaftInfo>> {
    const answers = new Map<number, RaftInfo>()
    await Promise.all(
      this.core.nodes
        .filter((n) => n.record.process === 'running' || n.record.process === 'starting')
        .map(async (node) => {
          try {
            const asked = Date.now()
            const info = await getRaft(node.record, STATUS_TIMEOUT_MS)
            answers.set(node.record.index, info)
            // An event that came while we asked may be newer than this answer; a stream that
            // has been quiet for a while may have missed something.
            if (node.lastEventAt < asked - 1000) this.observe(node.record.index, fromRaftInfo(info))
          } catch {
            // Not answering (starting, overloaded): its last view stands.
          }
        }),
    )
    return answers
  }

  /** The running node that answered LEADER in the newest term, or null. */
  leaderOf(answers: Map<number, RaftInfo>): number | null {
    let leader: number | null = null
    for (const [index, info] of answers) {
      if (info.state !== 'LEADER' || this.core.nodes[index].record.process !== 'running') continue
      if (leader === null || info.current_term > answers.get(leader)!.current_term) leader = index
    }
    return leader
  }
}

/** What one event says about the node's view; null for a fault, rpc or snapshot event, which says nothing about it. */
function viewPatch(item: NodeStreamItem): Partial<RaftView> | null {
  switch (item.type) {
    case 'hello':
      return fromRaftInfo(item)
    case 'role':
      return {role: item.role, term: item.term, leader: item.leader}
    case 'term':
      // A new term starts with no vote; the vote event that follows says whom it voted for.
      return {term: item.term, vote: null}
    case 'vote':
      return {term: item.term, vote: item.vote}
    case 'commit':
      return {commitIndex: item.commit_index, lastApplied: item.last_applied}
    case 'fault':
    case 'rpc':
    case 'snapshot-send':
    case 'snapshot-install':
      return null
  }
}

function fromRaftInfo(info: RaftInfo): Partial<RaftView> {
  return {
    role: info.state,
    term: info.current_term,
    vote: info.voted_for ?? null,
    leader: info.leader_index ?? null,
    commitIndex: info.commit_index,
    lastApplied: info.last_applied,
    logLength: info.log_length,
  }
}
