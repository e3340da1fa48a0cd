import path from 'node:path'
import {Flags} from '@oclif/core'
import {DataDirError} from '../broker/data-dir.js'
import {exposureWarning, normalizeOrigin} from '../broker/http-access.js'
import {DEFAULT_LIMITS} from '../broker/limits.js'
import {Logger} from '../broker/logger.js'
import {BrokerNode, corruptInfo, DEFAULT_NODE_OPTIONS, selfIndex} from '../broker/node.js'
import {writeCorruptMarker} from '../broker/corrupt-marker.js'
import {corruptMessage, CorruptNode} from '../broker/corrupt-node.js'
import type {CorruptInfo} from '../api/node-http.js'
import {CorruptionError} from '../storage/corruption.js'
import {durationFlag} from '../cli/duration.js'
import {fail} from '../cli/fail.js'
import {onInterrupts} from '../cli/interrupts.js'
import {PadCommand} from '../cli/pad-command.js'
import {padHome} from '../util/pad-home.js'
import {parseRetention} from '../util/retention-spec.js'
import {parsePeers} from '../cli/peers.js'
import {readNodeToken} from '../cli/token.js'
import {JoinError, joinCluster, parseMemberAddress} from '../client/join-cluster.js'
import {watchProcess} from '../cluster/process-util.js'
import {MAX_COMPACTION_ENTRIES} from '../cluster/node-args.js'
import {DEFAULT_COMPACTION} from '../broker/log-compactor.js'

/** The one loud line a node started with --unsafe-no-fsync logs first. */
export const UNSAFE_NO_FSYNC_WARNING = 'UNSAFE: --unsafe-no-fsync: nothing is fsynced (SQLite synchronous=OFF); acknowledged messages WILL BE LOST on a power cut. For durability tests only, never for data you keep.'

export default class Node extends PadCommand {
  static override summary = 'Run one broker node in the foreground.'

  static override description = `Serves publishers and subscribers on the TCP port (JSON lines and the PAD text protocol), \
an HTTP API on the HTTP port, and Raft on the Raft port. Every publish is written to the node's log and stored in \
SQLite (WAL, synchronous=FULL) before it is acknowledged (except with --unsafe-no-fsync, a test-only flag).

Logs go to stdout, as text or, with --log-format json (or --json), one JSON object per line: the first \
says "node started" with its addresses, data dir and pid. SIGTERM or Ctrl-C stops the node gracefully: it finishes the publishes in flight and flushes \
its write queue; a second signal exits at once.`

  static override examples = [
    '<%= config.bin %> node',
    '<%= config.bin %> node --tcp-port 5001 --http-port 8081 --raft-port 6001 --data-dir /tmp/pad-node-1',
    '<%= config.bin %> node --log-format json',
    `# a 3-node cluster by hand, one command per terminal (or per machine, with their addresses), every member given
# the same secret of 16 characters or more in a file only its owner reads:
<%= config.bin %> node --tcp-port 5000 --http-port 8080 --raft-port 6000 --data-dir /tmp/pad-0 --peers 127.0.0.1:6000,127.0.0.1:6001,127.0.0.1:6002 --token-file /tmp/pad-token
<%= config.bin %> node --tcp-port 5001 --http-port 8081 --raft-port 6001 --data-dir /tmp/pad-1 --peers 127.0.0.1:6000,127.0.0.1:6001,127.0.0.1:6002 --token-file /tmp/pad-token
<%= config.bin %> node --tcp-port 5002 --http-port 8082 --raft-port 6002 --data-dir /tmp/pad-2 --peers 127.0.0.1:6000,127.0.0.1:6001,127.0.0.1:6002 --token-file /tmp/pad-token`,
    `# a fourth node joins that running cluster as a learner (promote it with POST /admin/members {"op":"promote","id":3});
# restarted later on the same data dir, it runs as the same member
<%= config.bin %> node --tcp-port 5003 --http-port 8083 --raft-port 6003 --data-dir /tmp/pad-3 --join 127.0.0.1:8080 --token-file /tmp/pad-token`,
  ]

  static override flags = {
    id: Flags.string({description: 'node id reported by the API [default: <host>:<tcp-port>]'}),
    host: Flags.string({description: 'address to listen on', default: DEFAULT_NODE_OPTIONS.host}),
    'tcp-port': Flags.integer({description: 'client TCP port (JSON lines and PAD protocol)', default: DEFAULT_NODE_OPTIONS.tcpPort, min: 1, max: 65535}),
    'http-port': Flags.integer({description: 'HTTP API port', default: DEFAULT_NODE_OPTIONS.httpPort, min: 1, max: 65535}),
    'raft-port': Flags.integer({description: 'Raft port for peer traffic', default: DEFAULT_NODE_OPTIONS.raftPort, min: 1, max: 65535}),
    'data-dir': Flags.string({description: 'directory of the node database [default: $PAD_HOME/node-<tcp-port>]'}),
    'log-format': Flags.string({description: 'log line format', options: ['text', 'json'], default: 'text'}),
    json: Flags.boolean({description: 'log as JSON lines, the same as --log-format json (the node runs until stopped; its first line says it started)'}),
    'max-body': Flags.integer({description: 'largest message body in bytes', default: DEFAULT_LIMITS.maxBodyBytes, min: 1, helpGroup: 'LIMITS'}),
    'max-connections': Flags.integer({
      description: 'open client TCP connections; more are refused',
      default: DEFAULT_LIMITS.maxClientConnections,
      min: 1,
      helpGroup: 'LIMITS',
    }),
    'max-raft-connections': Flags.integer({
      description: 'open connections on the Raft port, authenticated or not',
      default: DEFAULT_LIMITS.maxRaftConnections,
      min: 1,
      helpGroup: 'LIMITS',
    }),
    'max-subscriptions': Flags.integer({
      description: 'subscriptions one client connection may hold',
      default: DEFAULT_LIMITS.maxSubscriptionsPerConnection,
      min: 1,
      helpGroup: 'LIMITS',
    }),
    'max-patterns': Flags.integer({
      description: 'topic patterns in one subscription',
      default: DEFAULT_LIMITS.maxPatternsPerSubscription,
      min: 1,
      helpGroup: 'LIMITS',
    }),
    'max-pending': Flags.integer({
      description: 'bytes waiting to be written to one subscriber (TCP or SSE) before it is cut off as too slow',
      default: DEFAULT_LIMITS.maxPendingBytes,
      min: 1024,
      helpGroup: 'LIMITS',
    }),
    'max-page-bytes': Flags.integer({
      description: 'message body bytes in one /messages page; the page ends early rather than grow past it',
      default: DEFAULT_LIMITS.maxPageBytes,
      min: 1024,
      helpGroup: 'LIMITS',
    }),
    'handshake-timeout': durationFlag({
      description: 'how long a connection on the Raft port may take to authenticate',
      default: DEFAULT_LIMITS.handshakeTimeoutMs,
      defaultHelp: async () => '2s',
      helpGroup: 'LIMITS',
    }),
    'idle-timeout': durationFlag({
      description: 'close a client connection with no subscription that has sent nothing for this long',
      default: DEFAULT_LIMITS.idleTimeoutMs,
      defaultHelp: async () => '5m',
      helpGroup: 'LIMITS',
    }),
    'cors-origin': Flags.string({
      description: "an origin (e.g. http://localhost:3000) whose pages may publish and call /admin, besides the node's own; repeatable",
      multiple: true,
    }),
    'commit-timeout': durationFlag({
      description: 'how long a publish waits for a leader and a commit before it fails with NO_LEADER',
      default: DEFAULT_NODE_OPTIONS.commitTimeoutMs,
      defaultHelp: async () => '2s',
    }),
    peers: Flags.string({
      description: "every member's Raft address, this node's included, in the same order on every node [default: this node alone]",
    }),
    join: Flags.string({
      description:
        "join a running cluster through any member's HTTP API (host:http-port): the node is added as a learner and keeps its node id in its data dir; ignored once the data dir has one (the node restarts as itself)",
      exclusive: ['peers'],
    }),
    cluster: Flags.string({description: 'cluster name; members refuse Raft connections from another cluster', default: 'default'}),
    'election-timeout': durationFlag({
      description: 'minimum election timeout; each timeout is drawn from [t, 2t)',
      default: DEFAULT_NODE_OPTIONS.electionTimeoutMs,
      defaultHelp: async () => '150ms',
    }),
    heartbeat: durationFlag({description: 'leader heartbeat interval', default: DEFAULT_NODE_OPTIONS.heartbeatMs, defaultHelp: async () => '50ms'}),
    'snapshot-entries': Flags.integer({
      description: 'compact the log once this many applied entries are past the last compaction point; a follower that needs entries compacted away gets a snapshot',
      default: DEFAULT_COMPACTION.snapshotEntries,
      min: 1,
      max: MAX_COMPACTION_ENTRIES,
    }),
    'trailing-entries': Flags.integer({
      description: 'log entries kept below the applied index when the log is compacted, so a follower a little behind catches up from the log',
      default: DEFAULT_COMPACTION.trailingEntries,
      min: 0,
      max: MAX_COMPACTION_ENTRIES,
    }),
    'token-file': Flags.string({
      description: `file holding the cluster's secret (16 characters or more, or set PAD_TOKEN): /admin endpoints require it, and members prove they know it on the Raft port; required with --peers`,
    }),
    retention: Flags.string({
      description: `${'what the cluster keeps, oldest messages trimmed first: max-messages=N,max-bytes=SIZE,max-age=DURATION for the whole store, topic:NAME:<limits> for one topic (sizes in bytes or KB/MB/GB, e.g. max-messages=1000000,max-bytes=1GB,max-age=24h); repeatable; none: no limits'}; the leader's flags are the cluster's policy [default: none]`,
      multiple: true,
      helpGroup: 'RETENTION',
    }),
    'unsafe-no-fsync': Flags.boolean({
      description:
        'FOR TESTS ONLY: SQLite synchronous=OFF and no directory fsync, so a publish is acknowledged before it reaches the disk and acknowledged messages are LOST on a power cut (never on a plain crash of the process); it exists to prove that pad-cli chaos --faults power catches exactly that bug',
      helpGroup: 'TESTING',
    }),
    'supervisor-pid': Flags.integer({
      description: 'stop gracefully when this process (the cluster supervisor that started the node) is gone',
      hidden: true,
      min: 1,
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Node)
    // Everything the node creates (data dir, database, WAL, logs) is its owner's alone.
    process.umask(0o077)
    const logFormat = flags.json ? 'json' : (flags['log-format'] as 'text' | 'json')
    const logger = new Logger(logFormat)
    const corsOrigins = flags['cors-origin'] ?? []
    try {
      corsOrigins.forEach(normalizeOrigin)
    } catch (error) {
      this.usage((error as Error).message)
    }
    const exposed = exposureWarning(flags.host)
    if (exposed) logger.warn(exposed)
    if (flags['unsafe-no-fsync']) logger.warn(UNSAFE_NO_FSYNC_WARNING)
    const dataDir = path.resolve(flags['data-dir'] ?? path.join(padHome(), `node-${flags['tcp-port']}`))
    let peers
    try {
      if (flags.join !== undefined) parseMemberAddress(flags.join)
      // A node that joins (or joined: its id is in its data dir) takes its peers from the cluster.
      peers = flags.join !== undefined ? [] : flags.peers === undefined ? [{host: flags.host, port: flags['raft-port']}] : parsePeers(flags.peers)
    } catch (error) {
      this.usage((error as Error).message)
    }
    const timing = {tickMs: DEFAULT_NODE_OPTIONS.tickMs, electionTimeoutMs: flags['election-timeout'], heartbeatMs: flags.heartbeat}
    if (timing.heartbeatMs >= timing.electionTimeoutMs) this.usage('--heartbeat must be shorter than --election-timeout')
    if (timing.heartbeatMs < timing.tickMs) this.usage(`--heartbeat must be at least ${timing.tickMs}ms`)
    let retention
    try {
      retention = parseRetention(flags.retention ?? [])
    } catch (error) {
      this.usage((error as Error).message)
    }
    let adminToken: string | null
    try {
      adminToken = readNodeToken(flags['token-file'])
    } catch (error) {
      this.usage((error as Error).message)
    }
    if (flags.join !== undefined && adminToken === null) this.usage("--join needs the cluster's secret: give --token-file (or PAD_TOKEN)")
    const join = flags.join
    const token = adminToken
    const corruptOptions = {nodeId: flags.id ?? `${flags.host}:${flags['tcp-port']}`, host: flags.host, tcpPort: flags['tcp-port'], httpPort: flags['http-port'], raftPort: flags['raft-port'], dataDir}
    // A node that finds its data corrupt keeps only its HTTP and client ports up, saying so.
    let corrupt: CorruptNode | null = null
    const serveCorrupt = async (info: CorruptInfo): Promise<void> => {
      try {
        corrupt = new CorruptNode(corruptOptions, info)
        await corrupt.listen()
        logger.info('node serving its corrupt state only', {http: `http://${flags.host}:${flags['http-port']}`, data_dir: dataDir, pid: process.pid})
      } catch (error) {
        logger.error('the node found its data corrupt and cannot even report it', {error: (error as Error).message})
        process.exit(1)
      }
    }
    let node: BrokerNode | null = null
    try {
      node = await BrokerNode.start(
        {
          id: flags.id,
          host: flags.host,
          tcpPort: flags['tcp-port'],
          httpPort: flags['http-port'],
          raftPort: flags['raft-port'],
          dataDir,
          logFormat,
          limits: {
            maxBodyBytes: flags['max-body'],
            maxClientConnections: flags['max-connections'],
            maxRaftConnections: flags['max-raft-connections'],
            maxSubscriptionsPerConnection: flags['max-subscriptions'],
            maxPatternsPerSubscription: flags['max-patterns'],
            maxHelloBytes: DEFAULT_LIMITS.maxHelloBytes,
            handshakeTimeoutMs: flags['handshake-timeout'],
            idleTimeoutMs: flags['idle-timeout'],
            maxPendingBytes: flags['max-pending'],
            maxPageBytes: flags['max-page-bytes'],
          },
          commitTimeoutMs: flags['commit-timeout'],
          dedupWindow: DEFAULT_NODE_OPTIONS.dedupWindow,
          peers,
          join:
            join === undefined || token === null
              ? undefined
              : (card) => joinCluster(join, token, card, (line) => logger.info('joining', {via: join, detail: line})),
          cluster: flags.cluster,
          timing,
          adminToken,
          corsOrigins,
          retention,
          compaction: {snapshotEntries: flags['snapshot-entries'], trailingEntries: flags['trailing-entries']},
          unsafeNoFsync: flags['unsafe-no-fsync'],
          onCorrupt: (info) => void serveCorrupt(info),
        },
        logger,
      )
    } catch (error) {
      if (error instanceof CorruptionError) {
        const index = peers.length > 0 ? selfIndex(peers, flags.host, flags['raft-port']) : -1
        const info = writeCorruptMarker(dataDir, corruptInfo(error, index >= 0 ? index : null))
        logger.error(corruptMessage(info), {data_dir: dataDir})
        await serveCorrupt(info)
        await this.untilSignal(logger, flags['supervisor-pid'], () => corrupt?.close() ?? Promise.resolve())
        return
      }
      const known = error instanceof DataDirError || error instanceof JoinError || /port|address|--peers|--join|data dir/.test((error as Error).message)
      fail(this, known ? (error as Error).message : `the node could not start: ${(error as Error).message}`, 1)
    }
    logger.info('node started', {
      node_id: node.nodeId,
      tcp: `${flags.host}:${flags['tcp-port']}`,
      http: `http://${flags.host}:${flags['http-port']}`,
      data_dir: dataDir,
      pid: process.pid,
      node_index: node.self,
      members: node.memberIds().length,
    })
    const running = node
    await this.untilSignal(logger, flags['supervisor-pid'], () => (corrupt ? corrupt.close() : running.stop()))
  }

  /** Runs until SIGTERM or Ctrl-C (or the supervisor is gone), then stops gracefully; a second signal exits at once. */
  private untilSignal(logger: Logger, supervisorPid: number | undefined, stop: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      let stopping = false
      const onSignal = (signal: NodeJS.Signals): void => {
        // Once: a signal after the supervisor went away must not stop the node twice.
        if (stopping) return
        stopping = true
        logger.info('stopping', {signal})
        stop().then(
          () => {
            logger.info('stopped cleanly')
            resolve()
          },
          (error: Error) => {
            logger.error('stop failed', {error: error.message})
            process.exit(1)
          },
        )
      }
      onInterrupts({
        first: onSignal,
        again: (signal) => {
          logger.warn('second signal: exiting now', {signal})
          process.exit(130)
        },
      })
      if (supervisorPid !== undefined) {
        // A node started by `pad-cli up` does not outlive its supervisor as an orphan.
        watchProcess(supervisorPid, 500, () => {
          logger.warn('the cluster supervisor is gone: stopping', {supervisor_pid: supervisorPid})
          onSignal('SIGTERM')
        })
      }
    })
  }
}
