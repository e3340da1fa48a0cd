// The console page: wires the stream (stream.js) to the drawings (render.js, canvas.js) and
// the buttons to control requests (actions.js). State kept here: the nodes and the partition
// boxes; everything else is drawn as it comes.

import {control, loadToken, publish} from './actions.js'
import {kindLegend, LineChart, Wire} from './canvas.js'
import {element, renderGroups, renderLog, renderNode, renderTimelineEvent} from './render.js'
import {follow} from './stream.js'

const $ = (id) => document.getElementById(id)
const GROUP_BOXES = 3

let nodes = []
/** Node index -> partition box (0..GROUP_BOXES-1). */
const boxOf = new Map()

const wire = new Wire($('wire'))
const rateChart = new LineChart($('rate-chart'), 60, '#2e86c1')
const latencyChart = new LineChart($('latency-chart'), 60, '#c0392b')
$('wire-legend').replaceChildren(...kindLegend().map(([kind, color]) => {
  const item = element('span', '', '● ' + kind + '  ')
  item.style.color = color
  return item
}))

function setNode(node) {
  nodes[node.index] = node
  if (!boxOf.has(node.index)) boxOf.set(node.index, 0)
  renderNode($('nodes'), node)
  wire.setNodes(nodes.filter(Boolean))
}

function drawGroups() {
  const groups = Array.from({length: GROUP_BOXES}, () => [])
  for (const node of nodes.filter(Boolean)) if (node.membership !== 'removed') groups[boxOf.get(node.index) ?? 0].push(node.index)
  renderGroups($('groups'), groups, (index, box) => {
    boxOf.set(index, box)
    drawGroups()
  })
}

function drawLeader(leader) {
  $('leader-line').textContent = leader === null || leader === undefined ? 'no leader' : `leader: node ${leader}`
}

follow({
  connection(open) {
    $('connection').textContent = open ? 'live' : 'reconnecting…'
  },
  hello(hello) {
    $('cluster').textContent = hello.cluster
    document.title = `pad-cli ${hello.cluster}`
    nodes = []
    $('nodes').replaceChildren()
    $('logs').replaceChildren()
    for (const node of hello.nodes) setNode(node)
    drawGroups()
    drawLeader(hello.leader)
    $('timeline').replaceChildren()
    for (const event of hello.events) renderTimelineEvent($('timeline'), event)
  },
  node(node) {
    const known = nodes[node.index] !== undefined
    setNode(node)
    if (!known) drawGroups()
  },
  timeline(event) {
    renderTimelineEvent($('timeline'), event)
    if (event.type === 'leader') drawLeader(event.fields.leader)
  },
  rpc(rpc) {
    wire.send(rpc)
    // A count on the element, for people who inspect and for the browser tests (the dots are pixels).
    $('wire').dataset.received = String(Number($('wire').dataset.received ?? 0) + 1)
  },
  log(log) {
    renderLog($('logs'), log)
  },
  metrics(metrics) {
    rateChart.push(metrics.commits_per_s)
    latencyChart.push(metrics.latency_p99_ms)
    drawLeader(metrics.leader)
  },
})

/** Runs a control request and shows the pad-cli command it is, then its outcome. */
async function act(request) {
  $('command').textContent = '…'
  $('command-result').textContent = ''
  const answer = await control(request).catch((error) => ({ok: false, error: {code: 'NETWORK', message: error.message}, command: ''}))
  $('command').textContent = answer.command ?? ''
  $('command-result').className = answer.ok ? 'dim' : 'error'
  $('command-result').textContent = answer.ok ? 'done' : `${answer.error?.code}: ${answer.error?.message}`
}

function delayMs() {
  const ms = Number($('delay-ms').value)
  return Number.isInteger(ms) && ms >= 0 && ms <= 60000 ? ms : 200
}

$('nodes').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]')
  const card = event.target.closest('[data-node]')
  if (!button || !card) return
  const node = Number(card.dataset.node)
  const action = button.dataset.action
  if (action === 'isolate') return act({op: 'partition', groups: [[node]]})
  if (action === 'transfer') return act({op: 'transfer', to: node})
  if (action === 'delay') return act({op: 'delay', node, ms: delayMs()})
  return act({op: action, node})
})

$('partition').addEventListener('click', () => {
  const groups = Array.from({length: GROUP_BOXES}, () => [])
  for (const node of nodes.filter(Boolean)) if (node.membership !== 'removed') groups[boxOf.get(node.index) ?? 0].push(node.index)
  const nonEmpty = groups.filter((g) => g.length > 0)
  if (nonEmpty.length < 2) {
    $('command').textContent = ''
    $('command-result').className = 'error'
    $('command-result').textContent = 'drag the nodes into at least two groups first'
    return
  }
  act({op: 'partition', groups: nonEmpty})
})

$('heal').addEventListener('click', () => {
  for (const index of boxOf.keys()) boxOf.set(index, 0)
  drawGroups()
  act({op: 'heal'})
})

$('publish').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  $('publish-result').textContent = '…'
  const answer = await publish(String(form.get('topic')), String(form.get('message'))).catch((error) => ({ok: false, error: {code: 'NETWORK', message: error.message}}))
  $('publish-result').className = answer.ok ? 'dim' : 'error'
  $('publish-result').textContent = answer.ok ? `stored ${answer.topic}@${answer.offset} (log index ${answer.index}, through node ${answer.via})` : `${answer.error?.code}: ${answer.error?.message}`
})

loadToken()
