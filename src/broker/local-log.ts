/**
 * The log of a cluster of one: an entry commits as soon as it is durable on this node.
 * Proposals made in the same turn of the event loop share one write.
 */
import type {DatabaseWriter, SqlValue} from '../storage/database-writer.js'
import type {StoreReader} from '../storage/store-reader.js'
import {ENTRY_TYPE_CODE} from '../storage/schema.js'
import {BrokerError} from './errors.js'
import type {ApplyResult, CommittedEntry, MessageStore} from './message-store.js'
import type {LogStatus, ReplicatedLog} from './replicated-log.js'

interface Waiter {
  resolve: (result: ApplyResult) => void
  reject: (error: Error) => void
}

export class LocalLog implements ReplicatedLog {
  private lastIndex: number
  private commitIndex: number
  private readonly term: number
  private batch: {data: Uint8Array; waiter: Waiter}[] = []
  private flushScheduled = false
  private inFlight = 0
  private closed = false
  private idle: (() => void) | null = null

  constructor(
    private readonly writer: DatabaseWriter,
    reader: StoreReader,
    private readonly store: MessageStore,
  ) {
    const hardState = reader.hardState()
    this.lastIndex = reader.logBounds()?.last ?? 0
    this.commitIndex = this.lastIndex
    // Every start is a new term, as if this node had just won an election.
    this.term = (hardState?.term ?? 0) + 1
    this.replay(reader)
    this.writer.writeAsync([{stmt: 'setHardState', rows: [[this.term, 0, this.commitIndex]]}])
  }

  propose(data: Uint8Array): Promise<ApplyResult> {
    if (this.closed) return Promise.reject(new BrokerError('SHUTTING_DOWN', 'the node is shutting down'))
    return new Promise((resolve, reject) => {
      this.batch.push({data, waiter: {resolve, reject}})
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  status(): LogStatus {
    return {
      role: 'LEADER',
      term: this.term,
      leader: 0,
      commitIndex: this.commitIndex,
      lastApplied: this.store.appliedIndex,
      firstIndex: 1,
      lastIndex: this.lastIndex,
      clusterSize: 1,
    }
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.batch.length > 0) this.flush()
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve))
  }

  private replay(reader: StoreReader): void {
    const from = this.store.appliedIndex + 1
    const pageSize = 10_000
    for (let lo = from; lo <= this.lastIndex; lo += pageSize) {
      const entries = reader.entries(lo, Math.min(lo + pageSize, this.lastIndex + 1)).map(
        (e): CommittedEntry => ({index: e.index, term: e.term, type: e.type === ENTRY_TYPE_CODE.noop ? 'noop' : 'normal', data: e.data}),
      )
      this.store.apply(entries)
    }
  }

  private flush(): void {
    this.flushScheduled = false
    const batch = this.batch
    this.batch = []
    if (batch.length === 0) return
    const entries: CommittedEntry[] = []
    const rows: SqlValue[][] = []
    for (const {data} of batch) {
      const index = ++this.lastIndex
      entries.push({index, term: this.term, type: 'normal', data})
      rows.push([index, this.term, ENTRY_TYPE_CODE.normal, data])
    }
    this.inFlight++
    this.writer
      .write([
        {stmt: 'appendEntry', rows},
        {stmt: 'setHardState', rows: [[this.term, 0, this.lastIndex]]},
      ])
      .then(
        () => {
          this.commitIndex = entries[entries.length - 1].index
          const results = this.store.apply(entries)
          for (const [i, {waiter}] of batch.entries()) waiter.resolve(results.get(entries[i].index)!)
        },
        (error: Error) => {
          for (const {waiter} of batch) waiter.reject(new BrokerError('INTERNAL', `write failed: ${error.message}`))
        },
      )
      .finally(() => {
        this.inFlight--
        if (this.inFlight === 0 && this.idle) this.idle()
      })
  }
}
