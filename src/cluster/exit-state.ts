/**
 * How a node process that ended shows in `status`: `stopped` when the supervisor stopped it
 * (`stop`, `restart`, `down`), `exited` when the supervisor killed it (`kill`, chaos) or it
 * ended cleanly by itself (code 0: someone outside sent it SIGTERM or SIGINT, which it takes
 * as a request to stop), and `crashed` for anything else: a non-zero exit code, or a signal the
 * supervisor did not send (SIGSEGV, SIGABRT, the OOM killer's SIGKILL), or a spawn that failed.
 */
import type {ProcessState} from './state.js'

/** Why the supervisor expects the current process to end, if it asked it to. */
export type StopRequest = 'kill' | 'stop' | 'down'

export type ExitState = Extract<ProcessState, 'stopped' | 'exited' | 'crashed'>

export function exitState(expecting: StopRequest | null, code: number | null, signal: string | null): ExitState {
  if (expecting === 'stop' || expecting === 'down') return 'stopped'
  if (expecting === 'kill') return 'exited'
  return signal === null && code === 0 ? 'exited' : 'crashed'
}
