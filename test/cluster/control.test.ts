import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {ControlServer, controlRequest, isListening} from '../../src/cluster/control.js'
import {ClusterError, badArgument} from '../../src/cluster/errors.js'

describe('supervisor control socket', () => {
  let dir: string
  let socket: string
  const servers: ControlServer[] = []
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-ctl-'))
    socket = path.join(dir, 'control.sock')
  })
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close()
    fs.rmSync(dir, {recursive: true, force: true})
  })

  async function serve(handler: ConstructorParameters<typeof ControlServer>[1]): Promise<ControlServer> {
    const server = new ControlServer(socket, handler)
    servers.push(server)
    await server.listen()
    return server
  }

  it('answers a request with the handler result, over a socket only its owner can use', async () => {
    await serve(async (request) => ({echo: request.op, node: request.node}))
    expect(await controlRequest(socket, {op: 'kill', node: 2})).to.deep.equal({echo: 'kill', node: 2})
    expect((fs.statSync(socket).mode & 0o077).toString(8), 'no access for group or others').to.equal('0')
  })

  it('turns handler errors into ClusterErrors with their code', async () => {
    await serve(async () => {
      throw badArgument('node 7 is out of range')
    })
    const error = await controlRequest(socket, {op: 'kill', node: 7}).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(ClusterError)
    expect(error).to.include({code: 'BAD_ARGUMENT', message: 'node 7 is out of range'})
  })

  it('says NOT_UP when no one listens, and replaces a stale socket file', async () => {
    const error = await controlRequest(socket, {op: 'status'}, 1000).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(ClusterError).and.include({code: 'NOT_UP'})
    // A socket file left by a dead supervisor.
    const stale = net.createServer()
    await new Promise<void>((resolve) => stale.listen(socket, resolve))
    await new Promise<void>((resolve) => stale.close(() => resolve()))
    fs.writeFileSync(socket, '')
    expect(await isListening(socket)).to.equal(false)
    await serve(async () => ({ok2: true}))
    expect(await controlRequest(socket, {op: 'status'})).to.deep.equal({ok2: true})
  })

  it('refuses to start a second server on a live socket', async () => {
    await serve(async () => ({}))
    const second = new ControlServer(socket, async () => ({}))
    const error = await second.listen().catch((e: unknown) => e)
    expect(error).to.be.instanceOf(ClusterError).and.include({code: 'ALREADY_UP'})
  })

  it('times out, bounded, when the supervisor does not answer', async () => {
    await serve(() => new Promise(() => {}))
    const started = Date.now()
    const error = await controlRequest(socket, {op: 'status'}, 300).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(ClusterError).and.include({code: 'TIMEOUT'})
    expect(Date.now() - started).to.be.below(2000)
  })
})
