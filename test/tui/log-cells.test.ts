import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {expect} from 'chai'
import type {RaftLogAnswer, TermRun} from '../../src/api/node-http.js'
import {logCells, TERM_PALETTE, termColor} from '../../src/tui/log-cells.js'
import {LogTails} from '../../src/tui/log-tails.js'
import {TopModel} from '../../src/tui/model.js'
import {poll} from '../../src/util/time.js'
import {node, status} from './helpers.js'

function answer(runs: TermRun[], commit: number, fields: Partial<RaftLogAnswer> = {}): RaftLogAnswer {
  const last = runs.at(-1)?.to ?? 0
  return {node_index: 0, current_term: runs.at(-1)?.term ?? 1, snapshot_index: runs.length ? runs[0].from - 1 : last, snapshot_term: 0, last_index: last, commit_index: commit, runs, ...fields}
}

const solid = (term: number, text: string): string => `{black-fg}{${termColor(term)}-bg}${text}{/${termColor(term)}-bg}{/black-fg}`
const hollow = (term: number, text: string): string => `{${termColor(term)}-fg}{underline}${text}{/underline}{/${termColor(term)}-fg}`

describe('top log cells: a log tail as cells colored by term', () => {
  it('draws one cell per entry with its term, solid up to the commit index and hollow after it', () => {
    const tail = answer([{from: 1, to: 2, term: 1}, {from: 3, to: 4, term: 2}], 3)
    expect(logCells(tail, 80)).to.equal(solid(1, '1 ') + solid(1, '1 ') + solid(2, '2 ') + hollow(2, '2 '))
  })

  it('gives the terms the palette in turn, and wraps: term 1 and term 1 + palette size share a color', () => {
    const n = TERM_PALETTE.length
    expect(termColor(1)).to.equal(TERM_PALETTE[0])
    expect(termColor(n)).to.equal(TERM_PALETTE[n - 1])
    expect(termColor(n + 1)).to.equal(TERM_PALETTE[0])
    expect(termColor(2 * n + 3)).to.equal(TERM_PALETTE[2])
    // Two-digit terms get wider cells, the number padded to the widest term in the window.
    const tail = answer([{from: 5, to: 5, term: 7}, {from: 6, to: 6, term: 12}], 6)
    expect(logCells(tail, 80)).to.equal(`{black-fg}{${TERM_PALETTE[0]}-bg} 7 {/${TERM_PALETTE[0]}-bg}{/black-fg}` + `{black-fg}{${TERM_PALETTE[5]}-bg}12 {/${TERM_PALETTE[5]}-bg}{/black-fg}`)
  })

  it('shows the last entries that fit: a commit index before the window leaves every cell hollow, one at the end every cell solid', () => {
    const runs = [{from: 1, to: 10, term: 1}, {from: 11, to: 14, term: 3}]
    // 7 columns: three two-column cells, entries 12..14.
    expect(logCells(answer(runs, 5), 7)).to.equal(hollow(3, '3 ').repeat(3))
    expect(logCells(answer(runs, 14), 7)).to.equal(solid(3, '3 ').repeat(3))
    // The commit index inside the window: entries 10..14 on ten columns, committed up to 12.
    expect(logCells(answer(runs, 12), 10)).to.equal(solid(1, '1 ') + solid(3, '3 ') + solid(3, '3 ') + hollow(3, '3 ') + hollow(3, '3 '))
  })

  it('draws terms too long to print as one-column cells, and says when the log is empty', () => {
    const tail = answer([{from: 1, to: 2, term: 1000}], 1)
    expect(logCells(tail, 80)).to.equal(solid(1000, ' ') + hollow(1000, '·'))
    expect(logCells(answer([], 0), 80)).to.equal('log empty')
    expect(logCells(answer([], 40, {snapshot_index: 40, last_index: 40}), 80)).to.equal('log empty after the snapshot at 40')
    expect(logCells(answer([], 0), 3)).to.equal('log')
    expect(logCells(answer([{from: 1, to: 1, term: 1}], 1), 0)).to.equal('')
  })
})

describe('top log tails: polling GET /raft/log', () => {
  const good = answer([{from: 41, to: 45, term: 2}, {from: 46, to: 50, term: 3}], 48, {snapshot_index: 40, snapshot_term: 1})

  const servers: http.Server[] = []
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  /** A node's HTTP port that answers GET /raft/log with `reply`; counts the requests. */
  async function serve(reply: (url: string) => {status: number; body: string}): Promise<{port: number; urls: string[]}> {
    const urls: string[] = []
    const server = http.createServer((request, response) => {
      urls.push(request.url ?? '')
      const {status: code, body} = reply(request.url ?? '')
      response.writeHead(code, {'content-type': 'application/json'}).end(body)
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return {port: (server.address() as AddressInfo).port, urls}
  }

  it("polls every running node only while the rows are shown, keeps each answer, and has none (n/a) for a node that cannot say", async () => {
    const ok = await serve(() => ({status: 200, body: JSON.stringify(good)}))
    const missing = await serve(() => ({status: 404, body: '{}'}))
    const model = new TopModel('default')
    model.setStatus(status([node(0, {http_port: ok.port}), node(1, {http_port: missing.port}), node(2, {process: 'stopped', http_port: ok.port})]))
    const tails = new LogTails(model, 20)
    try {
      tails.want(500)
      const seen = await poll(() => (tails.get(0) && tails.get(1) === null ? true : undefined), {timeoutMs: 10_000, intervalMs: 20})
      expect(seen).to.equal(true)
      expect(tails.get(0)).to.deep.equal(good)
      expect(tails.get(2)).to.equal(undefined)
      // At most MAX_LOG_TAIL entries are asked for, whatever the width.
      expect(ok.urls[0]).to.equal('/raft/log?last=200')
      tails.want(null)
      // Requests already sent may still land; after that, none (ten poll intervals later).
      await new Promise((resolve) => setTimeout(resolve, 100))
      const asked = ok.urls.length + missing.urls.length
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(ok.urls.length + missing.urls.length).to.equal(asked)
    } finally {
      tails.stop()
    }
  })
})
