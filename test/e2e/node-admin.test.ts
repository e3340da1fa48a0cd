import {expect} from 'chai'
import {adminRoutes} from '../../src/broker/admin-api.js'
import {TestCluster, TOKEN} from './helpers/cluster.js'
import {HOST, freePort, nodeFixture} from './helpers/node-process.js'

/** Every /admin route, as admin-api.ts declares them. */
const ADMIN_ROUTES = adminRoutes(
  {
    memberIds: () => [],
    changeMembership: () => Promise.reject(new Error('not in this listing')),
    self: 0,
    transport: {faults: {set: () => {}, clear: () => {}, active: () => new Map()}},
    driver: {transferLeadership: () => {}, compactNow: async () => ({index: 0, term: 0})},
    events: {publish: () => {}},
    stop: async () => {},
    diskBytes: () => 0,
  },
  null,
).map((r) => ({method: r.method, path: r.path}))

describe('node admin API, /events and cluster flags (real processes)', function () {
  this.timeout(60_000)
  const fixture = nodeFixture('each')

  it('refuses every /admin route without the cluster token, with a wrong one, and (401, "disabled") when no token was configured', async () => {
    const cluster = await TestCluster.start(fixture)
    const node = cluster.node(0)
    const bare = await fixture.start()
    const json = {'content-type': 'application/json'}
    const cases: [string, typeof node, Record<string, string>, RegExp][] = [
      ['no token', node, json, /token/],
      ['a wrong token', node, {...json, authorization: 'Bearer nope'}, /token/],
      ['a wrong token of the right length', node, {...json, authorization: `Bearer ${'x'.repeat(TOKEN.length)}`}, /token/],
      ['the token without "Bearer "', node, {...json, authorization: TOKEN}, /token/],
      ['a node with no token', bare, {...json, authorization: `Bearer ${TOKEN}`}, /disabled/],
    ]
    expect(ADMIN_ROUTES.length).to.be.at.least(5)
    for (const [what, target, headers, message] of cases) {
      for (const route of ADMIN_ROUTES) {
        const body = route.method === 'GET' ? undefined : JSON.stringify({to: 1, drop: true})
        const answer = await fetch(target.url(route.path), {method: route.method, headers, body, signal: AbortSignal.timeout(5000)})
        expect(answer.status, `${route.method} ${route.path} with ${what}`).to.equal(401)
        expect(((await answer.json()) as {error: {message: string}}).error.message).to.match(message)
      }
    }
    expect(node.running && bare.running, 'no /admin/shutdown went through').to.equal(true)
  })

  it('refuses --peers that do not list the node itself, with a one-line error', async () => {
    const node = await fixture.start({waitHealthy: false, args: ['--peers', `${HOST}:${await freePort()},${HOST}:${await freePort()}`]})
    const exit = await node.waitExit(20_000)
    expect(exit?.code).to.not.equal(0)
    expect(node.output).to.match(/--peers must list this node's own Raft address/)
    expect(node.output).to.not.match(/ at .*\.ts:\d+/)
  })
})
