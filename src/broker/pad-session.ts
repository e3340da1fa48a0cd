/**
 * The PAD text protocol of the course's original Java publisher and C# subscriber.
 *
 * Publisher: after `PUBLISH`, frames `FORMAT:<fmt>|<body>`. The original publisher sends no
 * newline, so a frame ends at `\n`, where the next `FORMAT:` begins, or when the connection
 * has been quiet: for a few milliseconds when the frame is complete (a JSON or XML body that
 * parses), longer when it may be a frame cut across TCP packets (a header cut short, a body
 * that does not parse yet, a RAW body, or a client that ends its frames with newlines).
 * Whether a body parses is checked only once the connection has been quiet, and again only
 * once the body has doubled, so a body trickled in small pieces is not re-parsed whole for
 * every piece. The
 * topic is the body's `Topic`; a body that does not parse as its format is stored as RAW, as
 * the original broker did. There are no acks (the original publisher never reads); errors are
 * written back as `ERROR <reason>` lines while the client keeps reading them. A publisher with
 * too many publishes in flight is not read from until they commit.
 *
 * Subscriber: after `SUBSCRI`, lines `SUBSCRIBE:<topic>`, `UNSUBSCRIBE:<topic>`, `PING`.
 * Each subscribe first replays the topic's stored history, then live messages, each as
 * `FORMAT:<fmt>|<body>\n`.
 */
import type {Socket} from 'node:net'
import {StringDecoder} from 'node:string_decoder'
import type {StoredMessage} from '../storage/store-reader.js'
import {asBrokerError} from './errors.js'
import {bodyError, parseFormat, topicFromBody, type Format} from './formats.js'
import {LineReader} from './line-reader.js'
import type {SessionContext} from './session-context.js'
import {SocketOutput} from './socket-output.js'
import {Subscription} from './subscription.js'
import {patternError, topicError} from './topics.js'

const FRAME_START = 'FORMAT:'
/** How long a publisher must be quiet before an unterminated, complete-looking frame ends. */
const QUIET_MS = 5
/** How long before any other unterminated frame ends (it may continue in the next packet). */
const INCOMPLETE_QUIET_MS = 200
/** Past this many publishes waiting for their commit, stop reading until half have committed. */
const MAX_IN_FLIGHT = 8192
const DEFAULT_TOPIC = 'default'

export class PadPublisherSession {
  private readonly decoder = new StringDecoder('utf8')
  private readonly output: SocketOutput
  private buffer = ''
  /** How far the buffer has been searched for a frame end (a newline or the next `FORMAT:`). */
  private scanned = 0
  /** Buffer length at the last failed check that the unterminated frame is complete. */
  private checkedLength = 0
  /** The body last found valid, so the frame is not checked again when it is published. */
  private validBody: string | null = null
  private quietTimer: NodeJS.Timeout | null = null
  private started = false
  /** The client ends its frames with newlines: a quiet pause is no sign a frame is complete. */
  private newlineFrames = false
  private inFlight = 0
  private readingPaused = false
  private draining = false
  private onSettled: (() => void) | null = null

  constructor(
    private readonly socket: Socket,
    private readonly context: SessionContext,
  ) {
    this.output = new SocketOutput(socket, {highWaterMark: 64 * 1024, maxPendingBytes: context.limits.maxPendingBytes})
    socket.on('close', () => {
      if (this.quietTimer) clearTimeout(this.quietTimer)
    })
  }

  readonly subscribed = false

  fail(_code: string, reason: string): void {
    this.draining = true
    if (this.quietTimer) clearTimeout(this.quietTimer)
    this.quietTimer = null
    this.buffer = ''
    this.output.endWith(`ERROR ${reason}\n`)
  }

  /** Stops reading; publishes the frame still waiting for its end; resolves once all are settled. */
  drain(): Promise<void> {
    this.draining = true
    this.socket.pause()
    if (this.quietTimer) clearTimeout(this.quietTimer)
    this.quietTimer = null
    if (this.started) this.extractFrames(true)
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => (this.onSettled = resolve))
  }

  end(): void {
    this.output.end()
  }

  receive(chunk: Buffer): void {
    this.buffer += this.decoder.write(chunk)
    if (!this.started) {
      // The preamble may be followed by the rest of a word ("PUBLISHER") or a newline.
      const stripped = this.buffer.replace(/^(ER)?\s*/, '')
      if (stripped.length === 0 && this.buffer.length < 8) return
      this.buffer = stripped
      this.started = true
    }
    this.extractFrames(false)
    if (this.quietTimer) clearTimeout(this.quietTimer)
    this.quietTimer = null
    if (this.buffer.length > 0) this.quietTimer = setTimeout(() => this.onQuiet(QUIET_MS), QUIET_MS)
  }

  /**
   * The client has been quiet for `waited` ms with an unterminated frame: end it now if it is
   * complete, else after INCOMPLETE_QUIET_MS in all. Runs from a timer, so nothing it throws
   * may escape: the connection fails instead of the process.
   */
  private onQuiet(waited: number): void {
    this.quietTimer = null
    try {
      if (waited >= INCOMPLETE_QUIET_MS || this.looksComplete()) {
        this.extractFrames(true)
        return
      }
      this.quietTimer = setTimeout(() => this.onQuiet(INCOMPLETE_QUIET_MS), INCOMPLETE_QUIET_MS - waited)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      this.context.logger.error('pad publisher failed; closing its connection', {remote: this.socket.remoteAddress, error: message})
      this.fail('INTERNAL', `internal error: ${message}; the connection is closed`)
    }
  }

  /**
   * Whether the unterminated frame in the buffer is a complete JSON or XML body. Checked again
   * only once the buffer has doubled since the last failed check, so a body trickled in small
   * pieces costs a few parses, not one per piece.
   */
  private looksComplete(): boolean {
    if (this.newlineFrames) return false
    const separator = this.buffer.indexOf('|')
    if (!this.buffer.startsWith(FRAME_START) || separator === -1) return false
    const format = parseFormat(this.buffer.slice(FRAME_START.length, separator).trim())
    if (format === null || format === 'RAW') return false
    if (this.checkedLength > 0 && this.buffer.length < this.checkedLength * 2) return false
    const body = this.buffer.slice(separator + 1)
    if (bodyError(format, body) === null) {
      this.validBody = body
      return true
    }
    this.checkedLength = this.buffer.length
    return false
  }

  private extractFrames(quiet: boolean): void {
    while (this.buffer.length > 0) {
      // Search only what was not searched before: a frame may arrive in many pieces.
      const newline = this.buffer.indexOf('\n', this.scanned)
      const next = this.buffer.indexOf(FRAME_START, Math.max(1, this.scanned - FRAME_START.length + 1))
      let end = -1
      if (newline !== -1 && (next === -1 || newline < next)) end = newline
      else if (next !== -1) end = next
      if (end === -1) {
        this.scanned = this.buffer.length
        if (quiet) end = this.buffer.length
        else if (this.buffer.length > this.context.limits.maxBodyBytes + 64) {
          this.reportError(`frame is larger than the limit of ${this.context.limits.maxBodyBytes} bytes; dropped`)
          this.resetBuffer('')
          return
        } else return
      }
      const frame = this.buffer.slice(0, end).replace(/\r$/, '')
      if (end === newline && frame.trim() !== '') this.newlineFrames = true
      this.resetBuffer(this.buffer.slice(end === newline ? end + 1 : end))
      if (frame.trim() !== '') this.publishFrame(frame)
    }
  }

  /** The buffer now starts a new frame: nothing of it has been searched or checked. */
  private resetBuffer(rest: string): void {
    this.buffer = rest
    this.scanned = 0
    this.checkedLength = 0
  }

  private publishFrame(frame: string): void {
    const separator = frame.indexOf('|')
    if (!frame.startsWith(FRAME_START) || separator === -1) {
      this.reportError(`not a frame (expected FORMAT:<JSON|XML|RAW>|<body>): ${JSON.stringify(frame.slice(0, 80))}`)
      return
    }
    const declared = parseFormat(frame.slice(FRAME_START.length, separator).trim())
    let body = frame.slice(separator + 1)
    if (Buffer.byteLength(body) > this.context.limits.maxBodyBytes) {
      this.reportError(`body is larger than the limit of ${this.context.limits.maxBodyBytes} bytes; dropped`)
      return
    }
    let format: Format = declared ?? 'RAW'
    const checked = this.validBody !== null && this.validBody === body
    this.validBody = null
    if (format !== 'RAW' && !checked && bodyError(format, body) !== null) {
      format = 'RAW'
    }
    const found = format === 'RAW' ? null : topicFromBody(format, body)
    const topic = found !== null && topicError(found) === null ? found : DEFAULT_TOPIC
    if (declared === null) body = frame.slice(FRAME_START.length)
    this.inFlight++
    if (this.inFlight >= MAX_IN_FLIGHT && !this.readingPaused) {
      this.readingPaused = true
      this.socket.pause()
    }
    this.context.publisher
      .publish({topic, format, body, id: null})
      .catch((error) => this.reportError(asBrokerError(error).message))
      .finally(() => {
        this.inFlight--
        if (this.inFlight === 0 && this.onSettled) {
          this.onSettled()
          this.onSettled = null
        }
        if (this.readingPaused && !this.draining && this.inFlight <= MAX_IN_FLIGHT / 2) {
          this.readingPaused = false
          this.socket.resume()
        }
      })
      // Runs outside the data handler: what it throws fails this connection alone.
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error)
        this.context.logger.error('pad publisher failed; closing its connection', {remote: this.socket.remoteAddress, error: message})
        this.fail('INTERNAL', `internal error: ${message}; the connection is closed`)
      })
  }

  private reportError(reason: string): void {
    this.context.logger.warn('pad publisher', {remote: this.socket.remoteAddress, error: reason})
    // A client that does not read must not grow our memory: past the mark, errors are only logged.
    if (this.output.buffered < 64 * 1024) this.output.write(`ERROR ${reason}\n`)
  }
}

export class PadSubscriberSession {
  private readonly output: SocketOutput
  private readonly lines: LineReader
  private readonly subscriptions = new Map<string, Subscription>()
  private firstLine = true
  private readingPaused = false
  private draining = false

  constructor(
    private readonly socket: Socket,
    private readonly context: SessionContext,
  ) {
    this.output = new SocketOutput(socket, {
      maxPendingBytes: context.limits.maxPendingBytes,
      onOverflow: () => {
        context.logger.warn('pad subscriber cut off: too slow', {remote: socket.remoteAddress, limit: context.limits.maxPendingBytes})
        this.dropSubscriptions()
      },
    })
    this.lines = new LineReader(4096)
    socket.on('close', () => {
      for (const subscription of this.subscriptions.values()) context.subscriptions.remove(subscription)
    })
  }

  /** The first chunk still holds the `SUBSCRI` preamble, which may be the start of the first line. */
  receive(chunk: Buffer): void {
    this.lines.push(chunk, (event) => {
      if (event.kind === 'tooLong') {
        this.output.write('ERROR line too long\n')
        return
      }
      let line = event.line.trim()
      if (this.firstLine) {
        this.firstLine = false
        // "SUBSCRI" alone, "SUBSCRIBER", or "SUBSCRI" glued to the first command.
        if (!/^(UN)?SUBSCRIBE:/i.test(line)) line = line.replace(/^SUBSCRI(BER)?/, '').trim()
      }
      if (line !== '') this.handle(line)
    })
    this.checkReading()
  }

  drain(): Promise<void> {
    this.draining = true
    this.socket.pause()
    return Promise.resolve()
  }

  end(): void {
    this.dropSubscriptions()
    this.output.end()
  }

  get subscribed(): boolean {
    return this.subscriptions.size > 0
  }

  fail(_code: string, reason: string): void {
    this.dropSubscriptions()
    this.draining = true
    this.output.endWith(`ERROR ${reason}\n`)
  }

  private dropSubscriptions(): void {
    for (const subscription of this.subscriptions.values()) this.context.subscriptions.remove(subscription)
    this.subscriptions.clear()
  }

  /** A client that does not read its answers (PONG, errors) is not read from until it does. */
  private checkReading(): void {
    if (this.readingPaused || !this.output.full) return
    this.readingPaused = true
    this.socket.pause()
    this.output.onceDrained(() => {
      this.readingPaused = false
      if (!this.draining) this.socket.resume()
    })
  }

  private handle(line: string): void {
    const upper = line.toUpperCase()
    if (upper === 'PING') {
      this.output.write('PONG\n')
    } else if (upper.startsWith('SUBSCRIBE:')) {
      const topic = line.slice('SUBSCRIBE:'.length).trim()
      const problem = patternError(topic)
      if (problem) {
        this.output.write(`ERROR ${problem}\n`)
        return
      }
      if (this.subscriptions.has(topic)) return
      const max = this.context.limits.maxSubscriptionsPerConnection
      if (this.subscriptions.size >= max) {
        this.output.write(`ERROR a connection may hold at most ${max} subscriptions; UNSUBSCRIBE first\n`)
        return
      }
      const subscription = new Subscription(
        this.context.store,
        {
          send: (messages) => this.send(messages),
          onceDrained: (callback) => this.output.onceDrained(callback),
          fail: (error) => {
            this.context.logger.error('delivery to a pad subscriber failed; closing its connection', {remote: this.socket.remoteAddress, error: error.message})
            this.fail('INTERNAL', `internal error delivering messages: ${error.message}; the connection is closed`)
          },
          // The PAD protocol has no line that says messages were skipped (its ERROR lines answer
          // a command): the subscriber goes on from the next message, told nothing.
          trimmed: () => {},
        },
        [topic],
        {kind: 'beginning'},
        {protocol: 'pad', remote: `${this.socket.remoteAddress}:${this.socket.remotePort}`},
      )
      this.subscriptions.set(topic, subscription)
      this.context.subscriptions.add(subscription)
    } else if (upper.startsWith('UNSUBSCRIBE:')) {
      const topic = line.slice('UNSUBSCRIBE:'.length).trim()
      const subscription = this.subscriptions.get(topic)
      if (subscription) {
        this.context.subscriptions.remove(subscription)
        this.subscriptions.delete(topic)
      }
    } else {
      this.output.write(`ERROR unknown command ${JSON.stringify(line.slice(0, 80))}: use SUBSCRIBE:<topic>, UNSUBSCRIBE:<topic> or PING\n`)
    }
  }

  private send(messages: StoredMessage[]): boolean {
    let text = ''
    for (const m of messages) text += `FORMAT:${m.format}|${m.body}\n`
    return this.output.write(text)
  }
}
