import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {checkHistory, describeAnomalies, type CheckReport} from '../../src/chaos/checker.js'
import {HistoryError, parseHistory, readHistory, writeHistory, type FaultRecord, type History, type PublishRecord, type StoredEntry} from '../../src/chaos/history.js'
import {summaryJson} from '../../src/chaos/summary.js'

// Synthetic histories: a clean one, then one mutation per anomaly, so that each kind of
// anomaly is shown to be found (and a checker that always passes would fail here).

const TOPICS = ['chaos.t0', 'chaos.t1']

/**
 * A clean run: `perTopic` acknowledged publishes on each topic, at increasing times, stored
 * identically on three nodes; one subscriber per node from the beginning that received
 * everything, and one from latest that received the second half.
 */
function cleanHistory(perTopic = 6): History {
  const publishes: PublishRecord[] = []
  let time = 0
  for (let n = 0; n < perTopic; n++) {
    for (const [t, topic] of TOPICS.entries()) {
      const id = `p${t}-${n}`
      time += 10
      publishes.push({
        id,
        value: `v-${id}`,
        topic,
        publisher: t,
        invoked_at: time,
        completed_at: time + 5,
        outcome: 'ok',
        offset: n,
        attempts: [{node: n % 3, at: time, done_at: time + 5, result: 'ok', offset: n}],
      })
    }
  }
  const topics = (): Record<string, StoredEntry[]> =>
    Object.fromEntries(TOPICS.map((topic) => [topic, publishes.filter((p) => p.topic === topic).map((p) => ({offset: p.offset!, id: p.id, value: p.value}))]))
  const stream = (topic: string, fromOffset: number) => {
    const list = publishes.filter((p) => p.topic === topic && p.offset! >= fromOffset)
    return {offsets: list.map((p) => p.offset!), values: list.map((p) => p.value)}
  }
  return {
    version: 1,
    meta: {
      seed: 42,
      nodes: 3,
      duration_ms: 1000,
      started_at: '2025-01-01T00:00:00.000Z',
      finished_at: '2025-01-01T00:00:01.000Z',
      replay: 'pad-cli chaos --seed 42',
      converged: true,
      topics: TOPICS,
      options: {},
    },
    publishes,
    stored: [0, 1, 2].map((node) => ({node, read: true, topics: topics()})),
    subscribers: [
      ...[0, 1, 2].map((node) => ({
        subscriber: node,
        node,
        from: 'beginning' as const,
        reconnects: 0,
        final: true,
        topics: Object.fromEntries(TOPICS.map((topic) => [topic, stream(topic, 0)])),
      })),
      {
        subscriber: 3,
        node: 1,
        from: 'latest' as const,
        reconnects: 1,
        final: true,
        topics: Object.fromEntries(TOPICS.map((topic) => [topic, stream(topic, Math.floor(perTopic / 2))])),
      },
    ],
    faults: [
      {kind: 'kill', nodes: [1], at: 100, healed_at: 300},
      {kind: 'partition-halves', nodes: [0, 1, 2], at: 400, healed_at: 900, detail: {cuts: [[0, 1], [0, 2]]}},
    ],
    elections: [
      {at: 0, term: 1, leader: 0},
      {at: 150, term: 2, leader: 2},
    ],
  }
}

function entries(history: History, node: number, topic: string): StoredEntry[] {
  return history.stored.find((n) => n.node === node)!.topics[topic]
}

function publish(history: History, id: string): PublishRecord {
  return history.publishes.find((p) => p.id === id)!
}

/** Adds a publish with an unknown outcome (it timed out) to the history. */
function unknownPublish(history: History, id: string, topic = TOPICS[0], at = 1000): PublishRecord {
  const record: PublishRecord = {
    id,
    value: `v-${id}`,
    topic,
    publisher: 9,
    invoked_at: at,
    completed_at: at + 5000,
    outcome: 'unknown',
    attempts: [{node: 0, at, done_at: at + 5000, result: 'timeout'}],
  }
  history.publishes.push(record)
  return record
}

/** Appends a stored entry for `record` on the given nodes at the topic's next offset. */
function storeOn(history: History, record: PublishRecord, nodes: number[]): number {
  let offset = -1
  for (const node of nodes) {
    const list = entries(history, node, record.topic)
    offset = list.length
    list.push({offset, id: record.id, value: record.value})
  }
  return offset
}

/** Makes every subscriber from the beginning receive the stored tail, as a caught-up subscriber would. */
function deliverTail(history: History, topic: string, entry: StoredEntry): void {
  for (const subscriber of history.subscribers) {
    subscriber.topics[topic].offsets.push(entry.offset)
    subscriber.topics[topic].values.push(entry.value)
  }
}

function anomalyCounts(report: CheckReport): Record<string, number> {
  const {lost, unexpected, duplicated, divergent, subscriber_anomalies, reordered, split_brain} = report.counts
  return {lost, unexpected, duplicated, divergent, subscriber_anomalies, reordered, split_brain}
}

const NONE = {lost: 0, unexpected: 0, duplicated: 0, divergent: 0, subscriber_anomalies: 0, reordered: 0, split_brain: 0}

describe('chaos checker', () => {
  describe('clean histories pass', () => {
    it('a run where every ack is stored everywhere and every subscriber saw everything in order', () => {
      const report = checkHistory(cleanHistory())
      expect(report.problems).to.deep.equal([])
      expect(anomalyCounts(report)).to.deep.equal(NONE)
      expect(report.valid).to.equal(true)
      expect(report.counts).to.include({publishes: 12, acks: 12, failures: 0, unknowns: 0, recovered: 0, faults: 2, elections: 2, nodes_read: 3})
      expect(report.counts.stored).to.deep.equal({0: 12, 1: 12, 2: 12})
      expect(report.counts.delivered).to.equal(3 * 12 + 6)
      expect(describeAnomalies(report)).to.deep.equal([])
    })

    it('an empty run', () => {
      const history = cleanHistory(0)
      const report = checkHistory(history)
      expect(report.valid).to.equal(true)
      expect(report.counts.publishes).to.equal(0)
    })

    it('a publish with an unknown outcome that was stored is recovered (allowed, counted)', () => {
      const history = cleanHistory()
      const record = unknownPublish(history, 'u1')
      const offset = storeOn(history, record, [0, 1, 2])
      deliverTail(history, record.topic, {offset, id: record.id, value: record.value})
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal(NONE)
      expect(report.valid).to.equal(true)
      expect(report.counts).to.include({unknowns: 1, recovered: 1, unknown_not_stored: 0})
      expect(report.recovered).to.deep.equal(['u1'])
    })

    it('a publish with an unknown outcome that was not stored is allowed too', () => {
      const history = cleanHistory()
      unknownPublish(history, 'u1')
      const report = checkHistory(history)
      expect(report.valid).to.equal(true)
      expect(report.counts).to.include({unknowns: 1, recovered: 0, unknown_not_stored: 1})
    })

    it('a failed publish that was not stored', () => {
      const history = cleanHistory()
      const record = unknownPublish(history, 'f1')
      record.outcome = 'fail'
      record.attempts = [{node: 0, at: 1000, done_at: 1001, result: 'unreachable'}]
      const report = checkHistory(history)
      expect(report.valid).to.equal(true)
      expect(report.counts).to.include({failures: 1, failed_not_stored: 1})
    })

    it('a subscriber from latest may start anywhere, and one that was not given time to catch up may stop early', () => {
      const history = cleanHistory()
      const late = history.subscribers[3]
      for (const topic of TOPICS) {
        late.topics[topic].offsets = [4]
        late.topics[topic].values = [publish(history, topic === TOPICS[0] ? 'p0-4' : 'p1-4').value]
      }
      late.final = false
      expect(checkHistory(history).valid).to.equal(true)
    })

    it('a subscriber from latest that received nothing is not judged', () => {
      const history = cleanHistory()
      for (const topic of TOPICS) history.subscribers[3].topics[topic] = {offsets: [], values: []}
      expect(checkHistory(history).valid).to.equal(true)
    })
  })

  describe('lost', () => {
    it('an acked message stored on no node', () => {
      const history = cleanHistory()
      for (const node of [0, 1, 2]) entries(history, node, TOPICS[0]).pop()
      for (const subscriber of history.subscribers) {
        subscriber.topics[TOPICS[0]].offsets.pop()
        subscriber.topics[TOPICS[0]].values.pop()
      }
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, lost: 1})
      expect(report.valid).to.equal(false)
      expect(report.lost[0]).to.deep.include({id: 'p0-5', topic: TOPICS[0], offset: 5})
      expect(report.lost[0].nodes.map((n) => n.reason)).to.deep.equal(['missing', 'missing', 'missing'])
      expect(describeAnomalies(report)[0]).to.match(/^lost: p0-5 acked at chaos.t0@5/)
    })

    it('an acked message missing on one node only is lost there, and the nodes diverge', () => {
      const history = cleanHistory()
      entries(history, 2, TOPICS[1]).pop()
      const report = checkHistory(history)
      expect(report.counts.lost).to.equal(1)
      expect(report.lost[0].nodes).to.deep.equal([{node: 2, reason: 'missing', stored: null}])
      expect(report.counts.divergent).to.equal(1)
      expect(report.divergent[0]).to.deep.include({topic: TOPICS[1], offset: 5, kind: 'short'})
      // The subscriber on node 2 received p1-5, which its node no longer stores.
      expect(report.subscribers.map((a) => [a.subscriber, a.kind])).to.deep.equal([[2, 'mismatch']])
      expect(report.valid).to.equal(false)
    })

    it('acked at one offset but stored at another: lost (moved), though every node agrees', () => {
      const history = cleanHistory()
      for (const node of [0, 1, 2]) {
        const list = entries(history, node, TOPICS[0])
        const [a, b] = [list[2], list[3]]
        list[2] = {...b, offset: 2}
        list[3] = {...a, offset: 3}
      }
      // Subscribers saw what the nodes store.
      const stored = entries(history, 0, TOPICS[0])
      for (const subscriber of history.subscribers) {
        const s = subscriber.topics[TOPICS[0]]
        s.values = s.offsets.map((offset) => stored[offset].value)
      }
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, lost: 2, reordered: 1})
      expect(report.lost.map((l) => [l.id, l.nodes[0].reason, l.nodes[0].found])).to.deep.equal([
        ['p0-2', 'moved', [{topic: TOPICS[0], offset: 3}]],
        ['p0-3', 'moved', [{topic: TOPICS[0], offset: 2}]],
      ])
    })

    it('acked, and stored at its offset under its id but with other content: lost (altered) and unexpected', () => {
      const history = cleanHistory()
      for (const node of [0, 1, 2]) entries(history, node, TOPICS[1])[1].value = 'tampered'
      for (const subscriber of history.subscribers.slice(0, 3)) subscriber.topics[TOPICS[1]].values[1] = 'tampered'
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, lost: 1, unexpected: 1})
      expect(report.lost[0].nodes[0]).to.deep.include({reason: 'altered'})
      expect(report.unexpected[0]).to.deep.include({reason: 'mismatch', id: 'p1-1', value: 'tampered', nodes: [0, 1, 2]})
    })
  })

  describe('unexpected', () => {
    it('a stored message that was never published', () => {
      const history = cleanHistory()
      const ghost: PublishRecord = {...unknownPublish(history, 'ghost'), value: 'boo'}
      history.publishes.pop()
      const offset = storeOn(history, ghost, [0, 1, 2])
      deliverTail(history, ghost.topic, {offset, id: 'ghost', value: 'boo'})
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, unexpected: 1})
      expect(report.unexpected[0]).to.deep.equal({topic: TOPICS[0], offset: 6, id: 'ghost', value: 'boo', reason: 'never-published', nodes: [0, 1, 2]})
      expect(report.valid).to.equal(false)
    })

    it('a publish that definitely failed but was stored', () => {
      const history = cleanHistory()
      const record = unknownPublish(history, 'f1')
      record.outcome = 'fail'
      const offset = storeOn(history, record, [0, 1, 2])
      deliverTail(history, record.topic, {offset, id: record.id, value: record.value})
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, unexpected: 1})
      expect(report.unexpected[0].reason).to.equal('failed-but-stored')
    })
  })

  describe('duplicated', () => {
    it('the same id stored at two offsets', () => {
      const history = cleanHistory()
      const again = publish(history, 'p0-1')
      const offset = storeOn(history, again, [0, 1, 2])
      deliverTail(history, again.topic, {offset, id: again.id, value: again.value})
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, duplicated: 1})
      expect(report.duplicated[0].id).to.equal('p0-1')
      expect(report.duplicated[0].nodes[0].places).to.deep.equal([
        {topic: TOPICS[0], offset: 1},
        {topic: TOPICS[0], offset: 6},
      ])
      expect(report.valid).to.equal(false)
    })

    it('a message without an id stored twice is found by its value', () => {
      const history = cleanHistory()
      const record = unknownPublish(history, 'u1')
      for (const node of [0, 1, 2]) {
        const list = entries(history, node, record.topic)
        list.push({offset: list.length, id: null, value: record.value}, {offset: list.length + 1, id: null, value: record.value})
      }
      for (const subscriber of history.subscribers) {
        subscriber.topics[record.topic].offsets.push(6, 7)
        subscriber.topics[record.topic].values.push(record.value, record.value)
      }
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, duplicated: 1})
      expect(report.counts.recovered).to.equal(1)
    })
  })

  describe('divergent', () => {
    it('two nodes hold different messages at the same offset', () => {
      const history = cleanHistory()
      const a = unknownPublish(history, 'u-a')
      const b = unknownPublish(history, 'u-b')
      storeOn(history, a, [0, 1])
      storeOn(history, b, [2])
      history.subscribers[3].final = false
      for (const subscriber of history.subscribers.slice(0, 3)) {
        const chosen = subscriber.node === 2 ? b : a
        subscriber.topics[TOPICS[0]].offsets.push(6)
        subscriber.topics[TOPICS[0]].values.push(chosen.value)
      }
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, divergent: 1})
      expect(report.divergent[0]).to.deep.equal({
        topic: TOPICS[0],
        offset: 6,
        kind: 'conflict',
        views: [
          {node: 0, id: 'u-a', value: 'v-u-a'},
          {node: 1, id: 'u-a', value: 'v-u-a'},
          {node: 2, id: 'u-b', value: 'v-u-b'},
        ],
      })
      expect(report.counts.recovered).to.equal(2)
      expect(report.valid).to.equal(false)
    })

    it('a node with a hole below its last offset', () => {
      const history = cleanHistory()
      const record = unknownPublish(history, 'u1')
      storeOn(history, record, [0, 1, 2])
      const more = unknownPublish(history, 'u2', TOPICS[0], 2000)
      storeOn(history, more, [0, 1, 2])
      entries(history, 1, TOPICS[0]).splice(6, 1)
      for (const subscriber of history.subscribers) subscriber.final = false
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, divergent: 1})
      expect(report.divergent[0]).to.deep.include({offset: 6, kind: 'gap'})
    })

    it('a node that is behind the others at the end', () => {
      const history = cleanHistory()
      const record = unknownPublish(history, 'u1', TOPICS[1])
      storeOn(history, record, [0, 2])
      for (const subscriber of history.subscribers) subscriber.final = false
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, divergent: 1})
      expect(report.divergent[0]).to.deep.include({topic: TOPICS[1], offset: 6, kind: 'short'})
    })
  })

  describe('subscriber anomalies', () => {
    const edit = (change: (offsets: number[], values: string[]) => void, subscriber = 0): CheckReport => {
      const history = cleanHistory()
      const stream = history.subscribers[subscriber].topics[TOPICS[0]]
      change(stream.offsets, stream.values)
      return checkHistory(history)
    }

    it('a gap', () => {
      const report = edit((offsets, values) => {
        offsets.splice(2, 1)
        values.splice(2, 1)
      })
      expect(anomalyCounts(report)).to.deep.equal({...NONE, subscriber_anomalies: 1})
      expect(report.subscribers[0]).to.deep.include({subscriber: 0, node: 0, topic: TOPICS[0], kind: 'gap', position: 2, offset: 3, missing: [2, 2]})
      expect(report.valid).to.equal(false)
    })

    it('a subscriber from the beginning that starts after offset 0', () => {
      const report = edit((offsets, values) => {
        offsets.shift()
        values.shift()
      })
      expect(report.subscribers.map((a) => [a.kind, a.missing])).to.deep.equal([['gap', [0, 0]]])
    })

    it('a duplicate', () => {
      const report = edit((offsets, values) => {
        offsets.splice(3, 0, 2)
        values.splice(3, 0, values[2])
      })
      expect(report.subscribers.map((a) => [a.kind, a.offset])).to.deep.equal([['duplicate', 2]])
    })

    it('a reorder', () => {
      const report = edit((offsets, values) => {
        ;[offsets[1], offsets[2]] = [offsets[2], offsets[1]]
        ;[values[1], values[2]] = [values[2], values[1]]
      })
      // 0, 2 (skips 1), 1 (below what was seen, never seen before)
      expect(report.subscribers.map((a) => [a.kind, a.offset])).to.deep.equal([
        ['gap', 2],
        ['reorder', 1],
      ])
    })

    it('a value other than the one stored at that offset', () => {
      const report = edit((_, values) => {
        values[4] = 'something else'
      })
      expect(report.subscribers.map((a) => [a.kind, a.offset, a.received, a.stored])).to.deep.equal([['mismatch', 4, 'something else', 'v-p0-4']])
    })

    it('a subscriber given time to catch up that did not receive the end', () => {
      const report = edit((offsets, values) => {
        offsets.splice(4)
        values.splice(4)
      })
      expect(report.subscribers.map((a) => [a.kind, a.missing])).to.deep.equal([['incomplete', [4, 5]]])
    })

    it('a subscriber from latest that skips within its run', () => {
      const report = edit((offsets, values) => {
        offsets.splice(1, 1)
        values.splice(1, 1)
      }, 3)
      expect(report.subscribers.map((a) => [a.subscriber, a.kind, a.missing])).to.deep.equal([[3, 'gap', [4, 4]]])
    })
  })

  describe('reordered', () => {
    it('a publish acked before another was sent, stored after it', () => {
      const history = cleanHistory()
      // p0-4 was acked at 85 ms; pretend p0-3 (offset 3) was only sent after that.
      const late = publish(history, 'p0-3')
      late.invoked_at = publish(history, 'p0-4').completed_at + 1
      late.completed_at = late.invoked_at + 5
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, reordered: 1})
      expect(report.reordered[0]).to.deep.include({topic: TOPICS[0]})
      expect(report.reordered[0].earlier).to.deep.include({id: 'p0-4', offset: 4})
      expect(report.reordered[0].later).to.deep.include({id: 'p0-3', offset: 3})
      expect(report.valid).to.equal(false)
    })

    it('concurrent publishes may commit in either order', () => {
      const history = cleanHistory()
      // p0-3 sent before p0-2 was acked: they overlap, so either order is fine.
      publish(history, 'p0-3').invoked_at = publish(history, 'p0-2').completed_at - 1
      expect(checkHistory(history).valid).to.equal(true)
    })
  })

  describe('split brain', () => {
    it('two nodes leading the same term', () => {
      const history = cleanHistory()
      history.elections.push({at: 160, term: 2, leader: 1}, {at: 170, term: 2, leader: 2})
      const report = checkHistory(history)
      expect(anomalyCounts(report)).to.deep.equal({...NONE, split_brain: 1})
      expect(report.split_brain).to.deep.equal([{term: 2, leaders: [1, 2]}])
      expect(describeAnomalies(report)).to.deep.equal(['split brain: nodes 1 and 2 both led term 2'])
      expect(report.valid).to.equal(false)
    })
  })

  describe('problems', () => {
    it('a node whose messages could not be read makes the check fail', () => {
      const history = cleanHistory()
      history.stored[1] = {node: 1, read: false, error: 'connection refused', topics: {}}
      const report = checkHistory(history)
      expect(report.valid).to.equal(false)
      expect(report.problems).to.deep.equal(["node 1's messages could not be read: connection refused"])
      expect(anomalyCounts(report)).to.deep.equal(NONE)
    })

    it('no node read at all', () => {
      const history = cleanHistory()
      history.stored = []
      const report = checkHistory(history)
      expect(report.valid).to.equal(false)
      expect(report.problems).to.include('no node could be read: nothing stored can be checked')
    })

    it('not converged is a warning, not a failure by itself', () => {
      const history = cleanHistory()
      history.meta.converged = false
      const report = checkHistory(history)
      expect(report.valid).to.equal(true)
      expect(report.warnings).to.deep.equal(['the cluster had not converged when its messages were read'])
    })

    it('a cluster that could not be restored fails the check, and what its nodes hold is still counted', () => {
      const history = cleanHistory()
      history.meta.restore_error = 'node 2 did not start: it crashed (code 1)'
      entries(history, 0, TOPICS[0]).length = 0
      const report = checkHistory(history)
      expect(report.valid).to.equal(false)
      expect(report.problems).to.deep.equal(['the cluster could not be restored after the faults: node 2 did not start: it crashed (code 1)'])
      expect(report.counts.lost).to.be.greaterThan(0)
    })
  })

  describe('history files', () => {
    let dir: string
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-chaos-test-'))))
    afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

    it('round-trips through a file and checks the same', () => {
      const history = cleanHistory()
      entries(history, 0, TOPICS[0]).pop()
      const file = path.join(dir, 'history.json')
      writeHistory(file, history)
      const loaded = readHistory(file)
      expect(loaded).to.deep.equal(history)
      expect(checkHistory(loaded)).to.deep.equal(checkHistory(history))
    })

    it('refuses what is not a history, saying where', () => {
      expect(() => parseHistory('nope', 'h.json')).to.throw(HistoryError, /h.json is not JSON/)
      expect(() => parseHistory('{"version":2}', 'h.json')).to.throw(HistoryError, /h.json: version must be 1/)
      const broken = cleanHistory() as unknown as {publishes: Record<string, unknown>[]}
      broken.publishes[3].outcome = 'maybe'
      expect(() => parseHistory(JSON.stringify(broken))).to.throw(HistoryError, /publishes\[3\].outcome must be ok, fail or unknown/)
      const noOffset = cleanHistory() as unknown as {publishes: Record<string, unknown>[]}
      delete noOffset.publishes[0].offset
      expect(() => parseHistory(JSON.stringify(noOffset))).to.throw(HistoryError, /publishes\[0\].offset must be a number/)
      const uneven = cleanHistory()
      uneven.subscribers[0].topics[TOPICS[0]].values.pop()
      expect(() => parseHistory(JSON.stringify(uneven))).to.throw(HistoryError, /offsets and values differ in length/)
      const badRestore = cleanHistory() as unknown as {meta: Record<string, unknown>}
      badRestore.meta.restore_error = 42
      expect(() => parseHistory(JSON.stringify(badRestore))).to.throw(HistoryError, /meta.restore_error must be a string/)
      expect(() => readHistory(path.join(dir, 'missing.json'))).to.throw(HistoryError, /cannot read/)
    })
  })

  it('the --json summary counts the faults injected per family, and carries the report', () => {
    const history = cleanHistory()
    const fault = (kind: FaultRecord['kind'], error?: string): FaultRecord => ({kind, nodes: [0], at: 1, healed_at: null, ...(error ? {error} : {})})
    history.faults = [fault('kill'), fault('partition-ring'), fault('partition-one'), fault('kill'), fault('pause', 'node 0 did not answer')]
    const report = checkHistory(history)
    const summary = summaryJson({history, report, historyFile: 'h.json', keptDir: null})
    expect(summary.faults_by_kind).to.deep.equal({kill: 2, partition: 2})
    expect(summary).to.include({valid: true, seed: 42, nodes: 3, history: 'h.json', kept_dir: null, replay: 'pad-cli chaos --seed 42'})
    expect(summary.counts).to.deep.equal(report.counts)
  })
})
