import {expect} from 'chai'
import net from 'node:net'
import type {Message} from '../../src/raft/index.js'
import {FRAME_KIND, FrameReader, frame} from '../../src/transport/frames.js'
import {encodeMessage} from '../../src/transport/message-codec.js'
import {
  addressMatches,
  decodeChallenge,
  encodeChallenge,
  encodeHello,
  newNonce,
  parseCard,
  peerKey,
  verifyHello,
  verifyWelcome,
  type NodeCard,
} from '../../src/transport/peer-auth.js'
import {RaftTransport, type PeerAddress} from '../../src/transport/raft-transport.js'

const HOST = '127.0.0.1'
const SECRET = 'the-cluster-secret-for-tests'
const LIMITS = {maxRaftConnections: 8, maxHelloBytes: 4096, handshakeTimeoutMs: 1000}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const {port} = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 20) {
    if (check()) return
    await sleep(20)
  }
  throw new Error(`timed out waiting for ${what}`)
}

function card(index: number, cluster = 'test'): NodeCard {
  return {index, node_id: `node-${index}`, host: HOST, raft_port: 6000 + index, tcp_port: 5000 + index, http_port: 8000 + index, cluster}
}

interface Member {
  transport: RaftTransport
  received: Message[]
  warnings: string[]
}

const started: RaftTransport[] = []
const sockets: net.Socket[] = []

async function member(index: number, peers: PeerAddress[], secret: string | null): Promise<Member> {
  const received: Message[] = []
  const warnings: string[] = []
  const transport = new RaftTransport({
    self: card(index),
    peers: new Map(peers.map((p, i) => [i, p])),
    hostOf: (id) => peers[id]?.host,
    listen: peers[index],
    secret,
    limits: LIMITS,
    logger: {info: () => {}, warn: (message, fields) => void warnings.push(`${message} ${JSON.stringify(fields ?? {})}`)},
    handlers: {raft: (_, m) => void received.push(m), forward: () => {}, forwardResult: () => {}, snapshot: () => {}},
  })
  await transport.start()
  started.push(transport)
  return {transport, received, warnings}
}

/** A raw client: every frame it receives, and whether the other side closed. */
function rawClient(port: number): {socket: net.Socket; frames: {kind: number; payload: Buffer}[]; closed: Promise<void>} {
  const socket = net.connect({host: HOST, port})
  sockets.push(socket)
  const frames: {kind: number; payload: Buffer}[] = []
  const reader = new FrameReader()
  socket.on('data', (chunk) => reader.push(chunk, (kind, payload) => void frames.push({kind, payload: Buffer.from(payload)})))
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return {socket, frames, closed}
}

describe('Raft port handshake', function () {
  this.timeout(15_000)
  let peers: PeerAddress[]
  beforeEach(async () => {
    peers = [
      {host: HOST, port: await freePort()},
      {host: HOST, port: await freePort()},
    ]
  })
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy()
    await Promise.all(started.splice(0).map((t) => t.close()))
  })

  it('members with the same secret connect both ways, learn each other\'s card, and exchange messages', async () => {
    const a = await member(0, peers, SECRET)
    const b = await member(1, peers, SECRET)
    await until('both links up', () => a.transport.isConnected(1) && b.transport.isConnected(0))
    expect(a.transport.peerCard(1)).to.deep.equal(card(1))
    expect(b.transport.peerCard(0)).to.deep.equal(card(0))
    expect(a.transport.bytesSent()).to.equal(0)
    const heartbeat: Message = {type: 'heartbeat', from: 0, to: 1, term: 3, commit: 0}
    a.transport.sendRaft(heartbeat)
    await until('the heartbeat to arrive', () => b.received.length === 1)
    expect(b.received[0]).to.include({type: 'heartbeat', from: 0, term: 3})
    // The frame as written on the link counts, the handshake does not.
    expect(a.transport.bytesSent()).to.equal(frame(FRAME_KIND.raft, encodeMessage(heartbeat)).length)
    expect(b.transport.bytesSent()).to.equal(0)
    expect(a.warnings).to.deep.equal([])
  })

  it('members with another secret never connect, and nothing they send reaches the driver', async () => {
    const a = await member(0, peers, SECRET)
    const b = await member(1, peers, 'another-secret-of-enough-length')
    await sleep(1500)
    expect(a.transport.isConnected(1)).to.equal(false)
    expect(b.transport.isConnected(0)).to.equal(false)
    b.transport.sendRaft({type: 'heartbeat', from: 1, to: 0, term: 99})
    a.transport.sendRaft({type: 'heartbeat', from: 0, to: 1, term: 99})
    await sleep(100)
    expect(a.received).to.deep.equal([])
    expect(b.received).to.deep.equal([])
    expect(a.transport.peerCard(1)).to.equal(undefined)
    expect(a.warnings.join('\n')).to.match(/wrong secret/)
    // Retries go on, but the log does not repeat the same refusal for each.
    expect(a.warnings.filter((w) => /wrong secret/.test(w))).to.have.length(1)
    expect(b.warnings.join('\n')).to.match(/wrong secret|could not authenticate/)
  })

  it('refuses a hello replayed on another connection: each challenge has its own nonce', async () => {
    const a = await member(0, peers, SECRET)
    const key = peerKey(SECRET)
    const first = rawClient(peers[0].port)
    await until('a challenge', () => first.frames.length === 1)
    expect(first.frames[0].kind).to.equal(FRAME_KIND.challenge)
    const nonce = decodeChallenge(first.frames[0].payload) as Buffer
    const dialerNonce = newNonce()
    const hello = frame(FRAME_KIND.hello, encodeHello(key, card(1), 0, nonce, dialerNonce))
    first.socket.write(hello)
    await until('a welcome', () => first.frames.length === 2)
    expect(first.frames[1].kind).to.equal(FRAME_KIND.welcome)
    const parties = {cluster: 'test', dialer: 1, dialerNonce, acceptor: 0, acceptorNonce: nonce}
    expect(verifyWelcome(key, parties, first.frames[1].payload)).to.equal(true)

    const replay = rawClient(peers[0].port)
    await until('a second challenge', () => replay.frames.length === 1)
    expect(replay.frames[0].payload.equals(first.frames[0].payload)).to.equal(false)
    replay.socket.write(hello)
    replay.socket.write(frame(FRAME_KIND.raft, encodeMessage({type: 'heartbeat', from: 1, to: 0, term: 50})))
    await replay.closed
    expect(replay.frames.map((f) => f.kind)).to.deep.equal([FRAME_KIND.challenge])
    expect(a.received).to.deep.equal([])
    expect(a.warnings.join('\n')).to.match(/wrong secret/)
  })

  it('a dialer refuses an acceptor whose welcome is wrong, and retries with backoff', async () => {
    let connections = 0
    const fake = net.createServer((socket) => {
      connections++
      socket.on('error', () => {})
      const reader = new FrameReader()
      socket.on('data', (chunk) => reader.push(chunk, (kind) => kind === FRAME_KIND.hello && socket.write(frame(FRAME_KIND.welcome, Buffer.alloc(32)))))
      socket.write(frame(FRAME_KIND.challenge, encodeChallenge(newNonce())))
    })
    await new Promise<void>((resolve) => fake.listen(peers[1].port, HOST, () => resolve()))
    try {
      const a = await member(0, peers, SECRET)
      await until('a retry', () => connections >= 2)
      expect(a.transport.isConnected(1)).to.equal(false)
      expect(a.warnings.join('\n')).to.match(/bad welcome/)
    } finally {
      await Promise.all(started.splice(0).map((t) => t.close()))
      await new Promise<void>((resolve) => fake.close(() => resolve()))
    }
  })

  it('a node without a secret refuses every connection before any challenge', async () => {
    const lone = await member(0, [peers[0]], null)
    const client = rawClient(peers[0].port)
    await client.closed
    expect(client.frames).to.deep.equal([])
    expect(lone.warnings.join('\n')).to.match(/no secret/)
  })

  it('closes a connection that does not authenticate within the handshake timeout', async () => {
    const a = await member(0, peers, SECRET)
    const client = rawClient(peers[0].port)
    const began = Date.now()
    await client.closed
    expect(Date.now() - began).to.be.within(LIMITS.handshakeTimeoutMs - 50, LIMITS.handshakeTimeoutMs + 2000)
    expect(a.warnings.join('\n')).to.match(/did not authenticate within/)
  })
})

describe('hello checks', () => {
  const key = peerKey(SECRET)
  const self = card(0)
  const acceptorNonce = newNonce()
  const hello = (from: NodeCard, secretKey = key, nonce = acceptorNonce): Buffer => encodeHello(secretKey, from, 0, nonce, newNonce())

  it('accepts a member with the secret, from its address', () => {
    const verdict = verifyHello({key, self, hostOf: (id: number) => [HOST, HOST][id], acceptorNonce, remoteAddress: '127.0.0.1'}, hello(card(1)))
    expect(verdict).to.include({ok: true})
  })

  it('refuses the wrong secret, a stale nonce, and a member dialing from another address', () => {
    const view = {key, self, hostOf: (id: number) => [HOST, HOST][id], acceptorNonce, remoteAddress: '127.0.0.1'}
    expect(verifyHello(view, hello(card(1), peerKey('not-the-secret-at-all')))).to.deep.include({ok: false, reason: 'wrong secret (hello MAC does not match)'})
    expect(verifyHello(view, hello(card(1), key, newNonce()))).to.deep.include({ok: false})
    const pinned = {...view, hostOf: (id: number) => ['10.0.0.1', '10.0.0.2'][id], remoteAddress: '10.0.0.9'}
    expect(verifyHello(pinned, hello(card(1)))).to.deep.include({ok: false})
    expect((verifyHello(pinned, hello(card(1))) as {reason: string}).reason).to.match(/must connect from 10.0.0.2/)
    expect(verifyHello({...pinned, remoteAddress: '::ffff:10.0.0.2'}, hello(card(1)))).to.include({ok: true})
    expect(verifyHello({...view, remoteAddress: '192.168.1.5'}, hello(card(1)))).to.deep.include({ok: false})
  })

  it('knows which addresses it can check', () => {
    expect(addressMatches('127.0.0.1', '127.0.0.1')).to.equal(true)
    expect(addressMatches('localhost', '::1')).to.equal(true)
    expect(addressMatches('127.0.0.1', '10.1.1.1')).to.equal(false)
    expect(addressMatches('2001:db8::1', '2001:DB8:0::1')).to.equal(true)
    expect(addressMatches('node-b.example', '10.1.1.1')).to.equal(true)
    expect(addressMatches('0.0.0.0', '10.1.1.1')).to.equal(true)
  })

  it('takes only a well-formed card, so /cluster never shows what a stranger made up', () => {
    expect(parseCard(card(1), self)).to.deep.equal(card(1))
    expect(parseCard({...card(1), http_port: '8080'}, self)).to.match(/ports/)
    expect(parseCard({...card(1), tcp_port: 70_000}, self)).to.match(/ports/)
    expect(parseCard({...card(1), node_id: 'evil\n<script>'}, self)).to.match(/printable/)
    expect(parseCard({...card(1), node_id: 'x'.repeat(200)}, self)).to.match(/printable/)
    expect(parseCard({...card(1), index: 0x10000}, self)).to.match(/unknown member/)
    expect(parseCard({...card(1), index: -1}, self)).to.match(/unknown member/)
    expect(parseCard({...card(1), host: 'a b'}, self)).to.match(/host/)
    expect(parseCard({...card(1), raft_port: 0}, self)).to.match(/ports/)
    expect(parseCard({...card(1), index: 0}, self)).to.match(/unknown member/)
    expect(parseCard({...card(1), cluster: 'other'}, self)).to.match(/another cluster/)
    expect(parseCard('card', self)).to.match(/without a card/)
  })
})
