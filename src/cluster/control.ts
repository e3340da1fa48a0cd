/**
 * The supervisor's control API over a Unix socket in the cluster folder: the server, which
 * reads one request per connection, answers it and closes the connection, and the client.
 * The protocol itself (requests, answers, codecs) is src/api/control.ts.
 *
 * The socket is created under umask 077 in a directory only its owner may enter (see
 * layout.ts), so there is no moment when anyone else could connect. Still, whatever connects
 * may send anything: a request that is malformed, unknown, too long or too slow to come gets
 * an error answer and the connection is closed; the server never throws.
 */
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {
  MAX_REQUEST_BYTES,
  decodeControlReply,
  decodeControlRequest,
  dispatchControl,
  encodeControlReply,
  type ControlAnswers,
  type ControlHandlers,
  type ControlOp,
  type ControlOutcome,
  type ControlRequest,
  type RequestOf,
} from '../api/control.js'
import {NodeHttpError} from '../client/node-http-client.js'
import {ClusterError} from './errors.js'

/** How long a connection may take to send its request line, by default. */
const REQUEST_IDLE_MS = 10_000

export class ControlServer {
  private readonly server: net.Server

  /**
   * `handlers`: one per op; an op without a handler is refused as unknown. `requestIdleMs`:
   * how long a connection may take to send its request line.
   */
  constructor(
    private readonly socketPath: string,
    handlers: Partial<ControlHandlers>,
    {requestIdleMs = REQUEST_IDLE_MS}: {requestIdleMs?: number} = {},
  ) {
    this.server = net.createServer((socket) => {
      let buffer = ''
      let reading = true
      // One request per connection: after its line (or a refusal), nothing more is read.
      const stopReading = (): void => {
        reading = false
        socket.setTimeout(0)
        socket.pause()
        socket.removeAllListeners('data')
      }
      const reply = (outcome: ControlOutcome<ControlOp>): void => {
        stopReading()
        if (!socket.destroyed) socket.end(encodeControlReply(outcome))
      }
      socket.setEncoding('utf8')
      socket.on('error', () => {})
      socket.setTimeout(requestIdleMs, () => {
        if (reading) reply(refusal(`no request line within ${requestIdleMs} ms`))
      })
      socket.on('data', (chunk: string) => {
        buffer += chunk
        const newline = buffer.indexOf('\n')
        if (newline === -1) {
          if (Buffer.byteLength(buffer) > MAX_REQUEST_BYTES) reply(refusal(`a request is one line of at most ${MAX_REQUEST_BYTES} bytes`))
          return
        }
        stopReading()
        void answer(buffer.slice(0, newline), handlers).then(reply)
      })
    })
  }

  /** Listens; a stale socket file (no one listening) is removed first. */
  async listen(): Promise<void> {
    if (fs.existsSync(this.socketPath)) {
      if (await isListening(this.socketPath)) throw new ClusterError('ALREADY_UP', `another supervisor answers on ${this.socketPath}`)
      fs.rmSync(this.socketPath, {force: true})
    }
    const parent = path.dirname(this.socketPath)
    fs.mkdirSync(parent, {recursive: true, mode: 0o700})
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      // The socket file is made by bind() inside listen(), with the mode the umask leaves.
      const umask = process.umask(0o077)
      try {
        this.server.listen(this.socketPath, () => {
          this.server.off('error', reject)
          resolve()
        })
      } finally {
        process.umask(umask)
      }
    })
  }

  /** Stops accepting connections; requests already in progress still get their answer. */
  close(): Promise<void> {
    this.server.close()
    fs.rmSync(this.socketPath, {force: true})
    return Promise.resolve()
  }
}

function refusal(message: string): ControlOutcome<ControlOp> {
  return {ok: false, error: {code: 'BAD_ARGUMENT', message}}
}

/** Decodes one request line and runs its handler; every failure becomes an error answer. */
async function answer(line: string, handlers: Partial<ControlHandlers>): Promise<ControlOutcome<ControlOp>> {
  try {
    const decoded = decodeControlRequest(line)
    if (!decoded.ok) return refusal(decoded.message)
    return await runControl(decoded.value, handlers)
  } catch (error) {
    return failure(error)
  }
}

/**
 * Runs one decoded request through its handler (the socket's and the web console's one way in);
 * every failure becomes an error answer.
 */
export async function runControl(request: ControlRequest, handlers: Partial<ControlHandlers>): Promise<ControlOutcome<ControlOp>> {
  try {
    const pending = dispatchControl(handlers, request)
    if (pending === null) return refusal(`unknown request "${request.op}"`)
    return {ok: true, answer: await pending}
  } catch (error) {
    return failure(error)
  }
}

function failure(error: unknown): ControlOutcome<ControlOp> {
  const code = error instanceof ClusterError ? error.code : error instanceof NodeHttpError ? 'NODE_API' : 'SUPERVISOR'
  return {ok: false, error: {code, message: error instanceof Error ? error.message : String(error)}}
}

/** True if something accepts connections on the socket. */
export function isListening(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath)
    const done = (value: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(value)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** Sends one request to the supervisor and returns its answer; throws ClusterError if it fails. */
export function controlRequest<K extends ControlOp>(socketPath: string, request: RequestOf<K>, timeoutMs = 10_000): Promise<ControlAnswers[K]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath)
    let buffer = ''
    let settled = false
    const finish = (outcome: ControlOutcome<K> | ClusterError): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (outcome instanceof ClusterError) reject(outcome)
      else if (outcome.ok) resolve(outcome.answer)
      else reject(new ClusterError(outcome.error.code, outcome.error.message))
    }
    const timer = setTimeout(
      () => finish(new ClusterError('TIMEOUT', `the supervisor did not answer "${request.op}" within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    )
    socket.setEncoding('utf8')
    socket.once('connect', () => socket.write(JSON.stringify(request) + '\n'))
    socket.on('data', (chunk: string) => {
      buffer += chunk
      const newline = buffer.indexOf('\n')
      if (newline === -1) return
      const decoded = decodeControlReply<K>(buffer.slice(0, newline))
      finish(decoded.ok ? decoded.value : new ClusterError('SUPERVISOR', decoded.message))
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? 'it is not listening' : error.message
      finish(new ClusterError('NOT_UP', `cannot reach the supervisor on ${socketPath}: ${why}`))
    })
    socket.on('close', () => finish(new ClusterError('SUPERVISOR', `the supervisor closed the connection before answering "${request.op}"`)))
  })
}
