import http from 'node:http'
import {expect} from 'chai'
import {TOKEN, admin} from '../e2e/helpers/cluster.js'
import {HOST, eventually} from '../e2e/helpers/node-process.js'
import {InProcessCluster} from './helpers/in-process-cluster.js'

// The admin API, /events and /cluster of a three-node cluster, run in this process (in-memory
// Raft transport). What needs processes (that no /admin request stops a node, --peers checks at
// start) is in test/e2e/node-admin.test.ts.

/** Reads Server-Sent Events from a node into a list, until closed. */
function followEvents(port: number): {events: {event: string; data: Record<string, unknown>}[]; close: () => void} {
  const events: {event: string; data: Record<string, unknown>}[] = []
  const request = http.get({host: HOST, port, path: '/events'}, (response) => {
    let buffer = ''
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => {
      buffer += chunk
      let end: number
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event && data) events.push({event, data: JSON.parse(data)})
      }
    })
  })
  request.on('error', () => {})
  return {events, close: () => request.destroy()}
}

/** A CORS preflight for a POST to /publish: the status and the origin it grants. */
function preflight(port: number, origin: string): Promise<{status: number; allow: string | undefined}> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {host: HOST, port, method: 'OPTIONS', path: '/publish', headers: {origin, 'access-control-request-method': 'POST'}, agent: false, timeout: 5000},
      (response) => {
        response.resume()
        response.on('end', () => resolve({status: response.statusCode!, allow: response.headers['access-control-allow-origin'] as string | undefined}))
      },
    )
    request.on('timeout', () => request.destroy(new Error('preflight timed out')))
    request.on('error', reject)
    request.end()
  })
}

let clusters: InProcessCluster[] = []

async function start(): Promise<InProcessCluster> {
  const cluster = await InProcessCluster.start()
  clusters.push(cluster)
  return cluster
}

describe('node admin API, /events and /cluster of three nodes in one process', function () {
  this.timeout(30_000)
  afterEach(async () => {
    await Promise.all(clusters.map((c) => c.close()))
    clusters = []
  })

  it('validates fault requests with a clear 400', async () => {
    const cluster = await start()
    const node = cluster.node(0)
    const put = (body: unknown): Promise<Response> =>
      fetch(node.url('/admin/faults'), {method: 'PUT', headers: {authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json'}, body: JSON.stringify(body)})
    for (const [body, pattern] of [
      [{peers: [7], drop: true}, /peers/],
      [{peers: [0], drop: true}, /other than this node/],
      [{peers: [1]}, /at least one/],
      [{peers: [1], loss: 2}, /loss/],
    ] as const) {
      const response = await put(body)
      expect(response.status, JSON.stringify(body)).to.equal(400)
      expect(((await response.json()) as {error: {message: string}}).error.message).to.match(pattern)
    }
    const delayed = (await admin(node, 'PUT', '/admin/faults', {peers: [1], delay_ms: 20, jitter_ms: 5, for_ms: 60_000})) as {
      faults: Record<string, {delayMs: number}>
    }
    expect(delayed.faults['1'].delayMs).to.equal(20)
  })

  it('streams role changes and faults as Server-Sent Events, and transfers leadership on request', async () => {
    const cluster = await start()
    const leader = await cluster.leader()
    const target = (leader + 1) % 3
    const stream = followEvents(cluster.ports[target].http)
    await eventually('the hello event', () => (stream.events.some((e) => e.event === 'hello') ? true : undefined))
    expect(stream.events[0].data).to.include({state: 'FOLLOWER', cluster_size: 3})
    // A transfer is given up after one election timeout (as in etcd) if the target does not catch
    // up in time, which a loaded machine can cause: ask again, as a user would, a bounded number of times.
    for (let attempt = 1; attempt <= 5; attempt++) {
      await admin(cluster.node(leader), 'POST', '/admin/transfer-leader', {to: target})
      const led = await eventually('the target to lead', async () => ((await cluster.leader(undefined, 5000)) === target ? true : undefined), 2000).catch(
        () => false,
      )
      if (led) break
    }
    expect(await cluster.leader(undefined, 5000)).to.equal(target)
    await eventually('a role event saying the target leads', () =>
      stream.events.some((e) => e.event === 'role' && e.data.role === 'LEADER') ? true : undefined,
    )
    await admin(cluster.node(target), 'PUT', '/admin/faults', {peers: [leader], delay_ms: 5})
    await eventually('a fault event', () => (stream.events.some((e) => e.event === 'fault' && e.data.action === 'set') ? true : undefined))
    stream.close()
  })

  it('serves the web dashboard, and /cluster tells it every member and its ports', async () => {
    const cluster = await start()
    await cluster.leader()
    const page = await fetch(cluster.node(1).url('/'))
    expect(page.headers.get('content-type')).to.match(/text\/html/)
    const html = await page.text()
    for (const endpoint of ['/cluster', '/raft', '/messages', '/publish']) expect(html).to.include(endpoint)
    const info = (await eventually('every member to have connected', async () => {
      const body = (await (await fetch(cluster.node(1).url('/cluster'))).json()) as {members: {http_port: number | null}[]}
      return body.members.every((m) => m.http_port !== null) ? body : undefined
    })) as {self: number; members: {index: number; http_port: number; tcp_port: number; connected: boolean}[]}
    expect(info.self).to.equal(1)
    expect(info.members.map((m) => m.http_port)).to.deep.equal(cluster.ports.map((p) => p.http))
    expect(info.members.map((m) => m.tcp_port)).to.deep.equal(cluster.ports.map((p) => p.tcp))
    // The page of one node reads the others' /raft from the browser: cross-origin GETs are allowed.
    const raft = await fetch(cluster.node(2).url('/raft'))
    expect(raft.headers.get('access-control-allow-origin')).to.equal('*')
    // Its publish form may write to any member: a page of a member is one of the cluster's own origins.
    const memberOrigin = `http://${HOST}:${cluster.ports[0].http}`
    expect(await preflight(cluster.ports[2].http, memberOrigin)).to.deep.equal({status: 204, allow: memberOrigin})
    expect(await preflight(cluster.ports[2].http, `http://${HOST}:${cluster.ports[0].tcp}`)).to.deep.equal({status: 403, allow: undefined})
  })
})
