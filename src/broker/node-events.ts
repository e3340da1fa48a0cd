/**
 * GET /events: the node's state changes, elections, commits and faults as Server-Sent
 * Events, for the dashboards and the cluster supervisor. Commits are throttled at the source
 * (a few per second), and so are the Raft messages sent (`rpc`, rpc-sampler.ts), so a slow
 * reader costs little; one that cannot keep up is dropped.
 */
import type http from 'node:http'
import {performance} from 'node:perf_hooks'
import type {HelloData, NodeEvent, NodeEventData} from '../api/node-events.js'
import type {RaftInfo} from '../api/node-http.js'
import type {Message} from '../raft/index.js'
import type {RaftDriver} from './raft-driver.js'
import {RPC_KIND_OF, rpcEvent} from './rpc-event.js'
import {RpcSampler} from './rpc-sampler.js'

const KEEPALIVE_MS = 15_000

export class NodeEvents {
  private readonly clients = new Set<http.ServerResponse>()
  private keepalive: NodeJS.Timeout | null = null
  private readonly sampler = new RpcSampler({now: () => performance.now()})
  /** One function for the driver's tap, made once: set while there is a reader, null otherwise. */
  private readonly onRpc = (message: Message): void => {
    const kind = RPC_KIND_OF[message.type]
    if (this.sampler.admit(kind, message.to)) this.publish(rpcEvent(message, kind))
  }

  constructor(
    private readonly driver: RaftDriver,
    /** Unsent bytes a stream may hold before it is cut off as too slow (--max-pending). */
    private readonly maxPendingBytes: number,
  ) {
    driver.on('event', (event: NodeEvent) => this.publish(event))
  }

  publish(event: NodeEvent): void {
    if (this.clients.size === 0) return
    const data: NodeEventData = {time: new Date().toISOString(), ...event}
    const text = `event: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`
    for (const client of this.clients) {
      this.send(client, text)
    }
  }

  stream(request: http.IncomingMessage, response: http.ServerResponse, snapshot: RaftInfo): void {
    response.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
    const hello: HelloData = {time: new Date().toISOString(), ...snapshot}
    response.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`)
    this.clients.add(response)
    // The driver reports the messages it sends only while someone reads: none, no work.
    this.driver.rpcTap = this.onRpc
    this.keepalive ??= setInterval(() => {
      for (const client of this.clients) this.send(client, ': keepalive\n\n')
    }, KEEPALIVE_MS)
    this.keepalive.unref()
    const forget = (): void => {
      this.clients.delete(response)
      if (this.clients.size === 0) this.quiet()
    }
    request.on('close', forget)
    response.on('close', forget)
  }

  /** Writes to one stream, or ends it (destroyed: its backlog is not worth sending) when the reader is too slow. */
  private send(client: http.ServerResponse, text: string): void {
    if (client.writableLength + Buffer.byteLength(text) > this.maxPendingBytes) {
      this.clients.delete(client)
      client.destroy()
      if (this.clients.size === 0) this.quiet()
    } else {
      client.write(text)
    }
  }

  /** No reader left: stop the keepalive and the driver's reports. */
  private quiet(): void {
    this.driver.rpcTap = null
    if (this.keepalive) {
      clearInterval(this.keepalive)
      this.keepalive = null
    }
  }

  close(): void {
    for (const client of this.clients) client.end()
    this.clients.clear()
    this.quiet()
  }
}
