/**
 * Answering a request the node refused before reading all its body (413, and the 403, 415 and
 * 421 of the access rules, which never read it). Closing while
 * the client is still sending resets the connection, and a client that writes its whole body
 * before it reads then loses the answer (EPIPE or ECONNRESET instead of the 413). So the rest
 * of the body is read and dropped, like nginx's lingering close, within a bound: past it the
 * client is not going to stop, and the connection is destroyed.
 *
 * On a kept-alive connection the answer goes first and the body drains behind it; a body
 * drained to its end leaves the connection in step for the next request. On a connection that
 * closes after this answer (the client sent `Connection: close`), the server would close as
 * soon as the answer is written, so the body is drained first and the answer sent after.
 */
import type http from 'node:http'

export interface DrainBound {
  /** Bytes read and dropped after the refusal before the connection is given up. */
  maxBytes: number
  /** Time after the refusal for the body to end before the connection is given up. */
  maxMs: number
}

export const DEFAULT_DRAIN_BOUND: DrainBound = {maxBytes: 16 * 1024 * 1024, maxMs: 5000}

export async function answerRefusedBody(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  answer: () => void,
  bound: DrainBound = DEFAULT_DRAIN_BOUND,
): Promise<void> {
  if (request.complete || request.destroyed) {
    answer()
    return
  }
  if (response.shouldKeepAlive) {
    answer()
    if (!(await drain(request, bound))) request.socket.destroy()
    return
  }
  // If the bound is hit the answer may still be lost, but the node has stopped reading.
  await drain(request, bound)
  if (!response.destroyed) answer()
}

/** Reads and drops the rest of the body: true once it ended, false when the bound was hit first. */
function drain(request: http.IncomingMessage, bound: DrainBound): Promise<boolean> {
  return new Promise((resolve) => {
    let drained = 0
    const finish = (ended: boolean): void => {
      clearTimeout(timer)
      request.off('data', onData)
      request.off('end', onEnd)
      request.off('close', onClose)
      resolve(ended)
    }
    const onData = (chunk: Buffer): void => {
      drained += chunk.length
      if (drained > bound.maxBytes) finish(false)
    }
    const onEnd = (): void => finish(true)
    const onClose = (): void => finish(request.complete)
    const timer = setTimeout(() => finish(false), bound.maxMs)
    request.on('data', onData)
    request.once('end', onEnd)
    request.once('close', onClose)
    request.resume()
  })
}
