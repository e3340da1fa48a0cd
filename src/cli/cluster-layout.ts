/**
 * The flags of a command that starts a cluster (up; bench and chaos, a temporary one) as the
 * cluster manager's options: where the nodes listen and their Raft timing.
 */

export interface ClusterLayoutFlags {
  host: string
  'tcp-port': number
  'http-port': number
  'raft-port': number
  /** Milliseconds, as the duration flags parse them. */
  'election-timeout': number
  heartbeat: number
}

/** The layout as the flags have it: up's flags may be left out (then the saved cluster's values apply). */
type LayoutOf<F extends Partial<ClusterLayoutFlags>> = {
  host: F['host']
  tcpPort: F['tcp-port']
  httpPort: F['http-port']
  raftPort: F['raft-port']
  electionTimeoutMs: F['election-timeout']
  heartbeatMs: F['heartbeat']
}

export function clusterLayout<F extends Partial<ClusterLayoutFlags>>(flags: F): LayoutOf<F> {
  return {
    host: flags.host,
    tcpPort: flags['tcp-port'],
    httpPort: flags['http-port'],
    raftPort: flags['raft-port'],
    electionTimeoutMs: flags['election-timeout'],
    heartbeatMs: flags.heartbeat,
  }
}
