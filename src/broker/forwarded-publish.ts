/**
 * The leader's check of a publish a follower forwarded: the same rules a publish meets at a
 * front end (publisher.ts), applied to the encoded command, because whatever the leader
 * proposes every member applies. The follower checked it already; this guards against a
 * member with other limits, or one that is not what it should be.
 */
import {BrokerError, type ErrorCode} from './errors.js'
import {parsePublishRequest} from './publisher.js'
import {decodePublish} from './publish-command.js'

export interface ForwardRefusal {
  code: ErrorCode
  message: string
}

/** Why the leader must not propose `data`, or null when it may. */
export function forwardedPublishError(data: Uint8Array, maxBodyBytes: number): ForwardRefusal | null {
  let command
  try {
    command = decodePublish(data)
  } catch (error) {
    return {code: 'BAD_REQUEST', message: `forwarded publish does not decode: ${(error as Error).message}`}
  }
  if (!Number.isFinite(command.timestamp) || command.timestamp < 0) return {code: 'BAD_REQUEST', message: 'forwarded publish has no valid timestamp'}
  try {
    parsePublishRequest({topic: command.topic, format: command.format, body: command.body, id: command.id}, maxBodyBytes)
  } catch (error) {
    if (error instanceof BrokerError) return {code: error.code, message: error.message}
    throw error
  }
  return null
}
