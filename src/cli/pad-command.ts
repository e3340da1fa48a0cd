/**
 * What every pad-cli command shares:
 *
 * - --json through oclif's `enableJsonFlag`: `run()` returns the command's typed result, which
 *   oclif prints as JSON with --json (and `this.log` is silent then); commands that stream
 *   (subscribe, events -f, bench phases) print their JSON lines with `jsonLine` as they go.
 * - one error path: every error ends the command with one line on stderr and an exit code
 *   (src/cli/fail.ts), also with --json, also for a bad flag value.
 */
import {Command, Errors, Flags, ux} from '@oclif/core'
import {ClusterError} from '../cluster/errors.js'
import {fail, parserMessage} from './fail.js'

export abstract class PadCommand<Result = void> extends Command {
  static override enableJsonFlag = true

  /** --json, described as every command means it (a command with more to say declares its own). */
  static override baseFlags = {
    json: Flags.boolean({description: 'print JSON instead of text'}),
  }

  /**
   * How --json prints the result: `pretty` over several lines, or `line`, one line, for
   * commands whose output scripts read line by line (publish, chaos).
   */
  static jsonLayout: 'pretty' | 'line' = 'pretty'

  abstract override run(): Promise<Result>

  override logJson(json: unknown): void {
    const layout = (this.constructor as typeof PadCommand).jsonLayout
    ux.stdout(JSON.stringify(json, null, layout === 'line' ? undefined : 2))
  }

  /** One JSON line of a stream, printed now (with --json, `this.log` prints nothing). */
  protected jsonLine(value: unknown): void {
    ux.stdout(JSON.stringify(value))
  }

  /** Refuses the command line: one line, exit code 2. */
  protected usage(message: string): never {
    return fail(this, message, 2)
  }

  protected override async catch(error: Error & {oclif?: {exit?: number}}): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error
    if (process.env.DEBUG) return super.catch(error)
    if (error instanceof ClusterError) fail(this, error.message, error.exitCode)
    if (error instanceof Errors.CLIError || /^Parsing --/.test(error.message)) fail(this, parserMessage(error.message), error.oclif?.exit ?? 2)
    return fail(this, error.message, 1)
  }
}
