/**
 * The one reading of a duration the user types: `150ms`, `2s`, `1.5s`, `10m`, `1h`; a bare
 * number is in the value's `unit`. Every flag and argument that takes a duration comes here
 * (cli/duration.ts adapts it to oclif), so all accept the same syntax and refuse alike.
 */
const UNITS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}

/** How one value reads: what a bare number is, its bounds, and how a refusal says to write it. */
export interface DurationRule {
  /** What a bare number is: `ms` (the default) or `s`. */
  unit?: 'ms' | 's'
  /** The shortest duration accepted, in ms (default 0). */
  minMs?: number
  /** The longest duration accepted, in ms (default: no bound). */
  maxMs?: number
  /** The examples a refusal gives (default `150ms, 10s, 1m`). */
  examples?: string
}

/**
 * `text` in milliseconds, or an Error whose one-line message names the value (`--for`,
 * `delay`) and says what was wrong.
 */
export function parseDuration(text: string, name: string, rule: DurationRule = {}): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  const ms = match ? Math.round(Number(match[1]) * UNITS[match[2] ?? rule.unit ?? 'ms']) : NaN
  // Quoted as JSON so that whatever was typed (a newline, a quote) stays on the one line.
  if (!Number.isFinite(ms)) throw new Error(`${name}: ${JSON.stringify(text)} is not a duration: use e.g. ${rule.examples ?? '150ms, 10s, 1m'}`)
  const min = rule.minMs ?? 0
  if (ms < min) throw new Error(`${name} must be at least ${min} ms`)
  if (rule.maxMs !== undefined && ms > rule.maxMs) throw new Error(`${name}: ${ms} ms is too long (at most ${rule.maxMs} ms)`)
  return ms
}
