/**
 * What a node's HTTP API answers, one type per endpoint: the broker builds these, the cluster
 * manager, chaos checker, benchmark and dashboards read them.
 *
 * The API is a superset of the seed's (the course broker pad-cli replaces): every field the
 * seed's clients read is here with the seed's name, meaning and type, marked "seed" below; our
 * own detail lives in fields the seed did not have, never in a seed field with a new shape.
 */

/** Raft roles in the seed's words, as `/raft` reports them. */
export const RAFT_ROLES = ['LEADER', 'FOLLOWER', 'CANDIDATE', 'PRE_CANDIDATE'] as const
export type RaftRole = (typeof RAFT_ROLES)[number]

/** GET /raft: this node's view of the replicated log. */
export interface RaftInfo {
  node_id: string
  state: RaftRole
  current_term: number
  /** Index of the last entry in the log. */
  log_length: number
  first_index: number
  commit_index: number
  last_applied: number
  cluster_size: number
  /** Node id of the member this node believes leads, or null. */
  leader_id: string | null
  /** The member index this node voted for in current_term, or null (absent from a node before the web console). */
  voted_for?: number | null
  leader_index: number | null
  node_index: number
  pre_candidate: boolean
  /** Elections this node has won since it started. */
  elections_won: number
  /** The compaction point: the log holds the entries after it (0: nothing compacted yet). */
  snapshot_index: number
  snapshot_term: number
  /** Snapshots this node streamed to followers (completed) since it started. */
  snapshots_sent: number
  /** Snapshots this node received from a leader and installed since it started. */
  snapshots_installed: number
  /** Size of the node's database on disk: the main file, its WAL and shared-memory index. */
  disk_bytes: number
  /**
   * The configuration in effect on this node (node indexes, ascending): who votes, who only
   * receives the log. Absent from a node of a version before membership changes.
   */
  voters?: number[]
  learners?: number[]
  /** The log index of the configuration entry in effect (0: the initial configuration). */
  membership_index?: number
  /** The member directory: every node id ever allocated in this cluster, with its card (removed ones too). */
  members?: DirectoryMember[]
}

/** Longest tail of the log one GET /raft/log answers (its `last` query is capped to this). */
export const MAX_LOG_TAIL = 200
/** The tail GET /raft/log answers when it is given no `last`. */
export const DEFAULT_LOG_TAIL = 50

/** Entries `from`..`to` (inclusive, ascending) all have `term`: the log drawn as runs. */
export interface TermRun {
  from: number
  to: number
  term: number
}

/**
 * GET /raft/log?last=N (1..MAX_LOG_TAIL, default 50): the terms of the last N entries of this
 * node's log, for pictures of the log as cells colored by term (the web console, top).
 */
export interface RaftLogAnswer {
  node_index: number
  current_term: number
  /** The compaction point: entries at or before it are in the snapshot, not in the log. */
  snapshot_index: number
  snapshot_term: number
  /** Index of the last entry in the log (snapshot_index when the log is empty). */
  last_index: number
  commit_index: number
  /** Consecutive runs of one term covering max(snapshot_index + 1, last_index - N + 1)..last_index. */
  runs: TermRun[]
}

/**
 * A member's addresses as the replicated member directory holds them. A member started with
 * --peers is in it from its Raft address alone: its tcp and http ports are null until it has
 * told them (a member that joined told them when it joined).
 */
export interface MemberCard {
  node_id: string
  host: string
  raft_port: number
  tcp_port: number | null
  http_port: number | null
}

/** One entry of the directory: a node id (stable, never reused) and its card. */
export interface DirectoryMember extends MemberCard {
  id: number
}

/** One member in GET /cluster (every node of the directory); its ports are known once it has told them. */
export interface ClusterMember {
  index: number
  node_id: string
  raft_address: string
  tcp_port: number | null
  http_port: number | null
  connected: boolean
  /** Its place in the configuration in effect on this node: 'removed' once it is in neither list. */
  role: 'voter' | 'learner' | 'removed'
}

/** GET /cluster: the members as this node knows them. */
export interface ClusterInfo {
  self: number
  self_id: string
  cluster: string
  members: ClusterMember[]
}

/** GET /status. */
export interface StatusInfo {
  /** Seed: always "online" from a node that answers. */
  status: 'online'
  node_id: string
  pid: number
  uptime_s: number
  version: string | null
  addresses: {host: string; tcp_port: number; http_port: number; raft_port: number}
  data_dir: string
  /** Started with `--unsafe-no-fsync` (a test-only flag): acknowledged messages are lost on a power cut. */
  unsafe_no_fsync: boolean
  raft: RaftInfo
  /** Messages stored. */
  messages: number
  /** Topics stored. */
  topics: number
  subscribers: number
  connections: number
}

/** The writer thread's counters in GET /stats. */
export interface WriteQueueStats {
  queue_depth: number
  in_flight: number
  batches: number
  requests: number
  failed_requests: number
  inline_writes: number
  inline_slow_writes: number
  last_batch_size: number
  max_batch_size: number
  avg_batch_size: number
  /** Batch sent to the writer -> durable, over recent batches. */
  commit_latency_ms: {last: number; avg: number; p50: number; p99: number; max: number}
}

/** One scope's retention limits in GET /stats (a limit not set is absent). */
export interface RetentionLimitsInfo {
  maxMessages?: number
  maxBytes?: number
  maxAgeMs?: number
}

/**
 * GET /stats `retention`: the policy the cluster applies (the last one committed to the log: the
 * leader's --retention), in the canonical form replicated in the log.
 */
export interface RetentionInfo {
  /** Limits on the whole store, every topic together. */
  cluster: RetentionLimitsInfo
  /** Limits on single topics, by name. */
  topics: Record<string, RetentionLimitsInfo>
}

/** GET /stats. */
export interface StatsInfo {
  /** Seed: messages stored (every topic). */
  total_messages: number
  /** Seed: open subscriptions. */
  active_subscribers: number
  /** Seed: topics stored. */
  topics_count: number
  /** Seed: messages stored in the last 60 seconds. */
  messages_per_minute: number
  /** Seed: open client TCP connections. */
  current_connections: number
  node_id: string
  /** Publishes this node acknowledged. */
  published: number
  publish_errors: number
  messages_stored: number
  topics: number
  subscribers: number
  connections: number
  pending_writes: number
  skipped_entries: number
  event_loop_delay_ms: {max: number; p99: number}
  write_queue: WriteQueueStats
  memory: {rss_bytes: number; heap_used_bytes: number}
  retention: RetentionInfo
}

/** One topic in GET /topics `details`. */
export interface TopicDetail {
  topic: string
  /** Messages kept: next_offset - first_offset. */
  messages: number
  next_offset: number
  /**
   * The oldest offset kept, once retention has trimmed the topic (those below it are gone);
   * absent while nothing was trimmed (it is 0 then), so an untrimmed topic reads as the seed's.
   */
  first_offset?: number
}

/** GET /topics. */
export interface TopicsAnswer {
  /** Seed: the topic names, sorted. */
  topics: string[]
  details: TopicDetail[]
}

/** One subscription in GET /subscribers. */
export interface SubscriberInfo {
  id: number
  protocol: string
  remote: string
  /** Seed: the topic patterns subscribed to. */
  topics: string[]
  live: boolean
  delivered: number
  position: number
}

/** GET /subscribers. */
export interface SubscribersAnswer {
  subscribers: SubscriberInfo[]
}

/** One stored message in GET /messages. */
export interface MessageItem {
  topic: string
  offset: number
  format: string
  body: string
  /** Seed: the message's body (the seed's name for `body`). */
  content: string
  /** ISO 8601, when the leader accepted the publish. */
  timestamp: string
  /** Its Raft index. */
  index: number
  /** The publisher's dedup id, when it gave one. */
  id?: string
}

/**
 * GET /messages. A page whose bodies would pass the node's page limit ends early (always with
 * at least one message) and says so with `truncated`; pages read forward (order=oldest) then
 * give `next_from`, the `from` of the next page.
 */
export interface MessagePage {
  messages: MessageItem[]
  truncated?: true
  next_from?: number
}

/** GET /health: 200 while the node serves; `ready` when its reads are current. */
export interface HealthInfo {
  ok: true
  ready: boolean
  node_id: string
  state: RaftRole
  leader: boolean
}

/**
 * Why a node found its data corrupt (a Raft entry or the hard state failing its checksum, SQLite
 * reporting a malformed or foreign file): it takes no part in Raft and serves nothing from it
 * until `pad-cli repair` rebuilds it from the leader.
 */
export interface CorruptInfo {
  /** The file found bad (the node database, its WAL, or the data dir's marker of an earlier finding). */
  file: string
  reason: string
  /** When the node found it (ISO 8601): a restart keeps the first finding. */
  detected_at: string
  /** The node's index when it knows it (the argument of `pad-cli repair`). */
  node_index: number | null
}

/** GET /health of a node whose data is corrupt: HTTP 503, and `state` says why it does not serve. */
export interface CorruptHealthInfo {
  ok: false
  ready: false
  node_id: string
  state: 'corrupt'
  leader: false
  corrupt: CorruptInfo
}

/** GET /status of a node whose data is corrupt (HTTP 200: the node is up and says what it found). */
export interface CorruptStatusInfo {
  status: 'corrupt'
  node_id: string
  pid: number
  uptime_s: number
  addresses: {host: string; tcp_port: number; http_port: number; raft_port: number}
  data_dir: string
  corrupt: CorruptInfo
}

/** POST /publish, once committed. */
export interface PublishAnswer {
  ok: true
  topic: string
  offset: number
  index: number
  term: number
  node_id: string
  duplicate?: true
}

/** Every error answer, with the matching HTTP status. */
export interface ErrorBody {
  ok: false
  error: {code: string; message: string}
  /** NOT_LEADER (421): the leader's HTTP address (host:port) when this node knows it, where to send the request instead. */
  leader?: string
  /** OFFSET_TRIMMED (410): the topic's first offset still kept, where to read from instead. */
  first_offset?: number
}
