/**
 * Errors of the cluster manager. Each carries a one-line message meant for the user (what
 * went wrong and what to do) and the exit code the CLI should end with; none needs a stack
 * trace to be understood.
 */

export type ClusterErrorCode =
  | 'NOT_UP'
  | 'ALREADY_UP'
  | 'BAD_ARGUMENT'
  | 'PORT_IN_USE'
  | 'NO_LEADER'
  | 'NODE_STATE'
  | 'SUPERVISOR'
  | 'NODE_API'
  | 'TIMEOUT'

export class ClusterError extends Error {
  constructor(
    readonly code: ClusterErrorCode,
    message: string,
    readonly exitCode = code === 'BAD_ARGUMENT' ? 2 : 1,
  ) {
    super(message)
    this.name = 'ClusterError'
  }
}

export function badArgument(message: string): ClusterError {
  return new ClusterError('BAD_ARGUMENT', message)
}
