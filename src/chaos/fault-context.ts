/**
 * What a fault family needs from the nemesis that plays it: the cluster, the run's clock, the
 * record list, who leads, and sleeps that stop() cuts short. The families that play several
 * faults (pause-kill, part-kill, overlap) live in files of their own and reach the nemesis
 * only through this.
 */
import type {ChaosCluster} from './cluster.js'
import type {FaultRecord} from './history.js'
import type {Random} from './random.js'

export interface FaultContext {
  readonly cluster: ChaosCluster
  /** Milliseconds since the start of the run. */
  clock(): number
  log(line: string): void
  /** Adds a record to the history (it is filled in as the fault goes on). */
  record(record: FaultRecord): void
  /** The leader now, or a member drawn at random if there is none. */
  leaderOr(): Promise<number>
  /** Sleeps, or less if the nemesis is stopped. */
  sleepFor(ms: number): Promise<void>
  /** True once the nemesis was asked to stop: no new fault starts. */
  stopped(): boolean
  /** Draws of the run (targets resolved when a fault starts), independent of the plan's. */
  readonly random: Random
}

/** The most nodes that may be down with a majority of `nodes` still up: floor((n-1)/2). */
export function minority(nodes: number): number {
  return Math.max(0, Math.floor((nodes - 1) / 2))
}
