/** Duration flags: their text parsed to milliseconds (util/duration.ts). */
import {Flags} from '@oclif/core'
import {parseDuration} from '../util/duration.js'

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
