// What a writer counts of the requests it settles, whichever writer it is: DatabaseWriter and
// InProcessWriter settle batches the same way and report the same metrics.

/** A request as far as settling it goes: its rows, and whom to tell. */
export interface SettledRequest {
  rows: number
  settle: (error: Error | null) => void
}

export class WriteCounts {
  /** Batches completed (committed or failed as a whole). */
  batches = 0
  /** Requests completed, successfully or not. */
  requests = 0
  failedRequests = 0
  /** Rows written by the requests that committed. */
  rows = 0
  lastBatchSize = 0
  maxBatchSize = 0
  private batchRequestsTotal = 0

  get avgBatchSize(): number {
    return this.batches === 0 ? 0 : this.batchRequestsTotal / this.batches
  }

  /** Settles every request of a completed batch with its outcome, in order, and counts them. */
  settleBatch(requests: readonly SettledRequest[], errorOf: (index: number) => Error | null): void {
    this.batches++
    this.batchRequestsTotal += requests.length
    this.lastBatchSize = requests.length
    if (requests.length > this.maxBatchSize) this.maxBatchSize = requests.length
    for (let i = 0; i < requests.length; i++) {
      const error = errorOf(i)
      this.requests++
      if (error) this.failedRequests++
      else this.rows += requests[i].rows
      requests[i].settle(error)
    }
  }

  /** A request that failed outside any batch (refused before it was queued, or dropped by a stop). */
  failedAlone(): void {
    this.requests++
    this.failedRequests++
  }
}
