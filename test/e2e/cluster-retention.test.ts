/**
 * `pad-cli up --retention`: checked once, kept in cluster.json, passed to every node, and applied
 * alike on each.
 */
import {expect} from 'chai'
import type {StatsInfo, TopicsAnswer} from '../../src/api/node-http.js'
import {CliCluster, HOST, clusterHooks, eventually} from './cluster-helpers.js'

describe('cluster manager: --retention', function () {
  this.timeout(180_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  it('refuses a bad spec in one line, and gives every node the limits', async () => {
    const c = (cluster = await CliCluster.create(3))
    expect(await c.fails(['up', ...c.upFlags(), '--retention', 'max-messages=3,max-size=1KB'], 2, {cluster: false})).to.equal(
      'Error: --retention "max-size=1KB": unknown limit "max-size" (max-messages, max-bytes, max-age)',
    )
    await c.ok(['up', ...c.upFlags(), '--wait', '60s', '--retention', 'max-messages=3'], {cluster: false})
    for (let i = 0; i < 5; i++) await c.ok(['publish', 'kept', `{"n":${i}}`])
    for (let node = 0; node < 3; node++) {
      const url = `http://${HOST}:${c.ports.http + node}/topics`
      const detail = await eventually(`node ${node} trims`, async () => {
        const {details} = (await (await fetch(url, {signal: AbortSignal.timeout(3000)})).json()) as TopicsAnswer
        const kept = details.find((d) => d.topic === 'kept')
        return kept?.first_offset === 2 ? kept : undefined
      }, 20_000)
      expect(detail).to.deep.equal({topic: 'kept', messages: 3, next_offset: 5, first_offset: 2})
    }
    const stats = (await (await fetch(`http://${HOST}:${c.ports.http}/stats`, {signal: AbortSignal.timeout(3000)})).json()) as StatsInfo
    expect(stats.retention).to.deep.equal({cluster: {maxMessages: 3}, topics: {}})
    expect(await c.ok(['topics'])).to.match(/^TOPIC\s+MESSAGES\s+FIRST OFFSET\s+NEXT OFFSET\nkept\s+3\s+2\s+5\n$/)
  })
})
