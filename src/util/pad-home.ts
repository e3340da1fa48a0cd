/** Where pad-cli keeps its state: $PAD_HOME, else ~/.pad. */
import os from 'node:os'
import path from 'node:path'

export function padHome(): string {
  return process.env.PAD_HOME && process.env.PAD_HOME !== '' ? path.resolve(process.env.PAD_HOME) : path.join(os.homedir(), '.pad')
}
