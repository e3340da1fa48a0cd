/**
 * One broker node: the storage, the replicated log, the state machine and the front ends,
 * composed. `BrokerNode.start` returns a serving node or throws an error that says what
 * was wrong (a port in use, an unusable data dir).
 */
import fs from 'node:fs'
import path from 'node:path'
import type {MembersAnswer, MembersRequest} from '../api/node-admin.js'
import type {ClusterInfo, CorruptInfo, DirectoryMember, HealthInfo, RaftInfo, RaftLogAnswer, StatsInfo, StatusInfo, SubscriberInfo, TopicDetail} from '../api/node-http.js'
import {logTailRange} from '../api/raft-log-codec.js'
import {DEFAULT_INLINE_SLOW_MS, INLINE_BACKOFF_MS} from '../storage/database-writer.js'
import {MIGRATIONS, STATEMENTS} from '../storage/schema.js'
import {snapshotStatements, STAGING_FILE, STAGING_SCHEMA, stagingSetupSql} from '../storage/state-tables.js'
import {StoreReader} from '../storage/store-reader.js'
import {databaseDiskBytes} from '../storage/disk-usage.js'
import {prepareDataDir} from './data-dir.js'
import {DISK_FULL_MESSAGE, isDiskFull} from './disk-full.js'
import {asCorruption, CorruptionError, isCorruption} from '../storage/corruption.js'
import {inspectWal} from '../storage/wal-check.js'
import {truncationProblem} from '../storage/truncation-check.js'
import {readCorruptMarker, writeCorruptMarker} from './corrupt-marker.js'
import {corruptMessage} from './corrupt-node.js'
import {HttpApi} from './http-api.js'
import {termRuns} from './term-runs.js'
import {maxLineBytes, type NodeLimits} from './limits.js'
import {RaftDriver, type RaftTiming} from './raft-driver.js'
import {DEFAULT_COMPACTION, type CompactionOptions} from './log-compactor.js'
import {RaftStorage} from '../storage/raft-storage.js'
import {setSelfOp} from '../storage/schema-rows.js'
import type {StoreWriter} from '../storage/store-writer.js'
import type {PeerTransport} from '../transport/peer-transport.js'
import type {PeerAddress} from '../transport/raft-transport.js'
import {NO_RETENTION, type RetentionPolicy} from '../util/retention-spec.js'
import {Logger, type LogFormat} from './logger.js'
import {LoopDelayMonitor} from './loop-delay.js'
import {MessageStore} from './message-store.js'
import {MembershipChanger} from './membership-changer.js'
import {RetentionProposer} from './retention-proposer.js'
import {MinuteCount} from './minute-count.js'
import type {NodeView} from './node-view.js'
import {prometheusText} from './prometheus.js'
import {Publisher} from './publisher.js'
import type {ReplicatedLog} from './replicated-log.js'
import {adminRoutes} from './admin-api.js'
import {NodeEvents} from './node-events.js'
import {REAL_SEAMS, type NodeSeams} from './node-seams.js'
import type {SessionContext, SessionLimits} from './session-context.js'
import {SubscriptionRegistry} from './subscription.js'
import {TcpServer} from './tcp-server.js'

export interface NodeOptions {
  /** The node's id in the API; defaults to host:tcpPort, the seed's form. */
  id?: string
  host: string
  tcpPort: number
  httpPort: number
  raftPort: number
  dataDir: string
  logFormat: LogFormat
  /** Bounds on what clients and peers may make the node hold (src/broker/limits.ts). */
  limits: NodeLimits
  commitTimeoutMs: number
  dedupWindow: number
  /**
   * Every founding member's Raft address, this node's included, in the same order on every node
   * (--peers: node ids 0..n-1). Empty for a node that joins a running cluster (`join`), or that
   * joined one before (its id is in its database).
   */
  peers: PeerAddress[]
  /**
   * Asks a member of a running cluster to add this node (POST /admin/members); resolves with the
   * node id it was given. Called only when the data dir holds no id yet; the id is stored before
   * the node starts, and a restart runs as that id without asking again.
   */
  join?: (self: {host: string; raft_port: number; tcp_port: number; http_port: number; node_id: string}) => Promise<number>
  /** Name shared by the members; a node refuses Raft connections from another cluster. */
  cluster: string
  timing: RaftTiming
  /**
   * The cluster's secret: /admin endpoints require it, and members prove they know it when
   * they connect on the Raft port. Null disables /admin and refuses every Raft connection, so
   * a node that has peers must have one.
   */
  adminToken: string | null
  /** Origins besides the node's own whose pages may POST to it (`--cors-origin`). */
  corsOrigins: string[]
  /** The transport and writer the node runs on; the default (TCP, the writer thread) when absent. */
  seams?: NodeSeams
  /** The retention policy this node proposes when it leads (`--retention`); none when absent. */
  retention?: RetentionPolicy
  /** When the log is compacted (`--snapshot-entries`, `--trailing-entries`); DEFAULT_COMPACTION when absent. */
  compaction?: CompactionOptions
  /**
   * `--unsafe-no-fsync`, for durability tests only: SQLite synchronous=OFF and no directory
   * fsync, so acknowledged messages are lost on a power cut. False when absent.
   */
  unsafeNoFsync?: boolean
  /**
   * Called once the node, having found its data corrupt while running, has stopped (the finding
   * is in the data dir): the command serves the corrupt state from here. Without it the process exits.
   */
  onCorrupt?: (info: CorruptInfo) => void
}

export const DEFAULT_NODE_OPTIONS = {
  host: '127.0.0.1',
  tcpPort: 5000,
  httpPort: 8080,
  raftPort: 6000,
  logFormat: 'text',
  commitTimeoutMs: 2000,
  dedupWindow: 100_000,
  tickMs: 10,
  electionTimeoutMs: 150,
  heartbeatMs: 50,
} as const

/**
 * A Raft write of at most this many rows commits on the main thread when the writer thread is
 * idle (DatabaseWriter.writeNow). One publish at a time writes 2 rows (its entry and the hard
 * state), and about every 10 ms also the messages applied meanwhile (MessageStore.takeWritesDue);
 * a loaded node writes hundreds per batch, and those go to the thread, so the event loop is never
 * blocked for more than one small commit (0.3-1 ms here).
 */
const INLINE_WRITE_MAX_ROWS = 16

/**
 * What SQLite's quick_check reads at every start. Measured on a database of a million 128-byte
 * messages (184 MB, in the page cache): the whole file 0.7-0.9 s, the Raft tables alone 11-14 ms.
 * So the whole file while it is small (a check well under half a second), else the tables whose
 * loss breaks Raft's promises: the log, the hard state, the compaction point, the applied index.
 */
const QUICK_CHECK_TABLES = ['raft_log', 'raft_state', 'raft_snapshot', 'applied', 'node_self']
const QUICK_CHECK_WHOLE_FILE_MAX_BYTES = 64 * 1024 * 1024

/** How long a node whose storage failed may take to stop before it exits regardless. */
export const FAILED_STOP_MS = 10_000

/** What the data dir's marker records of a corruption found. */
export function corruptInfo(error: CorruptionError, nodeIndex: number | null): CorruptInfo {
  return {file: error.file, reason: error.reason, detected_at: new Date().toISOString(), node_index: nodeIndex}
}

/**
 * The checks at start: SQLite's structure (see QUICK_CHECK_TABLES), every
 * Raft entry's and the hard state's checksum. Throws a CorruptionError at the first problem.
 */
function checkStoredData(reader: StoreReader, logger: Logger): void {
  const started = performance.now()
  const wholeFile = databaseDiskBytes(reader.path) <= QUICK_CHECK_WHOLE_FILE_MAX_BYTES
  const problem = reader.quickCheck(wholeFile ? [] : QUICK_CHECK_TABLES)
  if (problem !== null) throw new CorruptionError(reader.path, `SQLite's quick_check: ${problem}`)
  const {entries} = reader.verifyRaftState()
  // The log must reach what the hard state says was committed and what was applied: a log that
  // ends before lost entries it had (a WAL's tail dropped, a truncated file), and with them maybe a vote.
  const end = Math.max(reader.logBounds()?.last ?? 0, reader.snapshotPoint()?.index ?? 0)
  const commit = reader.hardState()?.commit ?? 0
  const applied = reader.appliedIndex()
  if (Math.max(commit, applied) > end) {
    throw new CorruptionError(reader.path, `the log ends at index ${end}, but entries up to ${Math.max(commit, applied)} were ${commit >= applied ? 'committed' : 'applied'}: entries it held were lost`)
  }
  logger.info('data checked', {quick_check: wholeFile ? 'whole file' : 'raft tables', entries, ms: Math.round(performance.now() - started)})
}

/** Deletes the snapshot staging files of a data dir; returns the staging database's path. */
function removeStaging(dataDir: string): string {
  const stagingPath = path.join(dataDir, STAGING_FILE)
  for (const suffix of ['', '-journal', '-wal', '-shm']) fs.rmSync(stagingPath + suffix, {force: true})
  return stagingPath
}

/** The index of this node in `peers`, found by its own Raft address. */
export function selfIndex(peers: PeerAddress[], host: string, raftPort: number): number {
  return peers.findIndex((p) => p.port === raftPort && (p.host === host || (isLoopback(p.host) && isLoopback(host))))
}

/** The directory's implicit base of a cluster started with --peers: ids 0..n-1 at those addresses. */
function foundingMembers(options: NodeOptions, self: number): DirectoryMember[] {
  return options.peers.map((p, id) =>
    id === self
      ? {id, node_id: options.id ?? `${options.host}:${options.tcpPort}`, host: options.host, raft_port: options.raftPort, tcp_port: options.tcpPort, http_port: options.httpPort}
      : {id, node_id: `${p.host}:${p.port}`, host: p.host, raft_port: p.port, tcp_port: null, http_port: null},
  )
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '::1'
}

export class BrokerNode implements NodeView {
  readonly nodeId: string
  readonly limits: SessionLimits
  readonly startedAt = Date.now()
  readonly publisher: Publisher
  readonly driver: RaftDriver
  readonly transport: PeerTransport
  readonly events: NodeEvents
  private readonly log: ReplicatedLog
  private readonly subscriptions: SubscriptionRegistry
  private readonly tcp: TcpServer
  private readonly http: HttpApi
  private stopping: Promise<void> | null = null
  /** A fatal failure was reported: later ones (other writes of the same full disk) add nothing. */
  private failed = false
  /** The failure was corrupt data: stop without writing anything more. */
  private corrupt = false
  private readonly loopDelay = new LoopDelayMonitor()
  /** Messages applied to the store in the last minute (the seed's messages_per_minute). */
  private readonly recentMessages = new MinuteCount()
  private readonly retention: RetentionProposer
  readonly membership: MembershipChanger
  /** The highest node id that has authenticated on the Raft port (a peer may be ahead of our directory). */
  private highestPeerSeen = -1

  private constructor(
    readonly options: NodeOptions,
    readonly self: number,
    readonly logger: Logger,
    private readonly writer: StoreWriter,
    private readonly reader: StoreReader,
    readonly store: MessageStore,
    private readonly releaseDataDir: () => void,
  ) {
    this.nodeId = options.id ?? `${options.host}:${options.tcpPort}`
    this.limits = {...options.limits, maxLineBytes: maxLineBytes(options.limits)}
    this.transport = (options.seams ?? REAL_SEAMS).transport({
      self: {
        index: self,
        node_id: this.nodeId,
        host: options.host,
        raft_port: options.raftPort,
        tcp_port: options.tcpPort,
        http_port: options.httpPort,
        cluster: options.cluster,
      },
      // Set once the driver knows the configuration (dialPeers, below).
      peers: new Map(),
      hostOf: (id) => store.directory.get(id)?.host,
      listen: {host: options.host, port: options.raftPort},
      secret: options.adminToken,
      limits: options.limits,
      logger,
      handlers: {
        raft: (_, message) => this.driver.step(message),
        forward: (from, payload) => this.driver.onForward(from, payload),
        forwardResult: (from, payload) => this.driver.onForwardResult(from, payload),
        snapshot: (from, frame) => this.driver.onSnapshotFrame(from, frame),
        peerDisconnected: (peer) => this.driver.onPeerDisconnected(peer),
        peerAuthenticated: (card) => {
          this.highestPeerSeen = Math.max(this.highestPeerSeen, card.index)
          // A node outside its own configuration (joining) dials back whoever reaches it.
          if (!this.inConfiguration()) this.dialPeers()
        },
      },
    })
    this.driver = new RaftDriver(
      {
        self,
        clusterSize: options.peers.length,
        maxPeerId: () => Math.max(store.directory.highest(), this.highestPeerSeen),
        timing: options.timing,
        proposalTimeoutMs: options.commitTimeoutMs,
        maxBodyBytes: options.limits.maxBodyBytes,
        snapshots: {reader, compaction: options.compaction ?? DEFAULT_COMPACTION},
      },
      new RaftStorage(reader, options.peers.map((_, i) => i)),
      writer,
      store,
      this.transport,
      logger,
    )
    this.driver.on('fatal', (error: Error) => this.fail(error))
    this.driver.on('membership', () => this.dialPeers())
    store.onDirectoryChanged(() => this.dialPeers())
    this.dialPeers()
    this.membership = new MembershipChanger({driver: this.driver, directory: store.directory, card: (id) => this.memberCard(id)})
    this.retention = new RetentionProposer(this.driver, store, options.retention ?? NO_RETENTION, logger)
    this.driver.on('event', (event: {type: string; role?: string}) => {
      if (event.type === 'role' && event.role === 'LEADER') this.retention.check()
    })
    this.retention.start()
    this.log = this.driver
    this.events = new NodeEvents(this.driver, this.limits.maxPendingBytes)
    this.publisher = new Publisher(this.log, {maxBodyBytes: options.limits.maxBodyBytes})
    this.subscriptions = new SubscriptionRegistry(store)
    // A snapshot replaced the store: live subscribers read what it brought from where they were.
    this.driver.on('installed', (previousApplied: number) => this.subscriptions.storeReplaced(previousApplied))
    store.onApplied((messages) => this.recentMessages.add(messages.length))
    const context: SessionContext = {publisher: this.publisher, store, subscriptions: this.subscriptions, limits: this.limits, logger}
    this.tcp = new TcpServer(context)
    this.http = new HttpApi(this, logger, {host: options.host, httpPort: options.httpPort, corsOrigins: options.corsOrigins}, [
      ...adminRoutes(this, options.adminToken),
      {method: 'GET', path: '/events', handler: () => null, stream: (request, response) => this.events.stream(request, response, this.raftInfo())},
    ])
  }

  static async start(options: NodeOptions, logger = new Logger(options.logFormat)): Promise<BrokerNode> {
    const founding = options.peers.length > 0
    if (founding && selfIndex(options.peers, options.host, options.raftPort) === -1) {
      throw new Error(`--peers must list this node's own Raft address ${options.host}:${options.raftPort}`)
    }
    if (options.adminToken === null && (options.peers.length > 1 || options.join !== undefined)) {
      throw new Error("a node with --peers or --join needs the cluster's secret, the same on every member: give --token-file (or PAD_TOKEN)")
    }
    const unsafeNoFsync = options.unsafeNoFsync === true
    const lock = await prepareDataDir(options.dataDir, {syncCreated: !unsafeNoFsync})
    let writer: StoreWriter | null = null
    let reader: StoreReader | null = null
    let node: BrokerNode | null = null
    const dbPath = path.join(options.dataDir, 'node.db')
    try {
      // A corruption found before (by a read, in an earlier run) stands until the node is repaired.
      const earlier = readCorruptMarker(options.dataDir)
      if (earlier !== null) throw new CorruptionError(earlier.file, earlier.reason)
      // Before SQLite opens it: on opening, SQLite would replay the WAL up to a damaged frame and drop the rest unsaid.
      const walFile = `${dbPath}-wal`
      const wal = inspectWal(walFile)
      if (wal.problem !== null) throw new CorruptionError(walFile, wal.problem)
      // And before a checkpoint copies the WAL into a main file cut short (truncation-check.ts).
      const cut = truncationProblem(dbPath, wal.committed)
      if (cut !== null) throw new CorruptionError(dbPath, cut)
      // A snapshot half received when the node stopped is never installed: staging starts empty.
      const stagingPath = removeStaging(options.dataDir)
      writer = await (options.seams ?? REAL_SEAMS).openWriter({
        path: dbPath,
        migrations: MIGRATIONS,
        statements: {...STATEMENTS, ...snapshotStatements()},
        inlineMaxRows: INLINE_WRITE_MAX_ROWS,
        attach: {schema: STAGING_SCHEMA, path: stagingPath, setupSql: stagingSetupSql()},
        unsafeNoFsync,
      })
      reader = new StoreReader(dbPath)
      checkStoredData(reader, logger)
      const self = await BrokerNode.identity(options, writer, reader, logger)
      const store = new MessageStore(writer, reader, {
        dedupWindow: options.dedupWindow,
        onFatal: (error) => node?.fail(error),
        logger,
        baseMembers: founding ? foundingMembers(options, self) : [],
      })
      node = new BrokerNode(options, self, logger, writer, reader, store, lock.release)
      const started = node
      reader.onCorruption = (error) => started.fail(error)
      await node.transport.start()
      await node.tcp.listen(options.tcpPort, options.host)
      await node.http.listen(options.httpPort, options.host)
      return node
    } catch (error) {
      if (node) {
        await node.stop()
      } else {
        reader?.close()
        await writer?.close().catch(() => {})
        lock.release()
      }
      throw isCorruption(error) ? asCorruption(error, dbPath) : error
    }
  }

  /**
   * This node's id: the one its database holds (it joined before: it restarts as itself), else
   * the one a member gives it on joining (stored before anything else happens), else its place
   * in --peers.
   */
  private static async identity(options: NodeOptions, writer: StoreWriter, reader: StoreReader, logger: Logger): Promise<number> {
    const stored = reader.selfRow()
    if (stored !== null) {
      if (options.peers.length > 0) throw new Error(`this data dir belongs to node ${stored.index}, which joined a running cluster: start it without --peers`)
      if (stored.cluster !== options.cluster) throw new Error(`this data dir belongs to cluster "${stored.cluster}", not "${options.cluster}"`)
      return stored.index
    }
    if (options.peers.length > 0) return selfIndex(options.peers, options.host, options.raftPort)
    if (options.join === undefined) throw new Error('a node needs --peers (a new cluster) or --join (a running one)')
    if (reader.appliedIndex() > 0 || reader.logBounds() !== null) throw new Error('--join needs an empty data dir: this one holds a log but no node id')
    const id = await options.join({
      host: options.host,
      raft_port: options.raftPort,
      tcp_port: options.tcpPort,
      http_port: options.httpPort,
      node_id: options.id ?? `${options.host}:${options.tcpPort}`,
    })
    await writer.write([setSelfOp(id, options.cluster)])
    logger.info('joined the cluster', {node_index: id})
    return id
  }

  /** Whether this node is in the configuration in effect on it (a joining node is not, yet). */
  private inConfiguration(): boolean {
    const m = this.driver.currentMembership()
    return m.voters.includes(this.self) || m.learners.includes(this.self)
  }

  /**
   * Dials the members of the configuration in effect (voters and learners) at their directory
   * addresses; links to anyone else close. A node outside its own configuration (joining, or
   * removed) also dials back those that connected to it, at the address their hello named: it
   * may not have their directory cards yet.
   */
  private dialPeers(): void {
    const m = this.driver.currentMembership()
    const ids = new Set([...m.voters, ...m.learners])
    if (!ids.has(this.self)) {
      for (let id = 0; id <= this.highestPeerSeen; id++) if (this.transport.peerCard(id)) ids.add(id)
    }
    ids.delete(this.self)
    const peers = new Map<number, PeerAddress>()
    for (const id of ids) {
      const card = this.memberCard(id)
      if (card) peers.set(id, {host: card.host, port: card.raft_port})
    }
    this.transport.setPeers(peers)
  }

  /** A member's card: the directory's, with what it told on connecting filled in (or the hello's alone). */
  memberCard(id: number): DirectoryMember | undefined {
    const stored = this.store.directory.get(id)
    const told = this.transport.peerCard(id)
    if (!stored) return told ? {id, node_id: told.node_id, host: told.host, raft_port: told.raft_port, tcp_port: told.tcp_port, http_port: told.http_port} : undefined
    if (!told || told.index !== id) return stored
    return {...stored, node_id: told.node_id, tcp_port: stored.tcp_port ?? told.tcp_port, http_port: stored.http_port ?? told.http_port}
  }

  /** POST /admin/members (membership-changer.ts). */
  changeMembership(request: MembersRequest): Promise<MembersAnswer> {
    return this.membership.change(request)
  }

  /** The node ids of the directory: what /admin/faults and /admin/transfer-leader may name. */
  memberIds(): number[] {
    const ids = new Set(this.store.directory.list().map((m) => m.id))
    const m = this.driver.currentMembership()
    for (const id of [...m.voters, ...m.learners]) ids.add(id)
    return [...ids].sort((a, b) => a - b)
  }

  /** Stops serving, settles the publishes in flight, and flushes the write queue. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.retention.stop()
      await this.tcp.close()
      await this.http.close()
      await this.log.close()
      // Corrupt data: nothing more is written (the driver stopped persisting), so the store's
      // unwritten applies would be waited for in vain.
      if (!this.corrupt) await this.store.close()
      await this.transport.close()
      await this.writer.close()
      this.reader.close()
      // What was staged is never installed after a restart; its space is given back now (the
      // disk may be full of it).
      removeStaging(this.options.dataDir)
      this.releaseDataDir()
      this.loopDelay.stop()
    })()
    return this.stopping
  }

  /**
   * The node can no longer keep its promises (its disk failed or is full, or its data is
   * corrupt): stop and exit non-zero. Corrupt data is recorded in the data dir first, so that no
   * later start serves from it, and the process stays up in corrupt mode when the caller asks.
   */
  private fail(error: Error): void {
    if (this.failed) return
    this.failed = true
    if (isCorruption(error)) {
      this.corrupt = true
      const corruption = asCorruption(error, path.join(this.options.dataDir, 'node.db'))
      const info = writeCorruptMarker(this.options.dataDir, corruptInfo(corruption, this.self))
      this.logger.error(corruptMessage(info), {data_dir: this.options.dataDir})
      const onCorrupt = this.options.onCorrupt
      // The caller serves the corrupt state from this process (an in-process cluster, or the command's
      // corrupt mode): no exit is armed, however long the stop takes.
      if (onCorrupt) void this.stop().finally(() => onCorrupt(info))
      else this.stopThenExit()
      return
    }
    if (isDiskFull(error)) this.logger.error(DISK_FULL_MESSAGE, {error: error.message, data_dir: this.options.dataDir})
    else this.logger.error('fatal storage failure, stopping', {error: error.message})
    this.stopThenExit()
  }

  /**
   * Stops, then exits non-zero; exits regardless after FAILED_STOP_MS: a node that cannot trust or
   * write its storage must not linger, serving nothing, if a part of its stop waits on a write
   * that will never be durable.
   */
  private stopThenExit(): void {
    const bound = setTimeout(() => {
      this.logger.error('the node did not stop within the bound after its storage failed: exiting now', {ms: FAILED_STOP_MS})
      process.exit(1)
    }, FAILED_STOP_MS).unref()
    void this.stop().finally(() => {
      clearTimeout(bound)
      process.exit(1)
    })
  }

  /** Node id of a member, as it told us when it connected (its Raft address until then). */
  memberId(index: number): string {
    return this.memberCard(index)?.node_id ?? String(index)
  }

  raftInfo(): RaftInfo {
    const status = this.log.status()
    return {
      node_id: this.nodeId,
      state: status.role,
      current_term: status.term,
      log_length: status.lastIndex,
      first_index: status.firstIndex,
      commit_index: status.commitIndex,
      last_applied: status.lastApplied,
      cluster_size: status.clusterSize,
      leader_id: status.leader === null ? null : this.memberId(status.leader),
      voted_for: status.vote,
      leader_index: status.leader,
      node_index: this.self,
      pre_candidate: this.driver.isPreCandidate,
      elections_won: this.driver.elections,
      snapshot_index: status.snapshotIndex,
      snapshot_term: status.snapshotTerm,
      snapshots_sent: this.driver.snapshotsSent,
      snapshots_installed: this.driver.snapshotsInstalled,
      disk_bytes: this.diskBytes(),
      voters: [...this.driver.currentMembership().voters],
      learners: [...this.driver.currentMembership().learners],
      membership_index: this.driver.membershipIndex(),
      members: this.memberIds().flatMap((id) => this.memberCard(id) ?? []),
    }
  }

  /** GET /raft/log: status and terms are read in one turn of the event loop, so they agree. */
  raftLog(last: number): RaftLogAnswer {
    const status = this.log.status()
    const {from, to} = logTailRange(status.snapshotIndex, status.lastIndex, last)
    return {
      node_index: this.self,
      current_term: status.term,
      snapshot_index: status.snapshotIndex,
      snapshot_term: status.snapshotTerm,
      last_index: status.lastIndex,
      commit_index: status.commitIndex,
      runs: termRuns(from, to, (index) => this.driver.termAt(index)),
    }
  }

  /** Bytes of the node database on disk (node.db and its -wal and -shm). */
  diskBytes(): number {
    return databaseDiskBytes(path.join(this.options.dataDir, 'node.db'))
  }

  /** The members of the directory as this node knows them; ports are known once a member has told them. */
  clusterInfo(): ClusterInfo {
    const m = this.driver.currentMembership()
    return {
      self: this.self,
      self_id: this.nodeId,
      cluster: this.options.cluster,
      members: this.memberIds().flatMap((index) => {
        const card = this.memberCard(index)
        if (!card) return []
        return [
          {
            index,
            node_id: card.node_id,
            raft_address: `${card.host}:${card.raft_port}`,
            tcp_port: card.tcp_port,
            http_port: card.http_port,
            connected: index === this.self || this.transport.isConnected(index),
            role: m.voters.includes(index) ? 'voter' : m.learners.includes(index) ? 'learner' : 'removed',
          } as const,
        ]
      }),
    }
  }

  statusInfo(): StatusInfo {
    return {
      status: 'online',
      node_id: this.nodeId,
      pid: process.pid,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      version: process.env.npm_package_version ?? null,
      addresses: {
        host: this.options.host,
        tcp_port: this.options.tcpPort,
        http_port: this.options.httpPort,
        raft_port: this.options.raftPort,
      },
      data_dir: this.options.dataDir,
      unsafe_no_fsync: this.options.unsafeNoFsync === true,
      raft: this.raftInfo(),
      messages: this.store.messageCount,
      topics: this.store.topicBounds().size,
      subscribers: this.subscriptions.size,
      connections: this.tcp.connections,
    }
  }

  stats(): StatsInfo {
    const writer = this.writer.metrics()
    const memory = process.memoryUsage()
    const loopDelay = this.loopDelay.read()
    const topics = this.store.topicBounds().size
    return {
      total_messages: this.store.messageCount,
      active_subscribers: this.subscriptions.size,
      topics_count: topics,
      messages_per_minute: this.recentMessages.total(),
      current_connections: this.tcp.connections,
      node_id: this.nodeId,
      published: this.publisher.published,
      publish_errors: this.publisher.failed,
      messages_stored: this.store.messageCount,
      topics,
      subscribers: this.subscriptions.size,
      connections: this.tcp.connections,
      pending_writes: this.store.pendingWrites,
      skipped_entries: this.store.skippedEntries,
      event_loop_delay_ms: {max: loopDelay.maxMs, p99: loopDelay.p99Ms},
      write_queue: {
        queue_depth: writer.queueDepth,
        in_flight: writer.inFlight,
        batches: writer.batches,
        requests: writer.requests,
        failed_requests: writer.failedRequests,
        inline_writes: writer.inlineWrites,
        inline_slow_writes: writer.inlineSlowWrites,
        last_batch_size: writer.lastBatchSize,
        max_batch_size: writer.maxBatchSize,
        avg_batch_size: writer.avgBatchSize,
        commit_latency_ms: writer.commitLatencyMs,
      },
      memory: {rss_bytes: memory.rss, heap_used_bytes: memory.heapUsed},
      retention: this.store.retentionPolicy,
    }
  }

  topics(): TopicDetail[] {
    return [...this.store.topicBounds()]
      .map(([topic, b]) => ({topic, messages: b.next - b.first, next_offset: b.next, ...(b.first > 0 ? {first_offset: b.first} : {})}))
      .sort((a, b) => a.topic.localeCompare(b.topic))
  }

  subscribers(): SubscriberInfo[] {
    return this.subscriptions.list().map((s) => ({
      id: s.id,
      protocol: s.description.protocol,
      remote: s.description.remote,
      topics: s.filter.patterns(),
      live: s.isLive,
      delivered: s.delivered,
      position: s.position,
    }))
  }

  /**
   * 200 while the node serves. `ready` says whether its reads are current: it knows a leader,
   * has applied all it knows to be committed, and, if it leads, has committed an entry of its
   * own term (until then it cannot know the commit index, Raft §8: a leader restarted after a
   * crash would otherwise serve the state of before its last writes).
   */
  health(): HealthInfo {
    const status = this.log.status()
    const ready = status.leader !== null && status.lastApplied >= status.commitIndex && this.driver.knowsCommitIndex()
    return {ok: true, ready, node_id: this.nodeId, state: status.role, leader: status.leader !== null}
  }

  prometheusMetrics(): string {
    const status = this.log.status()
    const writer = this.writer.metrics()
    const memory = process.memoryUsage()
    const loopDelay = this.loopDelay.read()
    return prometheusText([
      {name: 'pad_published_total', help: 'Publishes acknowledged by this node', type: 'counter', value: this.publisher.published},
      {name: 'pad_publish_errors_total', help: 'Publishes that failed', type: 'counter', value: this.publisher.failed},
      {name: 'pad_messages_stored', help: 'Messages in the store', type: 'gauge', value: this.store.messageCount},
      {name: 'pad_topics', help: 'Topics in the store', type: 'gauge', value: this.store.topicBounds().size},
      {name: 'pad_subscribers', help: 'Open subscriptions', type: 'gauge', value: this.subscriptions.size},
      {name: 'pad_connections', help: 'Open client TCP connections', type: 'gauge', value: this.tcp.connections},
      {name: 'pad_raft_term', help: 'Current Raft term', type: 'gauge', value: status.term},
      {name: 'pad_raft_is_leader', help: '1 when this node leads', type: 'gauge', value: status.role === 'LEADER' ? 1 : 0},
      {name: 'pad_raft_commit_index', help: 'Raft commit index', type: 'gauge', value: status.commitIndex},
      {name: 'pad_raft_last_applied', help: 'Last applied Raft index', type: 'gauge', value: status.lastApplied},
      {name: 'pad_raft_log_last_index', help: 'Last Raft log index', type: 'gauge', value: status.lastIndex},
      {name: 'pad_raft_log_first_index', help: 'First Raft log index still stored (the log is compacted below)', type: 'gauge', value: status.firstIndex},
      {name: 'pad_raft_snapshot_index', help: 'Compaction point: last index covered by the snapshot', type: 'gauge', value: status.snapshotIndex},
      {name: 'pad_raft_snapshot_term', help: 'Term of the compaction point', type: 'gauge', value: status.snapshotTerm},
      {name: 'pad_raft_snapshots_sent_total', help: 'Snapshots streamed to followers to the end', type: 'counter', value: this.driver.snapshotsSent},
      {name: 'pad_raft_snapshots_installed_total', help: 'Snapshots received from a leader and installed', type: 'counter', value: this.driver.snapshotsInstalled},
      {name: 'pad_disk_bytes', help: 'Node database size on disk (main file, WAL and shared memory)', type: 'gauge', value: this.diskBytes()},
      {name: 'pad_raft_bytes_sent_total', help: 'Bytes of frames sent to Raft peers', type: 'counter', value: this.transport.bytesSent()},
      {name: 'pad_write_queue_depth', help: 'Requests waiting for the writer', type: 'gauge', value: writer.queueDepth},
      {name: 'pad_write_batches_total', help: 'Transactions committed by the writer', type: 'counter', value: writer.batches},
      {name: 'pad_write_requests_total', help: 'Requests written by the writer', type: 'counter', value: writer.requests},
      {name: 'pad_write_failed_requests_total', help: 'Requests the writer rejected', type: 'counter', value: writer.failedRequests},
      {name: 'pad_write_inline_total', help: 'Small writes committed on the main thread, not the writer thread', type: 'counter', value: writer.inlineWrites},
      {
        name: 'pad_write_inline_slow_total',
        help: `Main-thread commits slower than ${DEFAULT_INLINE_SLOW_MS} ms, each sending writes back to the writer thread for ${INLINE_BACKOFF_MS / 1000} s`,
        type: 'counter',
        value: writer.inlineSlowWrites,
      },
      {name: 'pad_write_batch_size_avg', help: 'Average requests per transaction', type: 'gauge', value: writer.avgBatchSize},
      {name: 'pad_write_commit_latency_p99_ms', help: 'Commit latency p99 over recent batches', type: 'gauge', value: writer.commitLatencyMs.p99},
      {name: 'pad_skipped_entries_total', help: 'Committed entries skipped as not a valid publish', type: 'counter', value: this.store.skippedEntries},
      {name: 'pad_event_loop_delay_max_ms', help: 'Worst event-loop delay over the recent window', type: 'gauge', value: loopDelay.maxMs},
      {name: 'pad_event_loop_delay_p99_ms', help: 'Event-loop delay p99 over the recent window', type: 'gauge', value: loopDelay.p99Ms},
      {name: 'pad_process_resident_memory_bytes', help: 'Resident set size', type: 'gauge', value: memory.rss},
      {name: 'pad_process_heap_used_bytes', help: 'JavaScript heap in use (main thread)', type: 'gauge', value: memory.heapUsed},
      {name: 'pad_process_heap_total_bytes', help: 'JavaScript heap reserved (main thread)', type: 'gauge', value: memory.heapTotal},
      {name: 'pad_process_external_bytes', help: 'Memory of C++ objects bound to JavaScript, buffers included', type: 'gauge', value: memory.external},
      {name: 'pad_process_array_buffers_bytes', help: 'Memory of ArrayBuffers and Buffers', type: 'gauge', value: memory.arrayBuffers},
    ])
  }
}
