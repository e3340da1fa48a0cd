/**
 * The JSON-lines protocol on a node's TCP port: one JSON object per `\n`-terminated line, both
 * ways. A client sends requests, each with an optional `ref` the node echoes on its answer;
 * answers come back in the order of the requests. Subscribed messages are not answers: they
 * carry no ref and go out as soon as they are delivered.
 */

/** Any JSON value: what a `ref` may be (the node echoes it as given). */
export type JsonValue = string | number | boolean | null | JsonValue[] | {[key: string]: JsonValue}

export type MessageFormat = 'JSON' | 'XML' | 'RAW'

/** Where a subscription starts: the next message, the first stored one, or an offset. */
export type StartFrom = 'latest' | 'beginning' | 'earliest' | number

export interface PublishRequest {
  op: 'publish'
  topic: string
  /** JSON when absent. */
  format?: MessageFormat
  /** The message; a JSON body may also be given as a JSON value rather than its text. */
  body: string | JsonValue
  /** A dedup id: a publish whose id the node has seen is acked with the first one's offset. */
  id?: string
  ref?: JsonValue
}

export interface SubscribeRequest {
  op: 'subscribe'
  /** Topic patterns: `*` matches one segment, `>` the rest, `all` every topic. */
  topics: string[]
  from?: StartFrom
  ref?: JsonValue
}

export interface UnsubscribeRequest {
  op: 'unsubscribe'
  topics: string[]
  ref?: JsonValue
}

export interface PingRequest {
  op: 'ping'
  ref?: JsonValue
}

export type RequestLine = PublishRequest | SubscribeRequest | UnsubscribeRequest | PingRequest

/** A publish is committed (stored on a majority) at this offset of its topic. */
export interface AckLine {
  op: 'ack'
  topic: string
  offset: number
  /** The publish repeated an id seen before: nothing new was stored. */
  duplicate?: true
  ref?: JsonValue
}

/** The subscription is in place: every message from here on follows. */
export interface SubscribedLine {
  op: 'subscribed'
  topics: string[]
  /** The request's `from` as given ("latest" when it gave none). */
  from: StartFrom | string
  ref?: JsonValue
}

export interface UnsubscribedLine {
  op: 'unsubscribed'
  topics: string[]
  ref?: JsonValue
}

export interface PongLine {
  op: 'pong'
  ref?: JsonValue
}

/**
 * A request refused, or (without a ref) the last line before the node closes the connection.
 * One more case, which closes nothing: OFFSET_TRIMMED with a `topic` and the subscribe's ref
 * says retention deleted messages of that topic before the subscriber read them; the messages
 * go on from `first_offset`.
 */
export interface ErrorLine {
  op: 'error'
  code: string
  message: string
  /** OFFSET_TRIMMED: the first offset still kept of the topic asked for (of a gap: the next message's). */
  first_offset?: number
  /** OFFSET_TRIMMED during a subscription: the topic of the gap. */
  topic?: string
  /** OFFSET_TRIMMED during a subscription: the offset the subscriber expected next. */
  expected_offset?: number
  ref?: JsonValue
}

/** One message of a subscription, in commit order with no gaps. */
export interface MessageLine {
  op: 'message'
  topic: string
  offset: number
  format: string
  body: string
  /** ISO 8601, when the leader accepted the publish. */
  timestamp: string
}

export type AnswerLine = AckLine | SubscribedLine | UnsubscribedLine | PongLine | ErrorLine
export type ServerLine = AnswerLine | MessageLine

/** A line as sent: the object and its newline. */
export function encodeLine(line: RequestLine | ServerLine): string {
  return JSON.stringify(line) + '\n'
}

/** A message line, built by hand: subscribers get many, and this is what they cost to send. */
export function encodeMessageLine(m: Omit<MessageLine, 'op'>): string {
  return (
    `{"op":"message","topic":${JSON.stringify(m.topic)},"offset":${m.offset},"format":${JSON.stringify(m.format)},` +
    `"body":${JSON.stringify(m.body)},"timestamp":${JSON.stringify(m.timestamp)}}\n`
  )
}

export type Parsed<T> = {ok: true; line: T} | {ok: false; error: string}

type FieldType = 'string' | 'number' | 'string[]' | 'string|number'

/** The fields each line a node sends must have, and their types. */
const SERVER_FIELDS: Record<ServerLine['op'], Record<string, FieldType>> = {
  ack: {topic: 'string', offset: 'number'},
  subscribed: {topics: 'string[]', from: 'string|number'},
  unsubscribed: {topics: 'string[]'},
  pong: {},
  error: {code: 'string', message: 'string'},
  message: {topic: 'string', offset: 'number', format: 'string', body: 'string', timestamp: 'string'},
}

/**
 * Reads one line a node sent (without its newline). Never throws: a line that is not JSON,
 * not an object, of an unknown op or missing a field is an error that says which.
 */
export function parseServerLine(text: string): Parsed<ServerLine> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return {ok: false, error: `not JSON (${error instanceof Error ? error.message : String(error)}): ${excerpt(text)}`}
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {ok: false, error: `not a JSON object: ${excerpt(text)}`}
  const record = value as Record<string, unknown>
  const op = record.op
  if (typeof op !== 'string' || !Object.hasOwn(SERVER_FIELDS, op)) return {ok: false, error: `unknown op ${describe(op)}: ${excerpt(text)}`}
  for (const [field, type] of Object.entries(SERVER_FIELDS[op as ServerLine['op']])) {
    if (!hasType(record[field], type)) return {ok: false, error: `an "${op}" line needs "${field}" as ${type}: ${excerpt(text)}`}
  }
  return {ok: true, line: record as unknown as ServerLine}
}

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string'
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string')
    case 'string|number':
      return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
  }
}

/** A value a peer sent, named without serializing it (it may be nested past what stringify survives). */
function describe(value: unknown): string {
  if (typeof value === 'string') return excerpt(JSON.stringify(value))
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

/** Part of what a peer sent, for an error message: it may be anything, of any length. */
function excerpt(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}...` : text
}
