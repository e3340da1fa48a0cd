/// <reference lib="dom" />
/**
 * The web console in a real browser (Debian's chromium through playwright-core), on a 3-node
 * cluster of real processes brought up by `pad-cli up` with a web port chosen for the test:
 * three nodes and one leader; kill the leader from its card and see another lead and the kill
 * in the timeline; partition by dragging a node into another group, then heal, from the page;
 * publish from the form and see the offset. And a node's own GET / with a hostile message
 * body: shown as text, never run.
 */
import {expect} from 'chai'
import type {Browser, Page} from 'playwright-core'
import {CliCluster, eventually} from './cluster-helpers.js'
import {freePort} from './helpers/node-process.js'
import {launchChromium} from './helpers/chromium.js'
import {controlRequest} from '../../src/cluster/control.js'
import {clusterPaths} from '../../src/cluster/layout.js'

const WAIT_MS = 30_000

describe('web console in a browser', function () {
  this.timeout(180_000)
  let browser: Browser | null = null
  let cluster: CliCluster | null = null
  let page: Page
  let url: string

  before(async function () {
    browser = await launchChromium(this)
    cluster = await CliCluster.create(3)
    const webPort = await freePort()
    await cluster.ok(['up', ...cluster.upFlags(), '--web-port', String(webPort)], {cluster: false})
    url = (await cluster.ok(['web', '--no-open'])).trim().split('\n')[0]
    expect(url).to.match(new RegExp(`^http://127\\.0\\.0\\.1:${webPort}/#token=`))
    page = await browser.newPage()
    await page.goto(url)
  })

  after(async function () {
    if (this.currentTest?.state === 'failed' && cluster) console.error(cluster.report())
    await browser?.close()
    await cluster?.cleanup()
  })

  /** The indexes of the cards that say LEADER. */
  const leaders = (): Promise<number[]> => page.$$eval('[data-node][data-role="LEADER"]', (cards) => cards.map((c) => Number((c as HTMLElement).dataset.node)))

  it('shows three nodes and exactly one leader, each log as cells with the commit index marked, and takes the token out of the address bar', async () => {
    await page.waitForFunction(() => document.querySelectorAll('[data-node]').length === 3, undefined, {timeout: WAIT_MS})
    await eventually('one leader on the page', async () => ((await leaders()).length === 1 ? true : undefined), WAIT_MS, 100)
    expect(page.url()).to.not.include('token')
    expect(await page.textContent('#cluster')).to.equal(cluster!.name)
    // Every node's log row has cells, and the cell marked as the commit index is that node's commit.
    for (const i of [0, 1, 2]) {
      await page.waitForFunction(
        (n) => {
          const commit = document.querySelector(`[data-log="${n}"] .cell.commit`) as HTMLElement | null
          const card = document.querySelector(`[data-node="${n}"]`) as HTMLElement | null
          return commit !== null && card !== null && commit.dataset.index === card.dataset.commit
        },
        i,
        {timeout: WAIT_MS},
      )
    }
  })

  it('kills the leader from its card: another leads, and the kill is in the timeline', async () => {
    const [old] = await leaders()
    await page.click(`[data-node="${old}"] button[data-action="kill"]`)
    await page.waitForFunction((text) => document.getElementById('command')?.textContent === text, `pad-cli kill ${old} --cluster ${cluster!.name}`, {timeout: WAIT_MS})
    const leader = await eventually('a new leader on the page', async () => {
      const now = await leaders()
      return now.length === 1 && now[0] !== old ? now[0] : undefined
    }, WAIT_MS, 100)
    expect(await page.getAttribute(`[data-node="${old}"]`, 'data-process')).to.equal('exited')
    const kill = await page.textContent('#timeline li[data-type="kill"]')
    expect(kill).to.include(`SIGKILL to node ${old}`)
    // The election's messages were drawn (votes are always relayed), and the survivors' logs show
    // a cell of the new term, which the new leader's first entry carries.
    expect(Number(await page.getAttribute('#wire', 'data-received'))).to.be.greaterThan(0)
    const term = Number(await page.getAttribute(`[data-node="${leader}"]`, 'data-term'))
    // A candidate votes for itself: the new leader's card says so.
    await page.waitForFunction((i) => document.querySelector(`[data-node="${i}"] dd.vote`)?.textContent === String(i), leader, {timeout: WAIT_MS})
    await page.waitForFunction(
      ({i, t}) => Array.from(document.querySelectorAll(`[data-log="${i}"] .cell`)).some((c) => c.textContent === String(t)),
      {i: leader, t: term},
      {timeout: WAIT_MS},
    )
    await page.click(`[data-node="${old}"] button[data-action="start"]`)
    await page.waitForFunction((i) => document.querySelector(`[data-node="${i}"]`)?.getAttribute('data-process') === 'running', old, {timeout: WAIT_MS})
  })

  it('partitions by dragging a node into another group, and heals', async () => {
    const [leader] = await leaders()
    await page.dragAndDrop(`[data-chip="${leader}"]`, '[data-group="1"]')
    await page.waitForSelector(`[data-group="1"] [data-chip="${leader}"]`, {timeout: WAIT_MS})
    await page.click('#partition')
    const others = [0, 1, 2].filter((i) => i !== leader)
    await page.waitForFunction((text) => document.getElementById('command')?.textContent === text, `pad-cli partition ${others.join(',')} ${leader} --cluster ${cluster!.name}`, {timeout: WAIT_MS})
    await page.waitForFunction((i) => (document.querySelector(`[data-node="${i}"] .faults`)?.textContent ?? '').includes('cut from'), leader, {timeout: WAIT_MS})
    const status = await cluster!.status()
    expect(status.nodes[leader].faults.map((f) => f.peer).sort()).to.deep.equal(others)
    await page.click('#heal')
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-node] .faults')).every((f) => f.textContent === ''), undefined, {timeout: WAIT_MS})
    expect((await cluster!.status()).nodes.every((n) => n.faults.length === 0)).to.equal(true)
    expect(await page.textContent('#timeline li[data-type="heal"]')).to.include('every network fault removed')
  })

  it("shows a scenario's narration in the timeline as it is told", async () => {
    // What pad-cli scenario run sends before each step (the control op say), here sent directly.
    const text = 'Node 0 is cut off: watch the others <b>elect</b> a leader'
    await controlRequest(clusterPaths(cluster!.name, cluster!.home).socket, {op: 'say', scenario: 'classroom', step: 3, text, kind: 'say'})
    await page.waitForFunction((t) => Array.from(document.querySelectorAll('#timeline li[data-type="scenario"]')).some((li) => (li.textContent ?? '').includes(t)), text, {timeout: WAIT_MS})
    // Shown as text, never as markup.
    expect(await page.$$eval('#timeline li[data-type="scenario"] b', (bold) => bold.length)).to.equal(0)
  })

  it('publishes from the form and shows the offset', async () => {
    await eventually('one leader', async () => ((await leaders()).length === 1 ? true : undefined), WAIT_MS, 100)
    await page.fill('#publish input[name="topic"]', 'console-test')
    await page.fill('#publish input[name="message"]', '{"from":"the browser"}')
    await page.click('#publish button')
    await page.waitForFunction(() => /^stored console-test@0 /.test(document.getElementById('publish-result')?.textContent ?? ''), undefined, {timeout: WAIT_MS})
    const stored = await cluster!.ok(['messages', '--topic', 'console-test', '--json'])
    expect(stored).to.include('the browser')
  })

  it("keeps a node's own dashboard (GET /) escaping what it shows", async () => {
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    await cluster!.ok(['publish', 'hostile', hostile, '--format', 'raw'])
    const node = await browser!.newPage()
    await node.goto(`http://127.0.0.1:${cluster!.ports.http}/`)
    await node.waitForFunction((text) => Array.from(document.querySelectorAll('#messages code')).some((c) => c.textContent === text), hostile, {timeout: WAIT_MS})
    expect(await node.evaluate(() => (window as unknown as {__pwned?: number}).__pwned)).to.equal(undefined)
    expect(await node.$$('#messages img')).to.have.length(0)
    await node.close()
  })

  it('gives another origin neither the token nor an action', async () => {
    // A page of another origin (a node's dashboard) tries to read the token and to kill node 0.
    const other = await browser!.newPage()
    await other.goto(`http://127.0.0.1:${cluster!.ports.http}/`)
    const base = new URL(url).origin
    const tried = await other.evaluate(async (origin) => {
      const token = await fetch(origin + '/api/token').then((r) => r.text(), (e: Error) => `blocked: ${e.message}`)
      const kill = await fetch(origin + '/api/control', {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"op":"kill","node":0}'}).then((r) => String(r.status), (e: Error) => `blocked: ${e.message}`)
      return {token, kill}
    }, base)
    expect(tried.token).to.match(/^blocked/)
    expect(tried.kill).to.match(/^blocked/)
    expect((await cluster!.status()).nodes[0].process).to.equal('running')
    await other.close()
  })
})
