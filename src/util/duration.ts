/** Durations as text: `150ms`, `2s`, `1.5s`, `10m`, `1h`; a bare number is `unit`. */
const UNITS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}

export function parseDuration(text: string, unit: 'ms' | 's' = 'ms'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (!match) throw new Error(`"${text}" is not a duration: use e.g. 150ms, 2s, 1m`)
  const ms = Number(match[1]) * UNITS[match[2] ?? unit]
  if (!Number.isFinite(ms)) throw new Error(`"${text}" is not a duration`)
  return Math.round(ms)
}
