/** Duration flags and arguments: their text parsed to milliseconds by util/duration.ts. */
import {Args, Flags} from '@oclif/core'
import {badArgument} from '../cluster/errors.js'
import {parseDuration, type DurationRule} from '../util/duration.js'

/** How a duration flag or argument reads its value (oclif's options of a custom flag are a record). */
export type DurationOptions = DurationRule & {[name: string]: unknown}

/**
 * The one duration flag of every command, parsed to milliseconds: `durationFlag({description,
 * default: 5000, defaultHelp: async () => '5s', unit: 's'})`. A bad value is refused with the
 * flag's name (the command prints it as one line, exit code 2).
 */
export const durationFlag = Flags.custom<number, DurationOptions>({
  parse: async (input, _context, options) => parseDuration(input, `--${options.name}`, options),
})

/**
 * A duration argument, refused with `label` (the argument's name if none): oclif passes an
 * argument's error on as it is, so it is made a bad argument here (one line, exit code 2).
 */
export const durationArg = Args.custom<number, DurationOptions & {label?: string}>({
  parse: async (input, _context, options) => {
    try {
      return parseDuration(input, options.label ?? options.name, options)
    } catch (error) {
      throw badArgument((error as Error).message)
    }
  },
})
