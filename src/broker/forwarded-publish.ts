/**
 * The leader's check of a publish a follower forwarded: the same rules a publish meets at a
 * front end (publisher.ts), applied to the encoded command, because whatever the leader
 * proposes every member applies. The follower checked it already; this guards against a
 * member with other limits, or one that is not what it should be.
 */
import type {ErrorCode} from './errors.js'
import {bodyError} from './formats.js'
import {MAX_ID_LENGTH} from './publisher.js'
import {decodePublish} from './publish-command.js'
import {topicError} from './topics.js'

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
  const topic = topicError(command.topic)
  if (topic) return {code: 'BAD_REQUEST', message: topic}
  if (command.id !== null && command.id.length > MAX_ID_LENGTH) return {code: 'BAD_REQUEST', message: `id must be 1 to ${MAX_ID_LENGTH} characters`}
  if (Buffer.byteLength(command.body) > maxBodyBytes) return {code: 'TOO_LARGE', message: `body is larger than the limit of ${maxBodyBytes} bytes`}
  const body = bodyError(command.format, command.body)
  if (body) return {code: 'BAD_REQUEST', message: body}
  return null
}
