/** Errors a client of the broker can get, each with a stable code and its HTTP status. */

export type ErrorCode =
  | 'BAD_REQUEST'
  | 'TOO_LARGE'
  | 'UNKNOWN_OP'
  | 'NO_LEADER'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN_ORIGIN'
  | 'MISDIRECTED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SHUTTING_DOWN'
  | 'OFFSET_TRIMMED'
  | 'NOT_LEADER'
  | 'CONFLICT'
  | 'CORRUPT'
  | 'INTERNAL'

const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  TOO_LARGE: 413,
  UNKNOWN_OP: 400,
  NO_LEADER: 503,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNAUTHORIZED: 401,
  FORBIDDEN_ORIGIN: 403,
  MISDIRECTED: 421,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SHUTTING_DOWN: 503,
  // Gone: retention trimmed what was asked for, and it will not come back.
  OFFSET_TRIMMED: 410,
  // Only the leader changes the membership: the answer names it when known (BrokerError.leader).
  NOT_LEADER: 421,
  // The membership change cannot be made now or at all (the core's one-line reason).
  CONFLICT: 409,
  // The node found its data corrupt and serves nothing from it: another member can answer, and
  // this one only after `pad-cli repair` (not retryable here).
  CORRUPT: 503,
  INTERNAL: 500,
}

export class BrokerError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** OFFSET_TRIMMED: the topic's first offset still kept. */
    readonly firstOffset?: number,
    /** NOT_LEADER: the leader's HTTP address (host:port), when known. */
    readonly leader?: string,
  ) {
    super(message)
    this.name = 'BrokerError'
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code]
  }

  /** Whether the same request may succeed later (the client should retry). */
  get retryable(): boolean {
    return this.code === 'NO_LEADER' || this.code === 'SHUTTING_DOWN'
  }
}

export function asBrokerError(error: unknown): BrokerError {
  if (error instanceof BrokerError) return error
  return new BrokerError('INTERNAL', error instanceof Error ? error.message : String(error))
}
