/**
 * A node's /events stream (Server-Sent Events), read with the node HTTP client's dispatcher:
 * the connection must answer within a bound (a paused node never does), and no single event
 * may grow past a cap.
 */
import {request} from 'undici'
import {failureText, nodeDispatcher, nodeUrl, type NodeAddress} from './node-http-client.js'

export const MAX_EVENT_BYTES = 1024 * 1024

/**
 * Follows a node's /events stream and calls `onEvent` with each event's type and data.
 * Returns a function that closes the stream. `onEnd` is called once when the stream ends or
 * fails (not when closed by the returned function).
 */
export function followEvents(
  node: NodeAddress,
  onEvent: (type: string, data: Record<string, unknown>) => void,
  onEnd: (error: Error | null) => void,
  connectTimeoutMs = 2000,
): () => void {
  const controller = new AbortController()
  let ended = false
  const end = (error: Error | null): void => {
    if (ended || controller.signal.aborted) return
    ended = true
    onEnd(error)
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
        const parsed = parseSseBlock(buffer.slice(0, split))
        buffer = buffer.slice(split + 2)
        if (parsed) onEvent(parsed.type, parsed.data)
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

/** One SSE block (`event:` and `data:` lines) -> its type and JSON data; null for comments. */
export function parseSseBlock(block: string): {type: string; data: Record<string, unknown>} | null {
  let type = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') type = value
    else if (field === 'data') data.push(value)
  }
  if (data.length === 0) return null
  try {
    return {type, data: JSON.parse(data.join('\n')) as Record<string, unknown>}
  } catch {
    return null
  }
}
