/** Durations on the command line: `150ms`, `2s`, `1.5s`, `10m`, `1h`; a bare number is `unit`. */
import {Flags} from '@oclif/core'

const UNITS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}

export function parseDuration(text: string, unit: 'ms' | 's' = 'ms'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (!match) throw new Error(`"${text}" is not a duration: use e.g. 150ms, 2s, 1m`)
  const ms = Number(match[1]) * UNITS[match[2] ?? unit]
  if (!Number.isFinite(ms)) throw new Error(`"${text}" is not a duration`)
  return Math.round(ms)
}

/** How a duration flag reads its value: what a bare number means, and the shortest value it takes. */
export type DurationFlagOptions = {
  /** What a bare number is: `ms` (the default) or `s`. */
  unit?: 'ms' | 's'
  /** The shortest duration accepted, in ms (default 0). */
  minMs?: number
  /** (oclif's options of a custom flag are a record) */
  [name: string]: unknown
}

/**
 * The one duration flag of every command, parsed to milliseconds: `durationFlag({description,
 * default: 5000, defaultHelp: async () => '5s', unit: 's'})`. A bad value is refused with the
 * flag's name (the command prints it as one line, exit code 2).
 */
export const durationFlag = Flags.custom<number, DurationFlagOptions>({
  parse: async (input, _context, options) => {
    const flag = `--${options.name}`
    let ms: number
    try {
      ms = parseDuration(input, options.unit ?? 'ms')
    } catch {
      throw new Error(`${flag}: "${input}" is not a duration: use e.g. 150ms, 10s, 1m`)
    }
    const min = options.minMs ?? 0
    if (ms < min) throw new Error(`${flag} must be at least ${min} ms`)
    return ms
  },
})
