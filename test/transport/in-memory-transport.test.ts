import {expect} from 'chai'
import type {Message} from '../../src/raft/index.js'
import {FRAME_KIND, frame} from '../../src/transport/frames.js'
import {encodeMessage} from '../../src/transport/message-codec.js'
import {InMemoryNetwork, type InMemoryTransport} from '../../src/transport/in-memory-transport.js'
import type {TransportHandlers} from '../../src/transport/raft-transport.js'

interface Received {
  kind: string
  from: number
  body: unknown
}

function member(network: InMemoryNetwork, index: number): {transport: InMemoryTransport; got: Received[]; lost: number[]; warnings: string[]} {
  const warnings: string[] = []
  const got: Received[] = []
  const lost: number[] = []
  const handlers: TransportHandlers = {
    raft: (from, message) => void got.push({kind: 'raft', from, body: message}),
    forward: (from, payload) => void got.push({kind: 'forward', from, body: payload.toString()}),
    forwardResult: (from, payload) => void got.push({kind: 'forwardResult', from, body: payload.toString()}),
    snapshot: (from, frame) => void got.push({kind: 'snapshot', from, body: frame}),
    peerDisconnected: (peer) => void lost.push(peer),
  }
  const logger = {info: () => {}, warn: (message: string) => void warnings.push(message)}
  const transport = network.transport({self: {index, node_id: `n${index}`, host: '127.0.0.1', raft_port: 3, tcp_port: 1, http_port: 2, cluster: 'c'}, handlers, logger})
  return {transport, got, lost, warnings}
}

const heartbeat = (from: number, to: number, term: number): Message => ({type: 'heartbeat', from, to, term, commit: 0})

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

describe('InMemoryTransport: Raft traffic between nodes of one process', () => {
  it('delivers later, not during the send, in order, with a copy of each Raft message', async () => {
    const network = new InMemoryNetwork()
    const a = member(network, 0)
    const b = member(network, 1)
    await a.transport.start()
    await b.transport.start()
    const sent = heartbeat(0, 1, 3)
    a.transport.sendRaft(sent)
    a.transport.sendRaft(heartbeat(0, 1, 4))
    expect(a.transport.sendForward(1, Buffer.from('fwd'))).to.equal(true)
    expect(b.got).to.have.length(0)
    await turn()
    await turn()
    expect(b.got.map((r) => r.kind)).to.deep.equal(['raft', 'raft', 'forward'])
    expect((b.got[0].body as Message).term).to.equal(3)
    expect((b.got[1].body as Message).term).to.equal(4)
    expect(b.got[0].body).to.not.equal(sent)
    expect(b.got[2]).to.deep.equal({kind: 'forward', from: 0, body: 'fwd'})
    // Counted as RaftTransport counts them: each payload in its frame.
    const framed = 2 * frame(FRAME_KIND.raft, encodeMessage(sent)).length + frame(FRAME_KIND.forward, Buffer.from('fwd')).length
    expect(a.transport.bytesSent()).to.equal(framed)
    expect(b.transport.bytesSent()).to.equal(0)
    expect(a.transport.peerCard(1)?.node_id).to.equal('n1')
  })

  it('refuses a forward to a member that is not there, and tells the others when one leaves', async () => {
    const network = new InMemoryNetwork()
    const a = member(network, 0)
    const b = member(network, 1)
    await a.transport.start()
    expect(a.transport.isConnected(1)).to.equal(false)
    expect(a.transport.sendForward(1, Buffer.from('x'))).to.equal(false)
    await b.transport.start()
    expect(a.transport.isConnected(1)).to.equal(true)
    await b.transport.close()
    expect(a.lost).to.deep.equal([1])
    expect(a.transport.isConnected(1)).to.equal(false)
  })

  it('applies the fault filter on the way out and on the way in', async () => {
    const network = new InMemoryNetwork()
    const a = member(network, 0)
    const b = member(network, 1)
    await a.transport.start()
    await b.transport.start()
    a.transport.faults.set(1, {drop: true})
    a.transport.sendRaft(heartbeat(0, 1, 1))
    expect(a.transport.droppedByFaults).to.equal(1)
    a.transport.faults.clear()
    b.transport.faults.set(0, {drop: true})
    a.transport.sendForwardResult(1, Buffer.from('r'))
    await turn()
    expect(b.transport.droppedByFaults).to.equal(1)
    expect(b.got).to.have.length(0)
    b.transport.faults.set(0, {delayMs: 30})
    a.transport.sendForwardResult(1, Buffer.from('late'))
    await turn()
    expect(b.got).to.have.length(0)
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(b.got).to.deep.equal([{kind: 'forwardResult', from: 0, body: 'late'}])
  })

  it('logs, and neither sends nor throws, a message that cannot be encoded or a handler that throws', async () => {
    const network = new InMemoryNetwork()
    const a = member(network, 0)
    const b = member(network, 1)
    await a.transport.start()
    await b.transport.start()
    a.transport.sendRaft({...heartbeat(0, 1, 1), term: -1})
    expect(a.warnings).to.deep.equal(['not sending a Raft message that cannot be encoded'])
    const thrower = network.transport({
      self: {index: 2, node_id: 'n2', host: '127.0.0.1', raft_port: 3, tcp_port: 1, http_port: 2, cluster: 'c'},
      handlers: {
        raft: () => {
          throw new Error('handler failed')
        },
        forward: () => {},
        forwardResult: () => {},
        snapshot: () => {},
      },
      logger: {info: () => {}, warn: (message) => void a.warnings.push(message)},
    })
    await thrower.start()
    a.transport.sendRaft(heartbeat(0, 2, 2))
    a.transport.sendRaft(heartbeat(0, 1, 2))
    await turn()
    expect(a.warnings).to.deep.equal(['not sending a Raft message that cannot be encoded', 'a Raft message could not be handled'])
    expect(b.got).to.have.length(1)
  })
})
