/**
 * What a node whose data is corrupt runs instead of a broker: its HTTP port, so that status,
 * top and a health check see `corrupt` and why, and its client port, so that a client gets a
 * clear CORRUPT error instead of a refused connection. No Raft port: the node casts no vote,
 * acknowledges no entry and cannot lead, and its peers see it as down. Nothing is read from the
 * database.
 */
import http from 'node:http'
import net from 'node:net'
import type {CorruptHealthInfo, CorruptInfo, CorruptStatusInfo, ErrorBody} from '../api/node-http.js'
import type {ErrorLine} from '../api/json-lines.js'
import {HttpAccess} from './http-access.js'
import {listen} from './tcp-server.js'

export interface CorruptNodeOptions {
  nodeId: string
  host: string
  tcpPort: number
  httpPort: number
  raftPort: number
  dataDir: string
}

/** The one line that tells the operator what happened and what to do. */
export function corruptMessage(info: CorruptInfo): string {
  const repair = info.node_index === null ? 'pad-cli repair <this node>' : `pad-cli repair ${info.node_index}`
  return `this node's data is corrupt (${info.file}: ${info.reason}): it takes no part in Raft and serves nothing; rebuild it from the leader with ${repair}`
}

export class CorruptNode {
  private readonly http: http.Server
  private readonly tcp: net.Server
  private readonly access: HttpAccess
  private readonly startedAt = Date.now()

  constructor(
    private readonly options: CorruptNodeOptions,
    readonly info: CorruptInfo,
  ) {
    this.access = new HttpAccess({host: options.host, httpPort: options.httpPort, corsOrigins: []}, () => [])
    this.http = http.createServer((request, response) => this.answer(request, response))
    this.tcp = net.createServer((socket) => {
      socket.on('error', () => {})
      const line: ErrorLine = {op: 'error', code: 'CORRUPT', message: corruptMessage(this.info)}
      socket.end(JSON.stringify(line) + '\n')
      // A client that never reads must not hold the socket.
      socket.setTimeout(5000, () => socket.destroy())
    })
  }

  async listen(): Promise<void> {
    await listen(this.tcp, this.options.tcpPort, this.options.host)
    await listen(this.http, this.options.httpPort, this.options.host, 'HTTP')
  }

  close(): Promise<void> {
    this.http.closeAllConnections()
    return Promise.all([new Promise<void>((resolve) => this.http.close(() => resolve())), new Promise<void>((resolve) => this.tcp.close(() => resolve()))]).then(() => {})
  }

  health(): CorruptHealthInfo {
    return {ok: false, ready: false, node_id: this.options.nodeId, state: 'corrupt', leader: false, corrupt: this.info}
  }

  status(): CorruptStatusInfo {
    const o = this.options
    return {
      status: 'corrupt',
      node_id: o.nodeId,
      pid: process.pid,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      addresses: {host: o.host, tcp_port: o.tcpPort, http_port: o.httpPort, raft_port: o.raftPort},
      data_dir: o.dataDir,
      corrupt: this.info,
    }
  }

  private answer(request: http.IncomingMessage, response: http.ServerResponse): void {
    // Nothing is read from the request body: it is dropped as it comes.
    request.resume()
    const path = (request.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/'
    if (!this.access.hostAllowed(request.headers.host)) {
      send(response, 421, {ok: false, error: {code: 'MISDIRECTED', message: 'this node does not answer for that host: use the address it listens on'}})
    } else if (request.method === 'GET' && path === '/health') {
      send(response, 503, this.health())
    } else if (request.method === 'GET' && path === '/status') {
      send(response, 200, this.status())
    } else {
      const body: ErrorBody = {ok: false, error: {code: 'CORRUPT', message: corruptMessage(this.info)}}
      send(response, 503, body)
    }
  }
}

function send(response: http.ServerResponse, status: number, answer: unknown): void {
  const body = JSON.stringify(answer)
  response.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)})
  response.end(body)
}
