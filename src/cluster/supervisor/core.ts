/**
 * What every part of the supervisor shares: the cluster's folder and state, the node handles,
 * the token, the timeline, the supervisor log, whether it is stopping, and the queue that runs
 * requests that change things one at a time.
 */
import fs from 'node:fs'
import type {CliEntry} from '../cli-entry.js'
import {ClusterError} from '../errors.js'
import {EventLog} from '../events.js'
import type {ClusterPaths} from '../layout.js'
import {readState, readToken, writeState, type ClusterState} from '../state.js'
import {nodeHandle, type NodeHandle} from './node-handle.js'

/** How long a node may take to answer a question about its state (a paused one never does). */
export const STATUS_TIMEOUT_MS = 700

export interface SupervisorOptions {
  foreground: boolean
  cli?: CliEntry
  /** How long a node may take from spawn to answering /health. */
  startTimeoutMs?: number
  /** How long a node may take to stop after SIGTERM before it gets SIGKILL. */
  stopGraceMs?: number
}

export class SupervisorCore {
  readonly events: EventLog
  readonly state: ClusterState
  readonly nodes: NodeHandle[]
  readonly token: string
  /** Set once shutdown has begun: nothing new may start after it. */
  stopping = false
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly paths: ClusterPaths,
    readonly options: SupervisorOptions,
  ) {
    const state = readState(paths)
    if (!state) throw new ClusterError('SUPERVISOR', `no ${paths.clusterJson}: run pad-cli up`)
    this.state = state
    this.token = readToken(paths)
    this.events = new EventLog(paths.events)
    this.nodes = state.nodes.map(nodeHandle)
  }

  get size(): number {
    return this.nodes.length
  }

  /** Runs `task` after every task queued before it (requests that change things run one at a time, in order). */
  serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task)
    this.queue = run.catch(() => {})
    return run
  }

  /** Settles when every task queued so far has run. */
  idle(): Promise<unknown> {
    return this.queue
  }

  save(): void {
    try {
      writeState(this.paths, this.state)
    } catch (error) {
      this.log('could not write cluster.json', {error: (error as Error).message})
    }
  }

  /** A line in supervisor.log. */
  log(message: string, fields: Record<string, unknown> = {}): void {
    const rest = Object.entries(fields)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ')
    try {
      fs.appendFileSync(this.paths.supervisorLog, `${new Date().toISOString()} ${message}${rest ? ' ' + rest : ''}\n`, {mode: 0o600})
    } catch {
      // Nowhere else to say it.
    }
  }
}
