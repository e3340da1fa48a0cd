/**
 * The flags of a command that starts a temporary cluster (bench, chaos) as the cluster
 * manager's options: where the nodes listen and their Raft timing.
 */
import type {ClusterLayout} from '../cluster/supervised-cluster.js'

export interface ClusterLayoutFlags {
  host: string
  'tcp-port': number
  'http-port': number
  'raft-port': number
  /** Milliseconds, as the duration flags parse them. */
  'election-timeout': number
  heartbeat: number
}

export function clusterLayout(flags: ClusterLayoutFlags): ClusterLayout {
  return {
    host: flags.host,
    tcpPort: flags['tcp-port'],
    httpPort: flags['http-port'],
    raftPort: flags['raft-port'],
    electionTimeoutMs: flags['election-timeout'],
    heartbeatMs: flags.heartbeat,
  }
}
