/** Duration flags: their text parsed to milliseconds (util/duration.ts). */
import {Flags} from '@oclif/core'
import {parseDuration} from '../util/duration.js'

/** A flag holding a duration, parsed to milliseconds. */
export const durationFlag = Flags.custom<number>({
  parse: async (input) => parseDuration(input),
})

/** A flag holding a duration whose bare numbers mean seconds. */
export const secondsFlag = Flags.custom<number>({
  parse: async (input) => parseDuration(input, 's'),
})
