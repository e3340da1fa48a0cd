/**
 * Log lines about what strangers do on the Raft port, at most one per kind per interval: a
 * scanner or a misconfigured member reconnecting in a loop must not flood the log. A line
 * after a quiet spell says how many like it were left out.
 */
export interface WarnLogger {
  warn(message: string, fields?: Record<string, unknown>): void
}

export class LogLimiter {
  private readonly last = new Map<string, {at: number; suppressed: number}>()

  constructor(
    private readonly logger: WarnLogger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `message` unless a line of the same kind was logged within the interval. */
  warn(kind: string, message: string, fields: Record<string, unknown> = {}): void {
    const now = this.now()
    const seen = this.last.get(kind)
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++
      return
    }
    if (this.last.size > 1000) this.last.clear()
    this.last.set(kind, {at: now, suppressed: 0})
    this.logger.warn(message, seen && seen.suppressed > 0 ? {...fields, similar_lines_left_out: seen.suppressed} : fields)
  }
}
