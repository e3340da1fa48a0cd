/**
 * The native TCP protocol: one JSON object per line, both ways (README, Protocols).
 *
 * Answers to requests (acks, errors, pongs) are sent in the order the requests arrived,
 * even though publishes commit asynchronously: each request takes a slot, and slots are
 * flushed from the head as they fill. Subscription messages are not requests and go out as
 * soon as they are delivered; a subscription starts only once its confirmation is sent.
 *
 * A client that does not read its answers is not read from either: past a number of
 * unanswered requests, or while more than the output's high-water mark is waiting to be sent,
 * the session stops reading until the client catches up, so no client can make the node
 * buffer without bound.
 */
import type {Socket} from 'node:net'
import {encodeLine, encodeMessageLine, type AckLine, type AnswerLine, type ErrorLine, type JsonValue, type StartFrom} from '../api/json-lines.js'
import type {StoredMessage} from '../storage/store-reader.js'
import {BrokerError, asBrokerError} from './errors.js'
import {MAX_JSON_DEPTH, jsonDepthError} from './formats.js'
import {LineReader} from './line-reader.js'
import {parsePublishRequest} from './publisher.js'
import type {SessionContext} from './session-context.js'
import {SocketOutput} from './socket-output.js'
import type {TrimmedGap} from './offset-gaps.js'
import {Subscription, offsetTrimmedCheck, type StartPosition} from './subscription.js'
import {patternError} from './topics.js'

/** Past this many unanswered requests, stop reading from the client until it catches up. */
const MAX_UNANSWERED = 8192

interface Slot {
  text: string | null
  /** Runs right after the text is handed to the output. */
  onSent?: () => void
}

export class JsonLinesSession {
  private readonly output: SocketOutput
  private readonly lines: LineReader
  private readonly slots: Slot[] = []
  private slotHead = 0
  private readonly subscriptions: Subscription[] = []
  private readingPaused = false
  private waitingForDrain = false
  /** Set by `drain`: read no more requests; called once all are answered. */
  private draining = false
  private onAnswered: (() => void) | null = null

  constructor(
    private readonly socket: Socket,
    private readonly context: SessionContext,
  ) {
    this.output = new SocketOutput(socket, {
      maxPendingBytes: context.limits.maxPendingBytes,
      overflowLine: (max) => errorLine('TOO_SLOW', `more than ${max} bytes waited to be sent to this client; disconnected`),
      onOverflow: () => this.onCutOff(),
    })
    this.lines = new LineReader(context.limits.maxLineBytes)
    socket.on('close', () => {
      for (const subscription of this.subscriptions) context.subscriptions.remove(subscription)
    })
  }

  drain(): Promise<void> {
    this.draining = true
    this.socket.pause()
    if (this.slotHead === this.slots.length) return Promise.resolve()
    return new Promise((resolve) => (this.onAnswered = resolve))
  }

  end(): void {
    this.dropSubscriptions()
    this.output.end()
  }

  get subscribed(): boolean {
    return this.subscriptions.length > 0
  }

  /** Sends one last error line and closes: the connection failed or was idle. */
  fail(code: string, reason: string): void {
    this.dropSubscriptions()
    this.draining = true
    this.output.endWith(errorLine(code, reason))
  }

  private dropSubscriptions(): void {
    for (const subscription of this.subscriptions) this.context.subscriptions.remove(subscription)
    this.subscriptions.length = 0
  }

  private onCutOff(): void {
    this.context.logger.warn('json lines client cut off: too slow', {remote: this.socket.remoteAddress, limit: this.context.limits.maxPendingBytes})
    this.dropSubscriptions()
  }

  receive(chunk: Buffer): void {
    this.lines.push(chunk, (event) => {
      if (event.kind === 'tooLong') {
        this.answerNow(errorReply(undefined, new BrokerError('TOO_LARGE', `line of ${event.bytes} bytes is over the limit of ${this.context.limits.maxLineBytes} bytes`)))
        return
      }
      if (event.line.trim() === '') return
      this.handleLine(event.line)
    })
  }

  private handleLine(line: string): void {
    // The request wraps the body: two levels more than a body may nest.
    const tooDeep = jsonDepthError(line, MAX_JSON_DEPTH + 2)
    if (tooDeep) {
      this.answerNow(errorReply(undefined, new BrokerError('BAD_REQUEST', `request not accepted: ${tooDeep}`)))
      return
    }
    let request: unknown
    try {
      request = JSON.parse(line)
    } catch (error) {
      this.answerNow(errorReply(undefined, new BrokerError('BAD_REQUEST', `invalid JSON: ${(error as Error).message}`)))
      return
    }
    if (request === null || typeof request !== 'object' || Array.isArray(request)) {
      this.answerNow(errorReply(undefined, new BrokerError('BAD_REQUEST', 'each line must be a JSON object')))
      return
    }
    const record = request as Record<string, unknown>
    // Whatever JSON.parse made is a JSON value.
    const ref = record.ref as JsonValue | undefined
    try {
      switch (record.op) {
        case 'publish':
          this.publish(record, ref)
          return
        case 'subscribe':
          this.subscribe(record, ref)
          return
        case 'unsubscribe':
          this.answerNow(this.unsubscribe(record, ref))
          return
        case 'ping':
          this.answerNow(withRef({op: 'pong'}, ref))
          return
        default:
          throw new BrokerError(
            'UNKNOWN_OP',
            record.op === undefined ? 'the "op" field is missing' : `unknown op ${JSON.stringify(record.op)}: use publish, subscribe, unsubscribe or ping`,
          )
      }
    } catch (error) {
      this.answerNow(errorReply(ref, asBrokerError(error)))
    }
  }

  private publish(record: Record<string, unknown>, ref: JsonValue | undefined): void {
    const request = parsePublishRequest(record, this.context.publisher.maxBodyBytes)
    const slot = this.takeSlot()
    this.context.publisher
      .publish(request)
      .then(
        (result) => {
          const ack: AckLine = {op: 'ack', topic: result.topic, offset: result.offset}
          if (result.duplicate) ack.duplicate = true
          this.fill(slot, withRef(ack, ref))
        },
        (error) => this.fill(slot, errorReply(ref, asBrokerError(error))),
      )
      // Answering runs outside the data handler: what it throws fails this connection alone.
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error)
        this.context.logger.error('answering a publish failed; closing its connection', {remote: this.socket.remoteAddress, error: message})
        this.fail('INTERNAL', `internal error: ${message}; the connection is closed`)
      })
  }

  private subscribe(record: Record<string, unknown>, ref: JsonValue | undefined): void {
    const topics = requestTopics(record)
    const {maxPatternsPerSubscription, maxSubscriptionsPerConnection} = this.context.limits
    if (topics.length > maxPatternsPerSubscription) {
      throw new BrokerError('BAD_REQUEST', `a subscription may have at most ${maxPatternsPerSubscription} topic patterns (got ${topics.length})`)
    }
    if (this.subscriptions.length >= maxSubscriptionsPerConnection) {
      throw new BrokerError('BAD_REQUEST', `a connection may hold at most ${maxSubscriptionsPerConnection} subscriptions; unsubscribe first`)
    }
    for (const topic of topics) {
      const problem = patternError(topic)
      if (problem) throw new BrokerError('BAD_REQUEST', problem)
    }
    const start = parseStart(record.from)
    if (start.kind === 'offset') offsetTrimmedCheck(this.context.store, topics as string[], start.offset)
    const subscription = new Subscription(
      this.context.store,
      {
        send: (messages) => this.sendMessages(messages),
        onceDrained: (callback) => this.output.onceDrained(callback),
        fail: (error) => this.failSubscriber(error),
        trimmed: (gap) => this.output.write(trimmedLine(gap, ref)),
      },
      topics as string[],
      start,
      {protocol: 'json', remote: `${this.socket.remoteAddress}:${this.socket.remotePort}`},
    )
    this.subscriptions.push(subscription)
    // Confirm before the first message (even when the confirmation waits behind publishes
    // in flight), so a client knows its subscription is in place. "latest" was fixed above.
    // parseStart has checked `from`: a word or an offset.
    const reply = withRef({op: 'subscribed', topics: topics as string[], from: (record.from ?? 'latest') as StartFrom | string}, ref)
    this.answerNow(reply, () => {
      if (!this.socket.destroyed && this.subscriptions.includes(subscription)) this.context.subscriptions.add(subscription)
    })
  }

  private unsubscribe(record: Record<string, unknown>, ref: JsonValue | undefined): string {
    const topics = requestTopics(record).map(String)
    for (const subscription of [...this.subscriptions]) {
      if (this.context.subscriptions.removePatterns(subscription, topics) === 0) {
        this.context.subscriptions.remove(subscription)
        this.subscriptions.splice(this.subscriptions.indexOf(subscription), 1)
      }
    }
    return withRef({op: 'unsubscribed', topics}, ref)
  }

  private failSubscriber(error: Error): void {
    this.context.logger.error('delivery to a subscriber failed; closing its connection', {remote: this.socket.remoteAddress, error: error.message})
    this.fail('INTERNAL', `internal error delivering messages: ${error.message}; the connection is closed`)
  }

  private sendMessages(messages: StoredMessage[]): boolean {
    let text = ''
    for (const m of messages) {
      text += encodeMessageLine({topic: m.topic, offset: m.offset, format: m.format, body: m.body, timestamp: new Date(m.timestamp).toISOString()})
    }
    return this.output.write(text)
  }

  private takeSlot(): Slot {
    const slot: Slot = {text: null}
    this.slots.push(slot)
    this.checkReading()
    return slot
  }

  private answerNow(text: string, onSent?: () => void): void {
    const slot = this.takeSlot()
    slot.onSent = onSent
    this.fill(slot, text)
  }

  private fill(slot: Slot, text: string): void {
    slot.text = text
    let out = ''
    const sent: (() => void)[] = []
    while (this.slotHead < this.slots.length && this.slots[this.slotHead].text !== null) {
      const head = this.slots[this.slotHead]
      out += head.text
      if (head.onSent) sent.push(head.onSent)
      this.slotHead++
    }
    if (this.slotHead > 1024 && this.slotHead * 2 > this.slots.length) {
      this.slots.splice(0, this.slotHead)
      this.slotHead = 0
    }
    if (out.length > 0) this.output.write(out)
    for (const callback of sent) callback()
    if (this.onAnswered && this.slotHead === this.slots.length) {
      this.onAnswered()
      this.onAnswered = null
    }
    this.checkReading()
  }

  /**
   * Stops reading while too many requests are unanswered (resuming at half) or the client is
   * not reading what was sent (resuming once the output has drained).
   */
  private checkReading(): void {
    if (this.draining) return
    const unanswered = this.slots.length - this.slotHead
    const tooManyUnanswered = unanswered > (this.readingPaused ? MAX_UNANSWERED / 2 : MAX_UNANSWERED)
    const outputFull = this.output.full
    if (tooManyUnanswered || outputFull) {
      if (!this.readingPaused) {
        this.readingPaused = true
        this.socket.pause()
      }
      if (outputFull && !this.waitingForDrain) {
        this.waitingForDrain = true
        this.output.onceDrained(() => {
          this.waitingForDrain = false
          this.checkReading()
        })
      }
    } else if (this.readingPaused) {
      this.readingPaused = false
      this.socket.resume()
    }
  }
}

/** The topic patterns of a subscribe or unsubscribe: `topics` (an array, or one string) or `topic`. */
function requestTopics(record: Record<string, unknown>): unknown[] {
  const topics = typeof record.topics === 'string' ? [record.topics] : record.topics ?? (record.topic !== undefined ? [record.topic] : undefined)
  if (!Array.isArray(topics) || topics.length === 0) throw new BrokerError('BAD_REQUEST', '"topics" must be a non-empty array of topic patterns')
  return topics
}

function withRef(reply: AnswerLine, ref: JsonValue | undefined): string {
  return encodeLine(ref === undefined ? reply : {...reply, ref})
}

/** One `op: error` line, with no ref: the last line a closing connection is sent. */
export function errorLine(code: string, message: string): string {
  return withRef({op: 'error', code, message}, undefined)
}

function errorReply(ref: JsonValue | undefined, error: BrokerError): string {
  const line: ErrorLine = {op: 'error', code: error.code, message: error.message}
  if (error.firstOffset !== undefined) line.first_offset = error.firstOffset
  return withRef(line, ref)
}

/** A subscription's gap: an OFFSET_TRIMMED error with the topic and the subscribe's ref, which closes nothing. */
function trimmedLine(gap: TrimmedGap, ref: JsonValue | undefined): string {
  const missed = gap.first - gap.expected
  const message = `retention deleted ${missed} message${missed === 1 ? '' : 's'} of topic ${gap.topic} (offsets ${gap.expected} to ${gap.first - 1}) before this subscriber read them; it goes on from offset ${gap.first}`
  return withRef({op: 'error', code: 'OFFSET_TRIMMED', message, topic: gap.topic, expected_offset: gap.expected, first_offset: gap.first}, ref)
}

function parseStart(from: unknown): StartPosition {
  if (from === undefined || from === 'latest') return {kind: 'latest'}
  if (from === 'beginning' || from === 'earliest') return {kind: 'beginning'}
  if (typeof from === 'number' && Number.isInteger(from) && from >= 0) return {kind: 'offset', offset: from}
  if (typeof from === 'string' && /^\d+$/.test(from)) return {kind: 'offset', offset: Number(from)}
  throw new BrokerError('BAD_REQUEST', `"from" must be "latest", "beginning" or an offset >= 0 (got ${JSON.stringify(from)})`)
}
