/* global document -- the functions handed to page.waitForFunction run in the browser */
// Takes docs/console.png: the web console of a running cluster just after a leader change.
// Usage (the cluster up, chromium installed): node scripts/console-screenshot.mjs [cluster]
// It publishes a few messages (so the logs have cells), kills the leader from the page,
// waits for the new leader, screenshots, and starts the killed node again.
import {execFileSync} from 'node:child_process'
import {chromium} from 'playwright-core'

const cluster = process.argv[2] ?? 'default'
const cli = (...args) => execFileSync(process.execPath, ['bin/run.js', ...args, '--cluster', cluster], {encoding: 'utf8'})
const url = cli('web', '--no-open').trim().split('\n')[0]
for (let i = 0; i < 12; i++) cli('publish', 'news', JSON.stringify({n: i}))
const browser = await chromium.launch({executablePath: process.env.PAD_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox']})
try {
  const page = await browser.newPage({viewport: {width: 1280, height: 1100}})
  await page.goto(url)
  const leader = () => page.$$eval('[data-node][data-role="LEADER"]', (cards) => cards.map((c) => Number(c.dataset.node)))
  await page.waitForFunction(() => document.querySelectorAll('[data-node][data-role="LEADER"]').length === 1, undefined, {timeout: 30000})
  const [old] = await leader()
  await page.click(`[data-node="${old}"] button[data-action="kill"]`)
  await page.waitForFunction((o) => {
    const cards = document.querySelectorAll('[data-node][data-role="LEADER"]')
    return cards.length === 1 && cards[0].dataset.node !== String(o)
  }, old, {timeout: 30000})
  for (let i = 0; i < 6; i++) cli('publish', 'news', JSON.stringify({after: i}))
  // Let the log cells, messages and charts catch up with the change.
  await page.waitForTimeout(1500)
  await page.screenshot({path: 'docs/console.png', fullPage: true})
  console.log(`docs/console.png: node ${old} killed, node ${(await leader())[0]} leads`)
  cli('start', String(old))
} finally {
  await browser.close()
}
