/**
 * What the chaos runner needs from a cluster: where its nodes listen, and how to hurt and
 * heal them (the cluster manager's SupervisedCluster does it through a supervisor). Everything
 * else reaches the nodes only through their ports and HTTP API (src/client).
 */
import type {AddAnswer, ControlAnswers, CorruptFileName, RemoveAnswer} from '../api/control.js'
import type {CutOptions} from '../api/lazy-fs-control.js'
import type {Partition, PartitionRequest} from '../cluster/faults.js'
import type {ClusterMember} from '../cluster/supervised-cluster.js'

export interface ChaosCluster {
  /** The members now (voters and learners, not removed nodes), in index order; follows add, remove and replace. */
  readonly nodes: readonly ClusterMember[]
  /** Where the cluster keeps its files (node logs, data), if anywhere the user may look. */
  readonly dir: string
  /** SIGKILL; resolves once the process has exited. */
  kill(index: number): Promise<void>
  /** SIGTERM (graceful stop), SIGKILL after a bound; resolves once the process has exited. */
  stop(index: number): Promise<void>
  /** Starts a stopped node again on its data; resolves once it serves HTTP. */
  start(index: number): Promise<void>
  /**
   * A power cut of these nodes at once (all SIGKILLed, then what each had not fsynced dropped by
   * the lazy layer its data dir is on, then started again); resolves once they serve again.
   * `torn`: part of each file's last unsynced write survives, chosen by `seed`.
   */
  powerCut(indexes: number[], options?: CutOptions): Promise<void>
  /** SIGSTOP. */
  pause(index: number): Promise<void>
  /** SIGCONT. */
  resume(index: number): Promise<void>
  /**
   * Cuts links both ways; `forMs` bounds it in case we die. Resolves with the partition as
   * applied, which must be the one asked for (a cluster that cuts other links refuses).
   */
  partition(request: PartitionRequest, forMs: number): Promise<Partition>
  /** Slows every link of a node, both ways. */
  delay(index: number, delayMs: number, jitterMs: number, forMs: number): Promise<void>
  /** Loses a share (0..1) of the messages on every link of a node, both ways. */
  loss(index: number, share: number, forMs: number): Promise<void>
  /** The voters now, by the leader's configuration (cluster.json's without a leader); refreshes `nodes`. */
  voters(): Promise<number[]>
  /** Adds a node and waits until it is a voter. */
  add(): Promise<AddAnswer>
  /** Takes a member out of the configuration and stops it. */
  remove(index: number): Promise<RemoveAnswer>
  /** Adds a node, then removes `index`. */
  replace(index: number): Promise<ControlAnswers['replace']>
  /** Damages a stopped node's file (bits flipped, or its end cut off); refused while it runs. */
  corrupt(index: number, how: CorruptHow): Promise<ControlAnswers['corrupt']>
  /** Replaces a node that reports its data corrupt by a new member caught up from the leader; refused (NODE_STATE) when it reports nothing. */
  repair(index: number): Promise<ControlAnswers['repair']>
  /** Removes every network fault on every running node. */
  heal(): Promise<void>
  /** Makes every node run again: resumes the paused ones, starts the stopped ones, heals the network. */
  restoreAll(): Promise<void>
  /** Stops what the runner started and releases what it holds. */
  close(): Promise<void>
  /** SIGKILLs what the runner started, now and synchronously (for an exit handler). */
  killNow(): void
}

/** What `corrupt` does to which file. */
export type CorruptHow = ({bitflip: number} | {truncate: number}) & {file: CorruptFileName}
