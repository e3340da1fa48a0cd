/**
 * Errors of the cluster manager. Each carries a one-line message meant for the user (what
 * went wrong and what to do) and the exit code the CLI should end with; none needs a stack
 * trace to be understood.
 */

import type {ControlErrorCode} from '../api/control.js'

/** The codes are the control protocol's, so a refusal keeps its code across the socket. */
export type ClusterErrorCode = ControlErrorCode

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
