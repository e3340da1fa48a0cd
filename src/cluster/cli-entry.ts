/** How to run `pad-cli` again from within it: the same node binary, flags and entry script. */

export interface CliEntry {
  /** The node executable. */
  command: string
  /** Node's own flags (e.g. --import tsx), then the entry script (bin/run.js or bin/dev.js). */
  args: string[]
}

/** The pad-cli that is running now, so the supervisor and the nodes run the same code as it. */
export function currentCli(): CliEntry {
  const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--inspect') && !arg.startsWith('--debug'))
  return {command: process.execPath, args: [...execArgv, process.argv[1]]}
}
