/**
 * The supervisor's control protocol: one JSON request per connection on the Unix socket in
 * the cluster folder, answered by one JSON line, after which the supervisor closes the
 * connection.
 *
 *   > {"op":"kill","node":"leader"}
 *   < {"ok":true,"node":1,"pid":4242,"exit":{"code":null,"signal":"SIGKILL"}}
 *   < {"ok":false,"error":{"code":"NODE_STATE","message":"node 1 is not running"}}
 *
 * Each request type (`ControlRequests[op]`) maps to its answer type (`ControlAnswers[op]`).
 * The socket is hostile input like any other: `decodeControlRequest` checks a request's shape
 * and the bounds of its numbers; what depends on the cluster (a node index in range, a node
 * that runs) is the supervisor's to check. Types and codecs only: nothing here does I/O.
 */

// ---------------------------------------------------------------------------------------
// Shared values

/** A node as a request names it: its index, or whichever node leads right now. */
export type NodeRef = number | 'leader'

export const PARTITION_SHAPES = ['halves', 'ring', 'bridge'] as const
export type PartitionShape = (typeof PARTITION_SHAPES)[number]

/** `exited`: killed by the supervisor or ended cleanly; `crashed`: ended by itself. */
export type ProcessState = 'starting' | 'running' | 'paused' | 'stopped' | 'exited' | 'crashed'

export const CONTROL_ERROR_CODES = ['NOT_UP', 'ALREADY_UP', 'BAD_ARGUMENT', 'PORT_IN_USE', 'NO_LEADER', 'NODE_STATE', 'SUPERVISOR', 'NODE_API', 'TIMEOUT', 'CONFLICT', 'UNSUPPORTED', 'NETNS'] as const
export type ControlErrorCode = (typeof CONTROL_ERROR_CODES)[number]

/** Bounds of the fault requests' numbers. */
export const MAX_DELAY_MS = 60_000
export const MAX_FOR_MS = 7 * 24 * 3600 * 1000

// ---------------------------------------------------------------------------------------
// Requests

interface NodeFields {
  node: NodeRef
}

export interface ControlRequests {
  status: Record<never, never>
  ping: Record<never, never>
  down: Record<never, never>
  kill: NodeFields
  stop: NodeFields
  start: NodeFields
  restart: NodeFields
  pause: NodeFields
  resume: NodeFields
  /** Either groups (the rest of the nodes form one more group) or a named shape. */
  /** `order`: the node order a shape is cut from (a permutation of the indexes; default index order). */
  partition: {groups?: NodeRef[][]; shape?: PartitionShape; order?: number[]; for_ms?: number | null}
  heal: Record<never, never>
  /** Without `to`: the running follower with the longest log. */
  transfer: {to?: NodeRef | null}
  delay: NodeFields & {ms: number; jitter_ms?: number; for_ms?: number | null}
  /** `percent` from 0 to 100; 0 ends the node's loss. */
  loss: NodeFields & {percent: number; for_ms?: number | null}
  /**
   * A new node: the next index, started as a learner that joins through the leader. Without
   * `wait` the answer comes once the learner serves (catch-up and promotion go on in the
   * supervisor, in the timeline); with `wait`, once it is a voter.
   */
  add: {wait?: boolean}
  /** Takes the node out of the configuration (leadership moves first), then stops it. */
  remove: NodeFields
  /** `add --wait`, then `remove` of the node. */
  replace: NodeFields
  /**
   * A power cut of the nodes named (or of every member with `all`), on a cluster started with
   * `up --lazy-fs`: all are SIGKILLed first, then each one's unsynced writes are dropped, then
   * those that ran start again. `torn` (with `seed`, default 0): of each file's last unsynced
   * write a seeded prefix of whole 512-byte sectors survives (native/lazyfs `cut torn`).
   */
  'power-cut': {nodes?: NodeRef[]; all?: boolean; torn?: boolean; seed?: number}
  /**
   * Damages a stopped node's database or WAL (the file nemesis): exactly one of `bitflip` (bits
   * flipped in one random stretch) and `truncate` (bytes cut off the end). Refused while it runs.
   */
  corrupt: NodeFields & {bitflip?: number; truncate?: number; file: CorruptFileName}
  /**
   * Rebuilds a node that reports its data corrupt: `replace` (a new member catches up from the
   * leader), then the old data dir is set aside. `force`: a node that does not say corrupt too.
   */
  repair: NodeFields & {force?: boolean}
  /**
   * A line of a scenario's narration (pad-cli scenario run), recorded in the timeline as a
   * `scenario` event so that `events -f`, top and the web console show it. Hostile like the
   * rest: the decoder strips control characters and caps every string.
   */
  say: {scenario: string; step: number; text: string; kind: NarrationKind}
}

/** What a narration line is: a step's announcement, a check begun, and how a step ended. */
export const NARRATION_KINDS = ['say', 'check', 'pass', 'fail'] as const
export type NarrationKind = (typeof NARRATION_KINDS)[number]
/** Bounds of `say`: characters of its text and of the scenario's name, and its step number. */
export const MAX_SAY_TEXT = 1000
export const MAX_SAY_NAME = 100
export const MAX_SAY_STEP = 10_000

/** The files `corrupt` may damage: the node database, or its write-ahead log. */
export const CORRUPT_FILE_NAMES = ['db', 'wal'] as const
export type CorruptFileName = (typeof CORRUPT_FILE_NAMES)[number]
/** Bounds of `corrupt`: bits flipped in one go, bytes cut off. */
export const MAX_BITFLIP_BITS = 1_000_000
export const MAX_TRUNCATE_BYTES = 1024 ** 4

export type ControlOp = keyof ControlRequests

export const CONTROL_OPS: readonly ControlOp[] = ['status', 'ping', 'down', 'kill', 'stop', 'start', 'restart', 'pause', 'resume', 'partition', 'heal', 'transfer', 'delay', 'loss', 'add', 'remove', 'replace', 'power-cut', 'corrupt', 'repair', 'say']

/** The request of one op, as it goes over the socket. */
export type RequestOf<K extends ControlOp> = {op: K} & ControlRequests[K]

/** A request of any op (as decoded, before it is dispatched to its op's handler). */
export type ControlRequest = RequestOf<ControlOp>

// ---------------------------------------------------------------------------------------
// Answers

export interface ExitInfo {
  code: number | null
  signal: string | null
}

/** Which nodes got the faults now, and which get them when they are back. */
export interface PushResult {
  applied: number[]
  pending: number[]
  /**
   * A cluster in network namespaces (`up --netns`) cuts partitions in the kernel: what each
   * node's namespace was changed to (unreachable routes to peer addresses, added and removed).
   * Absent otherwise.
   */
  routes?: RouteChange[]
}

/** One node's namespace after a partition or heal: the /32 routes to peers added and removed. */
export interface RouteChange {
  node: number
  added: string[]
  removed: string[]
}

export interface NodeAnswer {
  node: number
  pid: number | null
}

export interface PartitionAnswer extends PushResult {
  /** The groups that may talk among themselves (null for ring, whose links overlap). */
  groups: number[][] | null
  shape: PartitionShape | null
  /** For `bridge`: the node linked to both halves. */
  bridge?: number
  /** For a shape: the node order it was cut from. */
  order?: number[]
  /** Cut links, as pairs [a, b] with a < b, sorted. */
  cuts: [number, number][]
  for_ms: number | null
}

export interface TransferAnswer {
  from: number
  to: number
  leader: number
  term: number
  /** False when `to` already led. */
  moved: boolean
}

/** A node's place in the configuration: it votes, it only receives the log, or it left. */
export type MemberRole = 'voter' | 'learner' | 'removed'

export interface AddAnswer {
  node: number
  pid: number | null
  host: string
  tcp_port: number
  http_port: number
  raft_port: number
  /** What the node is when the answer leaves: `learner` unless `wait` (or promotion was that quick). */
  membership: MemberRole
  /** The leader the node joined through. */
  leader: number
  /** Log index of the configuration entry that made it a voter; null while it is a learner. */
  promoted_at: number | null
}

export interface RemoveAnswer {
  node: number
  /** The node led and handed its leadership over first (to `leader`). */
  was_leader: boolean
  /** Who leads once the node is out. */
  leader: number
  /** Log index of the configuration entry that removed it. */
  index: number
  voters: number[]
  learners: number[]
  /** The node's process ran and was stopped (its data stays until `down --purge`). */
  stopped: boolean
}

/** What `corrupt` did to the file. */
export interface CorruptAnswer {
  node: number
  /** The file damaged (its path). */
  file: string
  how: 'bitflip' | 'truncate'
  bytes_before: number
  bytes_after: number
  /** Bitflip: bits flipped, the stretch [start, end) of the file they were in, and the first 32 bit offsets. */
  flipped?: number
  range?: [number, number]
  bits?: number[]
  /** Truncate: bytes cut off the end. */
  cut?: number
}

export interface RepairAnswer {
  node: number
  /** What the node reported (null when forced on a node that did not say corrupt). */
  reason: string | null
  /** The new member that took its place, caught up from the leader, and the removal of the old one. */
  added: AddAnswer
  removed: RemoveAnswer
  /** Where the old data dir was set aside for inspection (null if it had none). */
  kept: string | null
}

/** A node's report that its data is corrupt, as `status` shows it. */
export interface CorruptView {
  file: string
  reason: string
  detected_at: string
}

export interface FaultView {
  peer: number
  drop?: boolean
  delay_ms?: number
  jitter_ms?: number
  loss?: number
  /** When the fault ends by itself (ISO 8601), or null. */
  expires_at: string | null
}

export interface NodeStatus {
  index: number
  node_id: string
  /** Voter, learner or removed: the leader's configuration when it answers, else cluster.json's record. */
  membership: MemberRole
  pid: number | null
  process: ProcessState
  exit_code: number | null
  exit_signal: string | null
  /** The last lines of node.log when the node crashed; empty unless `process` is crashed. */
  crash_log: string[]
  /** When the supervisor restarts the crashed node (ISO 8601), or null. */
  restart_at: string | null
  role: string | null
  term: number | null
  commit_index: number | null
  last_applied: number | null
  log_length: number | null
  /** First index still in the node's log: it was compacted below (1 when nothing was). */
  first_index: number | null
  /** Index of the node's last snapshot (0: none yet); the log holds what follows it. */
  snapshot_index: number | null
  /** The node's database (with its write-ahead log) on disk, in bytes. */
  disk_bytes: number | null
  /** Snapshots this node streamed to followers since it started. */
  snapshots_sent: number | null
  /** Snapshots this node installed since it started. */
  snapshots_installed: number | null
  /** The node runs but found its data corrupt (it takes no part in Raft until `pad-cli repair`); null otherwise. */
  corrupt: CorruptView | null
  lag: number | null
  leader_index: number | null
  host: string
  tcp_port: number
  http_port: number
  raft_port: number
  faults: FaultView[]
  data_dir: string
  log_file: string
  /** With `up --lazy-fs`: the backing dir under the lazy layer mounted on `data_dir`, and the layer's pid (null while not mounted). */
  lazy_fs?: {backing: string; pid: number | null} | null
}

/** `status`, which is also `pad-cli status --json` (see src/cluster/status.ts). */
export interface ClusterStatus {
  cluster: string
  leader: number | null
  term: number | null
  supervisor_pid: number
  /** The configuration as the leader answers it (node indexes); null without a leader that says. */
  membership: {voters: number[]; learners: number[]} | null
  /** Started with `up --lazy-fs`: `power-cut` works. Absent in answers of older supervisors: false. */
  lazy_fs?: boolean
  /** Started with `up --unsafe-no-fsync` (test only): a power cut loses acknowledged messages. Absent: false. */
  unsafe_no_fsync?: boolean
  nodes: NodeStatus[]
}

/** What a power cut dropped on one node: the unsynced data of `files` files (`bytes`), and `entries` namespace operations undone. */
export interface DropCounts {
  files: number
  bytes: number
  entries: number
  /** Torn cuts only: the files that kept part of their last write (at most 16 listed), and the bytes kept. */
  torn?: {count: number; files: {path: string; kept: number}[]}
}

export interface PowerCutNode {
  node: number
  /** The process that was killed; null if the node was not running (then it is not started again). */
  previous_pid: number | null
  /** The process started after the cut; null if the node was not running before it. */
  pid: number | null
  dropped: DropCounts
}

export interface ControlAnswers {
  status: ClusterStatus
  ping: {pid: number}
  /** The node pids that ran, and those still alive afterwards. */
  down: {stopped: number[]; left: number[]}
  kill: NodeAnswer & {exit: ExitInfo}
  stop: NodeAnswer & {exit: ExitInfo}
  start: NodeAnswer
  restart: NodeAnswer & {previous_pid: number | null}
  pause: NodeAnswer
  resume: NodeAnswer
  partition: PartitionAnswer
  heal: PushResult
  transfer: TransferAnswer
  delay: {node: number; ms: number; jitter_ms: number; for_ms: number | null} & PushResult
  loss: {node: number; percent: number; for_ms: number | null} & PushResult
  add: AddAnswer
  remove: RemoveAnswer
  replace: {added: AddAnswer; removed: RemoveAnswer}
  'power-cut': {nodes: PowerCutNode[]}
  corrupt: CorruptAnswer
  repair: RepairAnswer
  /** The `seq` of the scenario event recorded. */
  say: {seq: number}
}

export interface ControlFailure {
  code: ControlErrorCode
  message: string
}

/** The server's side: one handler per op, each answering its own op's type. */
export type ControlHandlers = {[K in ControlOp]: (request: RequestOf<K>) => Promise<ControlAnswers[K]>}

// ---------------------------------------------------------------------------------------
// Codecs

export type Decoded<T> = {ok: true; value: T} | {ok: false; message: string}

/** Longest request line the supervisor reads; a request is a few dozen bytes. */
export const MAX_REQUEST_BYTES = 64 * 1024
const MAX_ORDER_LENGTH = 1000

export function isControlOp(value: unknown): value is ControlOp {
  return typeof value === 'string' && (CONTROL_OPS as readonly string[]).includes(value)
}

export function isControlErrorCode(value: unknown): value is ControlErrorCode {
  return typeof value === 'string' && (CONTROL_ERROR_CODES as readonly string[]).includes(value)
}

/** Thrown inside the decoder only; `decodeControlRequest` turns it into `{ok: false}`. */
class Refusal extends Error {}

function record(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Refusal('a request is one JSON object with an "op"')
  return value as Record<string, unknown>
}

function nodeRef(value: unknown, name: string): NodeRef {
  if (value === 'leader') return 'leader'
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value
  throw new Refusal(`${name}: give a node index or "leader"`)
}

function numberIn(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) throw new Refusal(`${name} must be a number from ${min} to ${max}`)
  return value
}

function optionalNumberIn(value: unknown, name: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : numberIn(value, name, min, max)
}

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'boolean') throw new Refusal(`${name} must be true or false`)
  return value
}

/** A duration after which a fault ends by itself; absent or null: it stays until healed. */
function forMs(value: unknown): number | null {
  return value === undefined || value === null ? null : numberIn(value, 'for_ms', 1, MAX_FOR_MS)
}

function groups(value: unknown): NodeRef[][] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw new Refusal('groups is a list of groups, each a list of nodes')
  return value.map((group: unknown) => {
    if (!Array.isArray(group)) throw new Refusal('each group is a list of nodes')
    return group.map((ref: unknown) => nodeRef(ref, 'a group member'))
  })
}

/** Checked here for shape only: whether it is a permutation of this cluster's nodes is the supervisor's to say. */
function order(value: unknown): number[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw new Refusal('order is a list of node indexes')
  if (value.length > MAX_ORDER_LENGTH) throw new Refusal(`order is a list of at most ${MAX_ORDER_LENGTH} node indexes`)
  for (const node of value) if (!Number.isInteger(node)) throw new Refusal(`order names node ${JSON.stringify(node)}: give node indexes`)
  return value as number[]
}

function shape(value: unknown): PartitionShape | undefined {
  if (value === undefined || value === null) return undefined
  const known = PARTITION_SHAPES.find((s) => s === value)
  if (!known) throw new Refusal(`unknown shape ${JSON.stringify(value)}: use ${PARTITION_SHAPES.join(', ')}`)
  return known
}

/** The per-op field decoders: each reads its op's fields from the raw object, checked. */
const FIELDS: {[K in ControlOp]: (raw: Record<string, unknown>) => ControlRequests[K]} = {
  status: () => ({}),
  ping: () => ({}),
  down: () => ({}),
  kill: (raw) => ({node: nodeRef(raw.node, 'node')}),
  stop: (raw) => ({node: nodeRef(raw.node, 'node')}),
  start: (raw) => ({node: nodeRef(raw.node, 'node')}),
  restart: (raw) => ({node: nodeRef(raw.node, 'node')}),
  pause: (raw) => ({node: nodeRef(raw.node, 'node')}),
  resume: (raw) => ({node: nodeRef(raw.node, 'node')}),
  partition: (raw) => ({groups: groups(raw.groups), shape: shape(raw.shape), order: order(raw.order), for_ms: forMs(raw.for_ms)}),
  heal: () => ({}),
  transfer: (raw) => ({to: raw.to === undefined || raw.to === null ? null : nodeRef(raw.to, 'to')}),
  delay: (raw) => ({
    node: nodeRef(raw.node, 'node'),
    ms: numberIn(raw.ms, 'ms', 0, MAX_DELAY_MS),
    jitter_ms: optionalNumberIn(raw.jitter_ms, 'jitter_ms', 0, MAX_DELAY_MS) ?? 0,
    for_ms: forMs(raw.for_ms),
  }),
  loss: (raw) => ({node: nodeRef(raw.node, 'node'), percent: numberIn(raw.percent, 'percent', 0, 100), for_ms: forMs(raw.for_ms)}),
  add: (raw) => ({wait: optionalBoolean(raw.wait, 'wait') ?? false}),
  remove: (raw) => ({node: nodeRef(raw.node, 'node')}),
  replace: (raw) => ({node: nodeRef(raw.node, 'node')}),
  'power-cut': (raw) => powerCutTargets(raw),
  corrupt: (raw) => {
    const bitflip = raw.bitflip === undefined || raw.bitflip === null ? undefined : integerIn(raw.bitflip, 'bitflip', 1, MAX_BITFLIP_BITS)
    const truncate = raw.truncate === undefined || raw.truncate === null ? undefined : integerIn(raw.truncate, 'truncate', 1, MAX_TRUNCATE_BYTES)
    if ((bitflip === undefined) === (truncate === undefined)) throw new Refusal('give exactly one of bitflip (bits to flip) and truncate (bytes to cut)')
    return {node: nodeRef(raw.node, 'node'), file: corruptFileName(raw.file), ...(bitflip === undefined ? {truncate} : {bitflip})}
  },
  repair: (raw) => ({node: nodeRef(raw.node, 'node'), force: optionalBoolean(raw.force, 'force') ?? false}),
  say: (raw) => ({
    scenario: cleanText(raw.scenario, 'scenario', MAX_SAY_NAME),
    step: integerIn(raw.step, 'step', 0, MAX_SAY_STEP),
    text: cleanText(raw.text, 'text', MAX_SAY_TEXT),
    kind: narrationKind(raw.kind),
  }),
}

/**
 * A string for the timeline: control characters (C0, DEL, C1) and the bidirectional overrides
 * that could rewrite a terminal line become spaces, runs of spaces one, and what is longer
 * than `max` characters is cut with an ellipsis (the caller narrates; it need not be refused).
 */
function cleanText(value: unknown, name: string, max: number): string {
  if (typeof value !== 'string') throw new Refusal(`${name} must be a string`)
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, ' ').replace(/ {2,}/g, ' ').trim()
  const chars = Array.from(clean)
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : clean
}

function narrationKind(value: unknown): NarrationKind {
  const known = NARRATION_KINDS.find((k) => k === value)
  if (!known) throw new Refusal(`kind must be one of ${NARRATION_KINDS.join(', ')}`)
  return known
}

/** Either `nodes` (one or more, none twice) or `all: true`, never both. */
function powerCutTargets(raw: Record<string, unknown>): ControlRequests['power-cut'] {
  const all = optionalBoolean(raw.all, 'all') ?? false
  const torn = optionalBoolean(raw.torn, 'torn') ?? false
  const seed = raw.seed === undefined || raw.seed === null ? undefined : integerIn(raw.seed, 'seed', 0, Number.MAX_SAFE_INTEGER)
  if (seed !== undefined && !torn) throw new Refusal('seed is for a torn power cut: give torn: true too')
  const tear = torn ? {torn, seed: seed ?? 0} : {}
  if (raw.nodes === undefined || raw.nodes === null) {
    if (!all) throw new Refusal('power-cut needs nodes (a list of node indexes or "leader") or all: true')
    return {all: true, ...tear}
  }
  if (all) throw new Refusal('power-cut takes nodes or all: true, not both')
  if (!Array.isArray(raw.nodes) || raw.nodes.length === 0) throw new Refusal('nodes is a non-empty list of node indexes or "leader"')
  if (raw.nodes.length > MAX_ORDER_LENGTH) throw new Refusal(`nodes is a list of at most ${MAX_ORDER_LENGTH} nodes`)
  const nodes = raw.nodes.map((ref: unknown) => nodeRef(ref, 'a node of nodes'))
  if (new Set(nodes).size !== nodes.length) throw new Refusal('nodes names a node twice')
  return {nodes, ...tear}
}

function integerIn(value: unknown, name: string, min: number, max: number): number {
  const n = numberIn(value, name, min, max)
  if (!Number.isInteger(n)) throw new Refusal(`${name} must be a whole number from ${min} to ${max}`)
  return n
}

function corruptFileName(value: unknown): CorruptFileName {
  if (value === undefined || value === null) return 'db'
  const known = CORRUPT_FILE_NAMES.find((f) => f === value)
  if (!known) throw new Refusal(`unknown file ${JSON.stringify(value)}: use ${CORRUPT_FILE_NAMES.join(' or ')}`)
  return known
}

function decodeFields<K extends ControlOp>(op: K, raw: Record<string, unknown>): RequestOf<K> {
  const fields: ControlRequests[K] = FIELDS[op](raw)
  return {...fields, op}
}

/** One request line as the supervisor reads it: checked in full, or refused with a reason. Unknown fields are ignored. */
export function decodeControlRequest(line: string): Decoded<ControlRequest> {
  try {
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      throw new Refusal('a request is one JSON object with an "op"')
    }
    const raw = record(parsed)
    if (!isControlOp(raw.op)) {
      throw new Refusal(typeof raw.op === 'string' ? `unknown request ${JSON.stringify(raw.op.slice(0, 40))}: use ${CONTROL_OPS.join(', ')}` : 'a request is one JSON object with an "op"')
    }
    return {ok: true, value: decodeFields(raw.op, raw)}
  } catch (error) {
    if (error instanceof Refusal) return {ok: false, message: error.message}
    throw error
  }
}

/** Calls the handler of the request's op (the answer has that op's type); null if there is none. */
export function dispatchControl<K extends ControlOp>(handlers: Partial<ControlHandlers>, request: RequestOf<K>): Promise<ControlAnswers[K]> | null {
  const handler: ControlHandlers[K] | undefined = handlers[request.op]
  return handler ? handler(request) : null
}

/** How a request ended, before and after the socket: its op's answer, or a failure. */
export type ControlOutcome<K extends ControlOp> = {ok: true; answer: ControlAnswers[K]} | {ok: false; error: ControlFailure}

/** The answer line the supervisor writes (newline included). */
export function encodeControlReply<K extends ControlOp>(outcome: ControlOutcome<K>): string {
  return JSON.stringify(outcome.ok ? {ok: true, ...outcome.answer} : {ok: false, error: outcome.error}) + '\n'
}

/**
 * The answer line to a request of op K, as the client reads it. Its envelope (ok, error code
 * and message) is checked; the fields of a successful answer are taken as the supervisor, a
 * process of this same program, wrote them.
 */
export function decodeControlReply<K extends ControlOp>(line: string): Decoded<ControlOutcome<K>> {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return {ok: false, message: 'the supervisor answered something that is not JSON'}
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {ok: false, message: 'the supervisor answered something that is not a JSON object'}
  const {ok, error, ...fields} = parsed as {ok?: unknown; error?: {code?: unknown; message?: unknown}}
  if (ok === true) return {ok: true, value: {ok: true, answer: fields as ControlAnswers[K]}}
  const code = isControlErrorCode(error?.code) ? error.code : 'SUPERVISOR'
  const message = typeof error?.message === 'string' ? error.message : 'the supervisor refused'
  return {ok: true, value: {ok: false, error: {code, message}}}
}
