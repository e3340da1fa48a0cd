/**
 * The one way a command ends in error: one line on stderr, `Error: <reason>`, and an exit
 * code (2 for a bad command line, 1 for anything else unless the error names its own).
 *
 * oclif's `this.error` wraps a long message at 80 columns whenever stderr is not a terminal
 * (a log file, a pipe, a test) and, in debug mode, prints a stack trace; its flag parser
 * spreads a bad value over three lines ("Parsing --x", the reason, "See more help"); and with
 * --json it prints the error as JSON on stdout. Scripts and people reading logs want the
 * whole reason on one line, on stderr, whatever the flags.
 */
import type {Command} from '@oclif/core'

export function fail(command: Command, message: string, exit = 1): never {
  process.stderr.write(`Error: ${oneLine(message)}\n`)
  return command.exit(exit)
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim()
}

/**
 * An error of oclif's flag parser as one line: "Parsing --port \n\tExpected an integer but
 * received: abc\nSee more help with --help" becomes "--port: Expected an integer but received:
 * abc"; a reason that names its flag already keeps its own words.
 */
export function parserMessage(message: string): string {
  const text = message.replace(/\n\s*See more help with --help\s*$/, '')
  const parsing = /^Parsing (--[\w-]+)\s*\n\t([\s\S]*)$/.exec(text)
  if (!parsing) return oneLine(text)
  const [, flag, reason] = parsing
  return oneLine(reason.startsWith(flag) ? reason : `${flag}: ${reason}`)
}
