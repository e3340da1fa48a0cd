/**
 * The web console's contract between the supervisor (src/cluster/console/) and the page
 * (web/console/*.js, which cannot import this file: the page's modules name these types in
 * their comments and read only the fields listed here).
 *
 * GET /api/stream (Server-Sent Events): one `hello` first, then changes, each SSE event named
 * by its `type` and carrying one JSON object as its `data:`; a comment line (`: beat`) every
 * few seconds keeps proxies from closing a quiet stream.
 *
 * POST /api/control: a control request of src/api/control.ts (only CONSOLE_OPS), answered by
 * ConsoleControlAnswer. POST /api/publish: ConsolePublishRequest -> ConsolePublishAnswer.
 * Types and pure helpers only: nothing here does I/O.
 */
import type {ControlAnswers, ControlFailure, ControlOp, ControlRequest, FaultView, MemberRole, ProcessState, RequestOf} from './control.js'
import type {RaftRole, TermRun} from './node-http.js'
import type {RpcEvent} from './node-events.js'

/** `up` serves the console here unless told otherwise; temporary clusters (chaos, bench) take any free port. */
export const DEFAULT_WEB_PORT = 7070

/** Largest body POST /api/control and /api/publish read; a longer one is refused with 413. */
export const MAX_CONSOLE_BODY_BYTES = 16 * 1024
/** Browsers (tabs) that may follow /api/stream at once; one more gets 503. */
export const MAX_STREAM_CLIENTS = 16
/** Entries of each node's log the console draws (GET /raft/log?last=N on every node). */
export const LOG_CELLS = 40
/** Timeline events the hello carries (the newest). */
export const HELLO_EVENTS = 200
/** Raft messages relayed to the page per second, at most (the nodes sample; this caps their sum). */
export const MAX_RPC_PER_SECOND = 20

/** The control requests the console may send: the actions of `top`, and status. */
export const CONSOLE_OPS = ['status', 'kill', 'stop', 'start', 'restart', 'pause', 'resume', 'partition', 'heal', 'transfer', 'delay', 'loss'] as const satisfies readonly ControlOp[]
export type ConsoleOp = (typeof CONSOLE_OPS)[number]

export function isConsoleOp(op: string): op is ConsoleOp {
  return (CONSOLE_OPS as readonly string[]).includes(op)
}

/** One node as the page draws its card. `vote`: whom it voted for in `term` (null: nobody, or a node too old to say). */
export interface ConsoleNode {
  index: number
  node_id: string
  membership: MemberRole
  process: ProcessState
  pid: number | null
  role: RaftRole | null
  term: number | null
  vote: number | null
  leader: number | null
  commit: number | null
  applied: number | null
  last_index: number | null
  /** Its HTTP API (the page links to its own dashboard, GET /). */
  host: string
  http_port: number
  faults: FaultView[]
}

/** A timeline event (src/cluster/events.ts) with its one line for people, as `pad-cli events` prints it. */
export interface ConsoleTimelineEvent {
  seq: number
  time: string
  type: string
  text: string
  /** The event's other fields, for the page to pick from (node, leader, groups...). */
  fields: Record<string, unknown>
}

/** A node's log tail as runs of terms (GET /raft/log), with the node's commit index. */
export interface ConsoleLog {
  node: number
  last_index: number
  commit: number
  snapshot_index: number
  runs: TermRun[]
}

/** One Raft message a node sent (its /events `rpc` item), relayed, sampled, with the time the node sent it. */
export type ConsoleRpc = Omit<RpcEvent, 'type'> & {time: string}

/**
 * Once a second while a page is connected. `commits_per_s`: growth of the highest commit index
 * any node reports, over the last interval. `latency_p99_ms` (null when no leader answers): the
 * leader's GET /stats write_queue.commit_latency_ms.p99, the time from a batch handed to its
 * writer to durable (fsync) over its recent batches: the disk's share of a publish's latency.
 */
export interface ConsoleMetrics {
  time: string
  commits_per_s: number
  latency_p99_ms: number | null
  leader: number | null
}

export interface ConsoleHello {
  cluster: string
  /** Where the nodes are: the console shows it, it does not reach them from the page. */
  nodes: ConsoleNode[]
  leader: number | null
  events: ConsoleTimelineEvent[]
  /** The settings an action needs to know (the pad-cli commands it echoes name the cluster). */
  election_timeout_ms: number
  heartbeat_ms: number
}

/** Every SSE event of /api/stream: the SSE event name is `type`, the data is `data`. */
export type ConsoleStreamEvent =
  | {type: 'hello'; data: ConsoleHello}
  | {type: 'node'; data: ConsoleNode}
  | {type: 'timeline'; data: ConsoleTimelineEvent}
  | {type: 'rpc'; data: ConsoleRpc}
  | {type: 'log'; data: ConsoleLog}
  | {type: 'metrics'; data: ConsoleMetrics}

/** POST /api/control's answer: the control outcome and the pad-cli command that does the same. */
export type ConsoleControlAnswer = ({ok: true; answer: ControlAnswers[ConsoleOp]} | {ok: false; error: ControlFailure}) & {command: string}

/** POST /api/publish: a JSON message body, or text when it does not parse as JSON. */
export interface ConsolePublishRequest {
  topic: string
  message: string
}

export type ConsolePublishAnswer =
  | {ok: true; topic: string; offset: number; index: number; term: number; via: number}
  | {ok: false; error: {code: string; message: string}}

/** Any HTTP error of the console: `{ok:false,error:{code,message}}` with the status. */
export interface ConsoleErrorBody {
  ok: false
  error: {code: string; message: string}
}

/**
 * The pad-cli command line that does what `request` does (echoed by the page next to each
 * action, so a user learns the CLI). `cluster`: added as --cluster unless it is the default.
 */
export function commandLine(request: ControlRequest, cluster: string | null): string {
  const words = ['pad-cli', ...commandWords(request)]
  if (cluster !== null) words.push('--cluster', cluster)
  return words.join(' ')
}

function commandWords(request: ControlRequest): string[] {
  const forFlag = (ms: number | null | undefined): string[] => (typeof ms === 'number' ? ['--for', `${ms}ms`] : [])
  // ControlRequest is not a union by op: each case reads its own op's fields.
  const as = <K extends ControlOp>(_op: K): RequestOf<K> => request as RequestOf<K>
  switch (request.op) {
    case 'partition': {
      const r = as('partition')
      if (r.shape !== undefined) return ['partition', '--shape', r.shape, ...forFlag(r.for_ms)]
      return ['partition', ...(r.groups ?? []).map((g) => g.join(',')), ...forFlag(r.for_ms)]
    }
    case 'transfer': {
      const r = as('transfer')
      return r.to === undefined || r.to === null ? ['transfer'] : ['transfer', String(r.to)]
    }
    case 'delay': {
      const r = as('delay')
      return ['delay', String(r.node), `${r.ms}ms`, ...(r.jitter_ms ? ['--jitter', `${r.jitter_ms}ms`] : []), ...forFlag(r.for_ms)]
    }
    case 'loss': {
      const r = as('loss')
      return ['loss', String(r.node), `${r.percent}%`, ...forFlag(r.for_ms)]
    }
    default:
      return 'node' in request ? [request.op, String((request as {node: unknown}).node)] : [request.op]
  }
}
