/**
 * Waiting: the one `sleep` and the one bounded poll loop of the code base. Every wait on
 * something outside this process (a node, a supervisor, a pid) goes through `poll`, so it
 * ends after a bounded number of tries and a bounded time, whatever the other side does.
 */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export interface PollOptions {
  /** Give up once this long has passed since the first try. */
  timeoutMs: number
  /** The pause between two tries. */
  intervalMs: number
}

/**
 * Calls `attempt` until it returns something other than undefined, and returns that; returns
 * undefined when `timeoutMs` has passed (or the tries that fit in it are used up) first. A try
 * that throws ends the poll with that error: the caller decides which failures are final.
 */
export async function poll<T>(attempt: () => Promise<T | undefined> | T | undefined, options: PollOptions): Promise<T | undefined> {
  const deadline = Date.now() + options.timeoutMs
  const tries = Math.ceil(options.timeoutMs / Math.max(1, options.intervalMs)) + 1
  for (let i = 0; i < tries; i++) {
    const value = await attempt()
    if (value !== undefined) return value
    if (Date.now() >= deadline) break
    await sleep(Math.min(options.intervalMs, Math.max(0, deadline - Date.now())))
  }
  return undefined
}
