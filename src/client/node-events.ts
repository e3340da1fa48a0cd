/**
 * A node's /events stream (Server-Sent Events), read with the node HTTP client's dispatcher:
 * the connection must answer within a bound (a paused node never does), no single event may
 * grow past a cap, and each event is decoded into its typed item (api/node-event-codec.ts);
 * one that does not decode is skipped, and said, never thrown.
 */
import {request} from 'undici'
import type {Decoded} from '../api/control.js'
import {decodeNodeEvent} from '../api/node-event-codec.js'
import type {NodeStreamItem} from '../api/node-events.js'
import {failureText, nodeDispatcher, nodeUrl, type NodeAddress} from './node-http-client.js'

export type {NodeStreamItem}

export const MAX_EVENT_BYTES = 1024 * 1024

export interface EventStreamHandlers {
  /** Each event that decodes. */
  event: (item: NodeStreamItem) => void
  /**
   * Events that did not decode are skipped (the stream goes on); this is called for the 1st,
   * 10th, 100th... of a stream, with why that one was skipped and how many so far, so that a
   * node gone wrong does not flood whoever says it.
   */
  skipped: (reason: string, count: number) => void
  /** Called once when the stream ends or fails (not when closed by the function followEvents returns). */
  end: (error: Error | null) => void
}

/** Follows a node's /events stream. Returns a function that closes the stream. */
export function followEvents(node: NodeAddress, handlers: EventStreamHandlers, connectTimeoutMs = 2000): () => void {
  const controller = new AbortController()
  let ended = false
  let skipped = 0
  const end = (error: Error | null): void => {
    if (ended || controller.signal.aborted) return
    ended = true
    handlers.end(error)
  }
  const read = async (): Promise<void> => {
    const answer = await request(nodeUrl(node, '/events'), {
      method: 'GET',
      headers: {accept: 'text/event-stream'},
      signal: controller.signal,
      dispatcher: nodeDispatcher,
      headersTimeout: connectTimeoutMs,
      // The stream is quiet between events for as long as nothing happens.
      bodyTimeout: 0,
    })
    if (answer.statusCode !== 200) {
      await answer.body.dump()
      throw new Error(`/events answered ${answer.statusCode}`)
    }
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of answer.body as AsyncIterable<Buffer>) {
      buffer += decoder.decode(chunk, {stream: true})
      let split: number
      while ((split = buffer.indexOf('\n\n')) !== -1) {
        const decoded = parseSseBlock(buffer.slice(0, split))
        buffer = buffer.slice(split + 2)
        if (controller.signal.aborted) return
        if (decoded?.ok) handlers.event(decoded.value)
        else if (decoded && Number.isInteger(Math.log10(++skipped))) handlers.skipped(decoded.message, skipped)
      }
      if (buffer.length > MAX_EVENT_BYTES) {
        answer.body.destroy()
        throw new Error('event too large')
      }
    }
  }
  read().then(
    () => end(null),
    (error: unknown) => {
      const silent = (error as NodeJS.ErrnoException).code === 'UND_ERR_HEADERS_TIMEOUT'
      end(new Error(silent ? `no answer within ${connectTimeoutMs} ms` : failureText(error)))
    },
  )
  return () => controller.abort()
}

/**
 * One SSE block (`event:` and `data:` lines) -> its decoded item, or why it is not one; null
 * for a block without data (a comment, a keepalive, a `retry:`).
 */
export function parseSseBlock(block: string): Decoded<NodeStreamItem> | null {
  let name = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') name = value
    else if (field === 'data') data.push(value)
  }
  if (data.length === 0) return null
  return decodeNodeEvent(name, data.join('\n'))
}
