/**
 * How many things happened in the last minute (the seed's `messages_per_minute`): counts in
 * one-second buckets, so the answer moves second by second and costs 60 numbers to keep.
 */
const BUCKETS = 60
const BUCKET_MS = 1000

export class MinuteCount {
  private readonly counts = new Array<number>(BUCKETS).fill(0)
  /** The second (since the epoch) each bucket counts; a bucket of an older second is stale. */
  private readonly seconds = new Array<number>(BUCKETS).fill(-1)

  constructor(private readonly now: () => number = Date.now) {}

  add(n: number): void {
    const second = Math.floor(this.now() / BUCKET_MS)
    const slot = second % BUCKETS
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second
      this.counts[slot] = 0
    }
    this.counts[slot] += n
  }

  /** The count over the last 60 seconds, this one included. */
  total(): number {
    const second = Math.floor(this.now() / BUCKET_MS)
    let sum = 0
    for (let i = 0; i < BUCKETS; i++) if (second - this.seconds[i] < BUCKETS) sum += this.counts[i]
    return sum
  }
}
