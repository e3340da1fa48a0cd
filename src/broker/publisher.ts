/**
 * The one path every publish takes, whatever front end it came through: validate at the
 * edge, encode once, propose to the log, and wait a bounded time for the commit.
 */
import {BrokerError} from './errors.js'
import {MAX_JSON_DEPTH, bodyError, parseFormat, type Format} from './formats.js'
import {encodePublish} from './publish-command.js'
import type {ReplicatedLog} from './replicated-log.js'
import {topicError} from './topics.js'

export const MAX_ID_LENGTH = 256

export interface PublishRequest {
  topic: string
  format: Format
  body: string
  id: string | null
}

export interface PublishResult {
  topic: string
  offset: number
  index: number
  term: number
  duplicate: boolean
}

export interface PublisherOptions {
  maxBodyBytes: number
}

/**
 * Checks a publish as a client sent it (JSON lines or HTTP). `content` is the seed's old
 * name of `body`; a body given as a JSON value rather than a string is taken as its text.
 */
export function parsePublishRequest(raw: Record<string, unknown>, maxBodyBytes: number): PublishRequest {
  const problem = topicError(raw.topic)
  if (problem) throw new BrokerError('BAD_REQUEST', problem)
  const format = raw.format === undefined ? 'JSON' : parseFormat(raw.format)
  if (format === null) throw new BrokerError('BAD_REQUEST', `format must be one of JSON, XML, RAW (got ${JSON.stringify(raw.format)})`)
  const given = raw.body !== undefined ? raw.body : raw.content
  if (given === undefined || given === null) throw new BrokerError('BAD_REQUEST', 'body is missing')
  if (typeof given !== 'string' && format !== 'JSON') throw new BrokerError('BAD_REQUEST', `body must be a string for format ${format}`)
  const body = typeof given === 'string' ? given : bodyText(given)
  if (Buffer.byteLength(body) > maxBodyBytes) {
    throw new BrokerError('TOO_LARGE', `body is larger than the limit of ${maxBodyBytes} bytes`)
  }
  const invalid = bodyError(format, body)
  if (invalid) throw new BrokerError('BAD_REQUEST', invalid)
  let id: string | null = null
  if (raw.id !== undefined && raw.id !== null) {
    if (typeof raw.id !== 'string' && typeof raw.id !== 'number') throw new BrokerError('BAD_REQUEST', 'id must be a string')
    id = String(raw.id)
    if (id.length === 0 || id.length > MAX_ID_LENGTH) {
      throw new BrokerError('BAD_REQUEST', `id must be 1 to ${MAX_ID_LENGTH} characters`)
    }
  }
  return {topic: raw.topic as string, format, body, id}
}

/** A body given as a JSON value, as text; JSON.stringify recurses, so deep values are refused. */
function bodyText(value: unknown): string {
  try {
    return JSON.stringify(value)
  } catch (error) {
    const reason = error instanceof RangeError ? `it is nested too deeply (the limit is ${MAX_JSON_DEPTH} levels)` : (error as Error).message
    throw new BrokerError('BAD_REQUEST', `body is not accepted: ${reason}`)
  }
}

export class Publisher {
  published = 0
  failed = 0

  constructor(
    private readonly log: ReplicatedLog,
    private readonly options: PublisherOptions,
  ) {}

  get maxBodyBytes(): number {
    return this.options.maxBodyBytes
  }

  /** Resolves once committed and applied; the log fails it after the commit timeout. */
  async publish(request: PublishRequest): Promise<PublishResult> {
    const data = encodePublish({...request, timestamp: Date.now()})
    try {
      const result = await this.log.propose(data)
      this.published++
      return {topic: result.topic, offset: result.offset, index: result.raftIndex, term: result.term, duplicate: result.duplicate}
    } catch (error) {
      this.failed++
      throw error
    }
  }
}
