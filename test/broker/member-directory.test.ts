// The member directory (#18): the `members` control entry, what a node accepts in one, how the
// directory merges entries over the --peers base, and the checks POST /admin/members makes.
import {expect} from 'chai'
import type {DirectoryMember} from '../../src/api/node-http.js'
import {decodeCommand, encodeMembers} from '../../src/broker/control-command.js'
import {BrokerError} from '../../src/broker/errors.js'
import {MAX_MEMBER_ID, MemberDirectory, parseMember} from '../../src/broker/member-directory.js'
import {parseMembersRequest} from '../../src/broker/members-request.js'

const card = (id: number, extra: Partial<DirectoryMember> = {}): DirectoryMember => ({
  id,
  node_id: `127.0.0.1:${5000 + id}`,
  host: '127.0.0.1',
  raft_port: 6000 + id,
  tcp_port: 5000 + id,
  http_port: 8000 + id,
  ...extra,
})

/** A members entry with whatever JSON a faulty or hostile leader wrote. */
const rawEntry = (json: string): Buffer => Buffer.concat([Buffer.from([2, 3]), Buffer.from(json)])

describe('member directory: the replicated id -> card table', () => {
  it('a members entry round-trips, cards with unknown ports included', () => {
    const members = [card(0, {tcp_port: null, http_port: null}), card(3)]
    expect(decodeCommand(encodeMembers(members))).to.deep.equal({kind: 'members', members})
  })

  it('refuses an entry that is not a short list of distinct, well-formed cards, with a reason', () => {
    const cases: [string, RegExp][] = [
      ['not json', /not JSON/],
      ['{}', /not a list/],
      ['[]', /not a list/],
      [JSON.stringify([card(1), card(1)]), /twice/],
      [JSON.stringify([{...card(1), id: -1}]), /not an integer/],
      [JSON.stringify([{...card(1), id: MAX_MEMBER_ID + 1}]), /not an integer/],
      [JSON.stringify([{...card(1), id: 1.5}]), /not an integer/],
      [JSON.stringify([{...card(1), host: 'a host\nwith a newline'}]), /host/],
      [JSON.stringify([{...card(1), node_id: 'x'.repeat(200)}]), /node_id/],
      [JSON.stringify([{...card(1), raft_port: 70_000}]), /raft_port/],
      [JSON.stringify([{...card(1), http_port: '8080'}]), /http_port/],
      [JSON.stringify(Array.from({length: 1025}, (_, i) => card(i))), /not a list/],
    ]
    for (const [json, reason] of cases) expect(() => decodeCommand(rawEntry(json)), json.slice(0, 40)).to.throw(reason)
    expect(() => encodeMembers([card(1, {host: ''})])).to.throw(/host/)
  })

  it('merges entries over the --peers base; no card is ever removed, so the highest id only grows', () => {
    const base = [card(0, {tcp_port: null, http_port: null}), card(1, {tcp_port: null, http_port: null})]
    const directory = new MemberDirectory(base)
    expect(directory.highest()).to.equal(1)
    expect(directory.get(0)?.http_port).to.equal(null)
    expect(directory.merge([card(0), card(4)])).to.deep.equal([card(0), card(4)])
    expect(directory.list().map((m) => m.id)).to.deep.equal([0, 1, 4])
    expect(directory.get(0)).to.deep.equal(card(0))
    expect(directory.highest()).to.equal(4)
    // Reloaded from the table (a restart, a snapshot): the base is still under it.
    directory.load([card(2)])
    expect(directory.list().map((m) => m.id)).to.deep.equal([0, 1, 2])
    expect(new MemberDirectory([]).highest(), 'a node that has not joined yet knows no one').to.equal(-1)
    expect(parseMember({...card(1), extra: 'ignored'})).to.deep.equal(card(1))
  })
})

describe('POST /admin/members: the request checked as hostile input', () => {
  const refused = (body: Record<string, unknown>): string => {
    try {
      parseMembersRequest(body)
    } catch (error) {
      expect(error).to.be.instanceOf(BrokerError)
      expect((error as BrokerError).code).to.equal('BAD_REQUEST')
      expect((error as Error).message).to.not.include('\n')
      return (error as Error).message
    }
    throw new Error(`accepted ${JSON.stringify(body)}`)
  }

  it('takes the three ops with their fields', () => {
    const add = {op: 'add', host: '10.0.0.4', raft_port: 6003, tcp_port: 5003, http_port: 8083}
    expect(parseMembersRequest(add)).to.deep.equal(add)
    expect(parseMembersRequest({...add, node_id: 'n3'})).to.deep.equal({...add, node_id: 'n3'})
    expect(parseMembersRequest({op: 'promote', id: 3})).to.deep.equal({op: 'promote', id: 3})
    expect(parseMembersRequest({op: 'remove', id: 0})).to.deep.equal({op: 'remove', id: 0})
  })

  it('refuses unknown ops, wrong types, and ids or ports out of range, one line each', () => {
    const add = {op: 'add', host: '10.0.0.4', raft_port: 6003, tcp_port: 5003, http_port: 8083}
    expect(refused({})).to.match(/op must be/)
    expect(refused({op: 'grow'})).to.match(/op must be/)
    expect(refused({op: ['add']})).to.match(/op must be/)
    expect(refused({op: 'promote'})).to.match(/id must be/)
    for (const id of [-1, 1.5, '3', MAX_MEMBER_ID + 1, 1e300, null, true]) expect(refused({op: 'remove', id})).to.match(/id must be/)
    expect(refused({...add, host: 42})).to.match(/host/)
    expect(refused({...add, host: 'x'.repeat(300)})).to.match(/host/)
    expect(refused({...add, host: 'evil host'})).to.match(/host/)
    for (const port of [0, -1, 65536, '6003', 6003.5]) expect(refused({...add, raft_port: port})).to.match(/raft_port/)
    expect(refused({...add, http_port: undefined})).to.match(/http_port/)
    expect(refused({...add, node_id: 'a\u0007b'})).to.match(/node_id/)
  })
})
