/**
 * What a step's node reference means when the step runs. `leader` is whoever leads now;
 * `old-leader` the leader remembered at the last `remember: leader`, fault on `leader` or transfer; `follower` a
 * follower picked once (at `remember: follower`, or at its first use) and the same node after,
 * so "stop the follower ... start the follower" names one node; `added` the node of the last
 * `add`. Pure: it reads a view of the cluster and the remembered nodes, and updates the latter.
 */
import type {NodeRefValue} from './schema.js'

export interface Remembered {
  oldLeader: number | null
  /** The old leader's term when it was remembered (term-advanced compares with it). */
  oldTerm: number | null
  follower: number | null
  added: number | null
}

export function nothingRemembered(): Remembered {
  return {oldLeader: null, oldTerm: null, follower: null, added: null}
}

/** A member as the supervisor reports it. */
export interface MemberView {
  index: number
  process: string
  membership: string
}

export interface ClusterView {
  leader: number | null
  term: number | null
  nodes: readonly MemberView[]
}

/** A reference that names no node now (no leader, no follower left): the step fails with this. */
export class RefError extends Error {}

export function resolveRef(ref: NodeRefValue, view: ClusterView, remembered: Remembered): number {
  if (typeof ref === 'number') return ref
  switch (ref) {
    case 'leader':
      if (view.leader === null) throw new RefError('no node leads right now')
      return view.leader
    case 'old-leader':
      if (remembered.oldLeader === null) throw new RefError('no leader was remembered (no node led at the last remember or fault)')
      return remembered.oldLeader
    case 'added':
      if (remembered.added === null) throw new RefError('no node was added yet')
      return remembered.added
    case 'follower':
      return remembered.follower ?? (remembered.follower = pickFollower(view, remembered))
  }
}

/** The lowest-index running member that neither leads nor is the old leader. */
export function pickFollower(view: ClusterView, remembered: Remembered): number {
  const candidate = view.nodes.find((n) => n.membership !== 'removed' && n.process === 'running' && n.index !== view.leader && n.index !== remembered.oldLeader)
  if (!candidate) throw new RefError('no running follower to pick')
  return candidate.index
}

/** `remember: leader`, a fault on `leader`, a transfer: the leader now (null if none) becomes old-leader. */
export function rememberLeader(view: ClusterView, remembered: Remembered): void {
  remembered.oldLeader = view.leader
  remembered.oldTerm = view.term
}
