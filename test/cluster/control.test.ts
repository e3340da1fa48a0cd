import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import type {ControlHandlers} from '../../src/api/control.js'
import {ControlServer, controlRequest, isListening} from '../../src/cluster/control.js'
import {ClusterError, badArgument} from '../../src/cluster/errors.js'

/** Sends raw bytes on a fresh connection; resolves with all the server wrote once it closes (bounded). */
function rawExchange(socketPath: string, payload: string | Buffer | null, timeoutMs = 3000): Promise<{text: string; closed: boolean}> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath)
    let text = ''
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({text, closed: false})
    }, timeoutMs)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({text, closed: true})
    })
    if (payload !== null) socket.once('connect', () => socket.write(payload))
  })
}

/** The one error line a refused request gets. */
function refusalOf(text: string): {code: string; message: string} {
  const lines = text.split('\n').filter((l) => l !== '')
  expect(lines, text).to.have.length(1)
  const reply = JSON.parse(lines[0]) as {ok: boolean; error: {code: string; message: string}}
  expect(reply.ok).to.equal(false)
  return reply.error
}

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

  async function serve(handlers: Partial<ControlHandlers>, options: {requestIdleMs?: number} = {}): Promise<ControlServer> {
    const server = new ControlServer(socket, handlers, options)
    servers.push(server)
    await server.listen()
    return server
  }

  it('answers a request with the handler result, over a socket only its owner can use', async () => {
    await serve({kill: async (request) => ({node: request.node === 'leader' ? 0 : request.node, pid: 42, exit: {code: null, signal: 'SIGKILL'}})})
    expect(await controlRequest(socket, {op: 'kill', node: 2})).to.deep.equal({node: 2, pid: 42, exit: {code: null, signal: 'SIGKILL'}})
    expect((fs.statSync(socket).mode & 0o077).toString(8), 'no access for group or others').to.equal('0')
  })

  it('turns handler errors into ClusterErrors with their code', async () => {
    await serve({
      kill: async () => {
        throw badArgument('node 7 is out of range')
      },
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
    await serve({ping: async () => ({pid: 7})})
    expect(await controlRequest(socket, {op: 'ping'})).to.deep.equal({pid: 7})
  })

  it('refuses to start a second server on a live socket', async () => {
    await serve({})
    const second = new ControlServer(socket, {})
    const error = await second.listen().catch((e: unknown) => e)
    expect(error).to.be.instanceOf(ClusterError).and.include({code: 'ALREADY_UP'})
  })

  it('times out, bounded, when the supervisor does not answer', async () => {
    await serve({status: () => new Promise(() => {})})
    const started = Date.now()
    const error = await controlRequest(socket, {op: 'status'}, 300).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(ClusterError).and.include({code: 'TIMEOUT'})
    expect(Date.now() - started).to.be.below(2000)
  })

  it('answers a malformed, unknown or out-of-bounds request with one error line and closes; it keeps serving', async () => {
    const asked: string[] = []
    await serve({
      ping: async () => ({pid: 1}),
      delay: async (request) => {
        asked.push(`delay ${request.node} ${request.ms}`)
        return {node: 0, ms: request.ms, jitter_ms: request.jitter_ms ?? 0, for_ms: request.for_ms ?? null, applied: [0], pending: []}
      },
      partition: async () => {
        asked.push('partition')
        throw new Error('not reached')
      },
      corrupt: async () => {
        asked.push('corrupt')
        throw new Error('not reached')
      },
      repair: async () => {
        asked.push('repair')
        throw new Error('not reached')
      },
    })
    const cases: [string, RegExp][] = [
      ['not json\n', /one JSON object with an "op"/],
      ['[1,2]\n', /one JSON object with an "op"/],
      ['null\n', /one JSON object with an "op"/],
      ['{"node":1}\n', /one JSON object with an "op"/],
      ['{"op":42}\n', /one JSON object with an "op"/],
      ['{"op":"format-disk"}\n', /unknown request "format-disk": use status, ping/],
      ['{"op":"__proto__"}\n', /unknown request "__proto__"/],
      ['{"op":"kill","node":"x"}\n', /node: give a node index or "leader"/],
      ['{"op":"kill"}\n', /node: give a node index or "leader"/],
      ['{"op":"kill","node":-1}\n', /node: give a node index or "leader"/],
      ['{"op":"kill","node":1.5}\n', /node: give a node index or "leader"/],
      ['{"op":"delay","node":0,"ms":"50"}\n', /ms must be a number from 0 to 60000/],
      ['{"op":"delay","node":0,"ms":1e9}\n', /ms must be a number from 0 to 60000/],
      ['{"op":"delay","node":0,"ms":5,"for_ms":0}\n', /for_ms must be a number from 1 to/],
      ['{"op":"loss","node":0,"percent":101}\n', /percent must be a number from 0 to 100/],
      ['{"op":"partition","groups":[1,2]}\n', /each group is a list of nodes/],
      ['{"op":"partition","groups":"0,1"}\n', /groups is a list of groups/],
      ['{"op":"partition","groups":[[{"a":1}]]}\n', /a group member: give a node index or "leader"/],
      ['{"op":"partition","shape":"star"}\n', /unknown shape "star": use halves, ring, bridge/],
      ['{"op":"transfer","to":true}\n', /to: give a node index or "leader"/],
      ['{"op":"power-cut"}\n', /power-cut needs nodes .* or all: true/],
      ['{"op":"power-cut","all":false}\n', /power-cut needs nodes .* or all: true/],
      ['{"op":"power-cut","all":"yes"}\n', /all must be true or false/],
      ['{"op":"power-cut","nodes":[0],"all":true}\n', /nodes or all: true, not both/],
      ['{"op":"power-cut","nodes":[]}\n', /nodes is a non-empty list/],
      ['{"op":"power-cut","nodes":"0,1"}\n', /nodes is a non-empty list/],
      ['{"op":"power-cut","nodes":[0,0]}\n', /names a node twice/],
      ['{"op":"power-cut","nodes":[-1]}\n', /a node of nodes: give a node index or "leader"/],
      ['{"op":"power-cut","nodes":[{"a":1}]}\n', /a node of nodes: give a node index or "leader"/],
      ['{"op":"power-cut","nodes":[0],"torn":"yes"}\n', /torn must be true or false/],
      ['{"op":"power-cut","nodes":[0],"seed":1}\n', /seed is for a torn power cut/],
      ['{"op":"power-cut","nodes":[0],"torn":true,"seed":-1}\n', /seed must be/],
      ['{"op":"power-cut","nodes":[0],"torn":true,"seed":1.5}\n', /seed must be a whole number/],
      ['{"op":"power-cut","nodes":[0],"torn":true,"seed":"7"}\n', /seed must be/],
      ['{"op":"power-cut","all":true,"torn":true,"seed":1e300}\n', /seed must be/],
      ['{"op":"power-cut","all":true,"torn":true,"seed":9007199254740992}\n', /seed must be/],
      [`{"op":"power-cut","nodes":[${Array.from({length: 1001}, (_, i) => i).join(',')}]}\n`, /at most 1000 nodes/],
      ['{"op":"corrupt","node":1}\n', /exactly one of bitflip .* and truncate/],
      ['{"op":"corrupt","node":1,"bitflip":8,"truncate":10}\n', /exactly one of bitflip .* and truncate/],
      ['{"op":"corrupt","node":1,"bitflip":0}\n', /bitflip must be a number from 1 to 1000000/],
      ['{"op":"corrupt","node":1,"bitflip":2.5}\n', /bitflip must be a whole number/],
      ['{"op":"corrupt","node":1,"bitflip":"64"}\n', /bitflip must be a number/],
      ['{"op":"corrupt","node":1,"truncate":-4}\n', /truncate must be a number from 1 to/],
      ['{"op":"corrupt","node":1,"truncate":1e300}\n', /truncate must be a number from 1 to/],
      ['{"op":"corrupt","node":1,"bitflip":1,"file":"../../etc/passwd"}\n', /unknown file "..\/..\/etc\/passwd": use db or wal/],
      ['{"op":"corrupt","node":"../1","bitflip":1}\n', /node: give a node index or "leader"/],
      ['{"op":"repair"}\n', /node: give a node index or "leader"/],
      ['{"op":"repair","node":1,"force":"yes"}\n', /force must be true or false/],
      ['{"op":"say","step":1,"text":"hi","kind":"say"}\n', /scenario must be a string/],
      ['{"op":"say","scenario":"s","step":1,"text":["hi"],"kind":"say"}\n', /text must be a string/],
      ['{"op":"say","scenario":"s","step":-1,"text":"hi","kind":"say"}\n', /step must be a number from 0 to 10000/],
      ['{"op":"say","scenario":"s","step":1.5,"text":"hi","kind":"say"}\n', /step must be a whole number/],
      ['{"op":"say","scenario":"s","step":1,"text":"hi","kind":"shout"}\n', /kind must be one of say, check, pass, fail/],
      ['{"op":"say","scenario":"s","step":1,"text":"hi"}\n', /kind must be one of/],
      // Known, but this server has no handler for it.
      ['{"op":"heal"}\n', /unknown request "heal"/],
      [`${'x'.repeat(70 * 1024)}`, /at most 65536 bytes/],
      ['\u0000\u00ff\n', /one JSON object/],
    ]
    for (const [payload, message] of cases) {
      const {text, closed} = await rawExchange(socket, payload)
      expect(closed, `the server closes after ${payload.slice(0, 40)}`).to.equal(true)
      const error = refusalOf(text)
      expect(error.code, payload.slice(0, 40)).to.equal('BAD_ARGUMENT')
      expect(error.message, payload.slice(0, 40)).to.match(message)
    }
    expect(asked, 'no handler saw a refused request').to.deep.equal([])
    // A good request after all that, with extra bytes after its line (ignored).
    const {text} = await rawExchange(socket, '{"op":"delay","node":"leader","ms":5,"extra":1}\n{"op":"ping"}\n')
    expect(JSON.parse(text)).to.deep.include({ok: true, ms: 5, jitter_ms: 0, for_ms: null})
    expect(asked).to.deep.equal(['delay leader 5'])
    expect(await controlRequest(socket, {op: 'ping'})).to.deep.equal({pid: 1})
  })

  it('takes a narration line (say) with control characters stripped and its strings capped', async () => {
    const seen: unknown[] = []
    await serve({
      say: async (request) => {
        seen.push(request)
        return {seq: seen.length}
      },
    })
    const hostile = 'step\u001b[2J\u0007 one\r\nfake line\u202e\u0000' + 'x'.repeat(5000)
    expect(await controlRequest(socket, {op: 'say', scenario: 'a\nb', step: 2, text: hostile, kind: 'check'})).to.deep.equal({seq: 1})
    const request = seen[0] as {scenario: string; step: number; text: string; kind: string}
    expect(request.scenario).to.equal('a b')
    expect(request.step).to.equal(2)
    expect(request.kind).to.equal('check')
    // eslint-disable-next-line no-control-regex
    expect(request.text).to.not.match(/[\u0000-\u001f\u007f-\u009f\u202e]/)
    expect(request.text.startsWith('step [2J one fake line x')).to.equal(true)
    expect(Array.from(request.text)).to.have.length(1000)
    expect(request.text.endsWith('…')).to.equal(true)
    // The name is capped too.
    await controlRequest(socket, {op: 'say', scenario: 'n'.repeat(500), step: 0, text: '', kind: 'say'})
    expect(Array.from((seen[1] as {scenario: string}).scenario)).to.have.length(100)
  })

  it('closes a connection that sends no request line in time, with an error line, and one that goes away', async () => {
    await serve({ping: async () => ({pid: 1})}, {requestIdleMs: 200})
    const silent = await rawExchange(socket, null)
    expect(silent.closed).to.equal(true)
    expect(refusalOf(silent.text).message).to.match(/no request line within 200 ms/)
    const half = await rawExchange(socket, '{"op":"pi')
    expect(half.closed).to.equal(true)
    expect(refusalOf(half.text).message).to.match(/no request line/)
    // A client that connects and leaves at once hurts nothing.
    await new Promise<void>((resolve) => {
      const c = net.connect(socket, () => {
        c.destroy()
        resolve()
      })
      c.on('error', () => resolve())
    })
    expect(await controlRequest(socket, {op: 'ping'})).to.deep.equal({pid: 1})
  })

  it('turns a handler that throws something odd into a SUPERVISOR error answer', async () => {
    await serve({
      ping: () => {
        throw 'not an Error'
      },
    })
    const error = await controlRequest(socket, {op: 'ping'}).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(ClusterError).and.include({code: 'SUPERVISOR', message: 'not an Error'})
  })

  it('reads a reply that is not JSON, or whose error code it does not know, as a supervisor error', async () => {
    const liar = net.createServer((c) => c.once('data', () => c.end('nonsense\n')))
    await new Promise<void>((resolve) => liar.listen(socket, resolve))
    try {
      const error = await controlRequest(socket, {op: 'ping'}, 2000).catch((e: unknown) => e)
      expect(error).to.be.instanceOf(ClusterError).and.include({code: 'SUPERVISOR'})
      expect((error as Error).message).to.match(/not JSON/)
    } finally {
      await new Promise<void>((resolve) => liar.close(() => resolve()))
    }
    const odd = net.createServer((c) => c.once('data', () => c.end('{"ok":false,"error":{"code":"EVIL","message":"m"}}\n')))
    await new Promise<void>((resolve) => odd.listen(socket, resolve))
    try {
      const error = await controlRequest(socket, {op: 'ping'}, 2000).catch((e: unknown) => e)
      expect(error).to.be.instanceOf(ClusterError).and.include({code: 'SUPERVISOR', message: 'm'})
    } finally {
      await new Promise<void>((resolve) => odd.close(() => resolve()))
    }
  })
})
