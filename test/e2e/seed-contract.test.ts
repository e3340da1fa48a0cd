/**
 * The seed's API is a subset of ours. The seed's clients run unmodified against a node: its
 * Java publisher reads the topic names of GET /topics, its dashboard script reads counters of
 * /stats, /status, /messages and /subscribers. For each endpoint, the fields they read and
 * their types, checked on the answers of a real node process; our own detail lives in other
 * fields and must never change these.
 */
import {expect} from 'chai'
import type {MessagePage, StatsInfo, StatusInfo, SubscribersAnswer, TopicsAnswer} from '../../src/api/node-http.js'
import {closeAllSockets, getJson, http, LineSocket} from './helpers/clients.js'
import {eventually, nodeFixture, sleep, type NodeProcess} from './helpers/node-process.js'

type FieldType = 'string' | 'integer' | 'string[]' | 'array'

/** The seed's fields of each endpoint's answer, and of the items of its list (if it has one). */
const SEED_FIELDS: Record<string, {answer: Record<string, FieldType>; items?: {list: string; fields: Record<string, FieldType>}}> = {
  '/topics': {answer: {topics: 'string[]'}},
  '/stats': {
    answer: {total_messages: 'integer', active_subscribers: 'integer', topics_count: 'integer', messages_per_minute: 'integer', current_connections: 'integer'},
  },
  '/status': {answer: {status: 'string'}},
  '/messages': {answer: {messages: 'array'}, items: {list: 'messages', fields: {content: 'string'}}},
  '/subscribers': {answer: {subscribers: 'array'}, items: {list: 'subscribers', fields: {topics: 'string[]'}}},
}

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string'
    case 'integer':
      return Number.isInteger(value) && (value as number) >= 0
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string')
    case 'array':
      return Array.isArray(value)
  }
}

/** Fails naming the endpoint, the field, the type the seed gives it and what came instead. */
function expectSeedFields(where: string, answer: Record<string, unknown>, fields: Record<string, FieldType>): void {
  for (const [field, type] of Object.entries(fields)) {
    expect(hasType(answer[field], type), `${where}: "${field}" should be ${type}, got ${JSON.stringify(answer[field])}`).to.equal(true)
  }
}

describe("the seed's API (real process)", function () {
  this.timeout(60_000)
  const nodes = nodeFixture('all')
  let node: NodeProcess

  before(async () => {
    node = await nodes.start()
    // As the seed's clients do: an HTTP publish with the seed's field name `content`, a PAD
    // publisher whose topic is in the body, and a PAD subscriber.
    const published = await http(node, 'POST', '/publish', {topic: 'news', format: 'JSON', content: '{"headline": "seed"}'})
    expect(published.status, published.text).to.equal(200)
    const publisher = await LineSocket.connect(node.ports.tcp)
    await publisher.send('PUBLISH\nFORMAT:JSON|{"Topic":"alerts","level":"high"}\n')
    await eventually('the PAD publish to be stored', async () => ((await getJson<TopicsAnswer>(node, '/topics')).topics.includes('alerts') ? true : undefined))
    const subscriber = await LineSocket.connect(node.ports.tcp)
    await subscriber.send('SUBSCRI')
    await sleep(20)
    await subscriber.send('SUBSCRIBE:news\n')
    expect(await subscriber.nextLine()).to.equal('FORMAT:JSON|{"headline": "seed"}')
  })
  after(() => closeAllSockets())

  for (const [path, contract] of Object.entries(SEED_FIELDS)) {
    it(`GET ${path} has the seed's fields: ${[...Object.keys(contract.answer), ...Object.keys(contract.items?.fields ?? {})].join(', ')}`, async () => {
      const answer = await getJson(node, path)
      expectSeedFields(path, answer, contract.answer)
      if (contract.items) {
        const list = answer[contract.items.list] as Record<string, unknown>[]
        expect(list, `${path}: "${contract.items.list}" should not be empty here`).to.have.length.greaterThan(0)
        for (const [i, item] of list.entries()) expectSeedFields(`${path} ${contract.items.list}[${i}]`, item, contract.items.fields)
      }
    })
  }

  it("GET /topics: the names the seed's publisher picks a topic from; counts are in details", async () => {
    const {topics, details} = await getJson<TopicsAnswer>(node, '/topics')
    expect(topics).to.include.members(['alerts', 'news'])
    expect(details.map((t) => t.topic)).to.deep.equal(topics)
    expect(details.find((t) => t.topic === 'alerts')).to.deep.equal({topic: 'alerts', messages: 1, next_offset: 1})
  })

  it('GET /stats: the counters mean what the seed meant', async () => {
    // A publish acknowledged just now is stored, so it counts in the last minute.
    expect((await http(node, 'POST', '/publish', {topic: 'stats', format: 'RAW', body: 'x'})).status).to.equal(200)
    const stats = await getJson<StatsInfo>(node, '/stats')
    const {details} = await getJson<TopicsAnswer>(node, '/topics')
    expect(stats.total_messages).to.equal(details.reduce((sum, t) => sum + t.messages, 0))
    expect(stats.topics_count).to.equal(details.length)
    expect(stats.messages_per_minute).to.be.at.least(1).and.at.most(stats.total_messages)
    expect(stats.active_subscribers).to.equal(1)
    expect(stats.current_connections).to.be.at.least(1)
  })

  it('GET /status: a node that answers is "online"', async () => {
    expect((await getJson<StatusInfo>(node, '/status')).status).to.equal('online')
  })

  it('GET /messages: content is the message as published', async () => {
    const {messages} = await getJson<MessagePage>(node, '/messages?topic=news')
    expect(messages.map((m) => m.content)).to.deep.equal(['{"headline": "seed"}'])
    expect(messages[0].content).to.equal(messages[0].body)
  })

  it("GET /subscribers: each subscriber's topics", async () => {
    const {subscribers} = await getJson<SubscribersAnswer>(node, '/subscribers')
    expect(subscribers.map((s) => s.topics)).to.deep.equal([['news']])
  })
})
