/**
 * Ends a command with a one-line error on stderr and an exit code.
 *
 * oclif's `this.error` wraps a long message at 80 columns whenever stderr is not a terminal
 * (a log file, a pipe, a test) and, in debug mode, prints a stack trace; scripts and people
 * reading logs want the whole reason on one line, as `Error: <reason>`.
 */
import type {Command} from '@oclif/core'

export function fail(command: Command, message: string, exit = 1): never {
  process.stderr.write(`Error: ${message.replace(/\s*\n\s*/g, ' ').trim()}\n`)
  return command.exit(exit)
}
