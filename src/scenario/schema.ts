/**
 * What a scenario is (see docs/scenarios.md): a name, a one-line summary, the cluster it wants,
 * and steps, each one of say, remember, fault, publish, wait-for, expect, sleep. The types
 * here are what the runner executes; the validator (validate.ts) builds them from a file.
 */
import type {RaftRole} from '../api/node-http.js'

/** Node references a step may use besides an index: resolved when the step runs (refs.ts). */
export const NODE_NAMES = ['leader', 'old-leader', 'follower', 'added'] as const
export type NodeName = (typeof NODE_NAMES)[number]
export type NodeRefValue = number | NodeName

export const FAULT_KINDS = ['kill', 'stop', 'start', 'restart', 'pause', 'resume', 'isolate', 'partition', 'heal', 'delay', 'loss', 'transfer', 'add', 'remove', 'power-cut'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]
/** Faults that act on one node, named by `node`. */
export const NODE_FAULTS: readonly FaultKind[] = ['kill', 'stop', 'start', 'restart', 'pause', 'resume', 'isolate', 'delay', 'loss', 'remove']

export const CONDITIONS = [
  'leader',
  'role',
  'stepped-down',
  'converged',
  'caught-up',
  'refuses-writes',
  'no-acked-lost',
  'unacked-absent',
  'uncommitted',
  'term-advanced',
  'snapshot-installed',
  'voter',
] as const
export type ConditionKind = (typeof CONDITIONS)[number]
/** Conditions about one node, named by `node`. */
export const NODE_CONDITIONS: readonly ConditionKind[] = ['role', 'stepped-down', 'caught-up', 'refuses-writes', 'uncommitted', 'snapshot-installed', 'voter']

export const STEP_KINDS = ['say', 'remember', 'fault', 'publish', 'wait-for', 'expect', 'sleep'] as const
export type StepKind = (typeof STEP_KINDS)[number]

/** Roles as a file writes them (lower case), and as /raft answers them. */
export const ROLE_NAMES: Record<string, RaftRole> = {leader: 'LEADER', follower: 'FOLLOWER', candidate: 'CANDIDATE', 'pre-candidate': 'PRE_CANDIDATE'}

interface StepBase {
  /** The line the step starts on, for errors and the narration's references. */
  line: number
  /** What the file says to narrate before the step (else a default hint of the kind). */
  text?: string
}

export type Step =
  | (StepBase & {kind: 'say'; say: string})
  | (StepBase & {kind: 'remember'; what: 'leader' | 'follower'})
  | (StepBase & {
      kind: 'fault'
      fault: FaultKind
      node?: NodeRefValue
      /** partition: the groups (the nodes named nowhere form one more group). */
      groups?: NodeRefValue[][]
      /** power-cut: the nodes cut at once. */
      nodes?: NodeRefValue[]
      /** transfer: to whom (default: the follower with the longest log). */
      to?: NodeRefValue
      ms?: number
      jitterMs?: number
      percent?: number
    })
  | (StepBase & {
      kind: 'publish'
      count: number
      topic: string
      node: NodeRefValue
      /** acked: every publish must be acknowledged; unacked: none may be (a minority, a stale leader). */
      outcome: 'acked' | 'unacked'
      timeoutMs: number
    })
  | (StepBase & {kind: 'wait-for' | 'expect'; condition: ConditionKind; node?: NodeRefValue; not?: NodeRefValue; role?: RaftRole; withinMs: number})
  | (StepBase & {kind: 'sleep'; ms: number})

export interface Scenario {
  name: string
  summary: string
  /** Nodes of the temporary cluster (--nodes overrides). */
  nodes: number
  /** The temporary cluster's compaction thresholds (follower-catch-up runs them low). */
  snapshotEntries?: number
  trailingEntries?: number
  steps: Step[]
}

/** Defaults: a wait-for's and an expect's bound, a publish's, and the topic. */
export const DEFAULT_WAIT_MS = 15_000
export const DEFAULT_EXPECT_MS = 5_000
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5_000
export const DEFAULT_REFUSE_MS = 3_000
export const DEFAULT_TOPIC = 'scenario'
export const MAX_STEPS = 200
export const MAX_PUBLISH = 10_000
export const MAX_NODES = 9
export const MAX_WAIT_MS = 10 * 60_000
