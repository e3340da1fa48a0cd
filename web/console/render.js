// Drawing the page from the stream's data (the types of src/api/console.ts). Every value from
// the cluster goes in through textContent or setAttribute, never innerHTML: node ids, faults
// and timeline text come from processes and files, and are not markup.

import {PALETTE} from './canvas.js'

/** An element with a class and, optionally, text. */
export function element(tag, className, text) {
  const el = document.createElement(tag)
  if (className) el.className = className
  if (text !== undefined && text !== null) el.textContent = String(text)
  return el
}

const show = (value) => (value === null || value === undefined ? '–' : String(value))

/** The per-node actions: [action, label]; main.js turns an action into a control request. */
export const NODE_ACTIONS = [
  ['kill', 'kill'], ['stop', 'stop'], ['start', 'start'], ['pause', 'pause'], ['resume', 'resume'],
  ['isolate', 'isolate'], ['transfer', 'make leader'], ['delay', 'delay'],
]

/** The card of one node (ConsoleNode), made or updated in place in `container`. */
export function renderNode(container, node) {
  let card = container.querySelector(`[data-node="${Number(node.index)}"]`)
  if (!card) {
    card = element('article', 'node')
    card.dataset.node = String(node.index)
    card.append(element('div', 'title'), element('dl'), element('div', 'faults'))
    const buttons = element('div', 'buttons')
    for (const [action, label] of NODE_ACTIONS) {
      const button = element('button', '', label)
      button.type = 'button'
      button.dataset.action = action
      buttons.append(button)
    }
    card.append(buttons)
    const cards = [...container.children]
    const after = cards.find((c) => Number(c.dataset.node) > node.index)
    container.insertBefore(card, after ?? null)
  }
  const running = node.process === 'running'
  card.className = 'node ' + (running && node.role ? node.role : '') + (running ? '' : ' down')
  card.dataset.role = running && node.role ? node.role : ''
  card.dataset.process = node.process
  // For scripts and tests: the figures the card shows, as attributes.
  card.dataset.term = String(node.term ?? '')
  card.dataset.commit = String(node.commit ?? '')
  card.querySelector('.title').textContent = `node ${node.index}  ${node.node_id}` + (node.membership === 'voter' ? '' : ` (${node.membership})`)
  const rows = [
    ['role', running ? show(node.role) : '–', 'role ' + (node.role ?? '')],
    ['process', node.process + (node.pid ? ` (pid ${node.pid})` : ''), 'process'],
    ['term', show(node.term), 'term'],
    ['vote', show(node.vote), 'vote'],
    ['commit', show(node.commit), 'commit'],
    ['applied', show(node.applied), 'applied'],
    ['last index', show(node.last_index), 'last'],
  ]
  const dl = card.querySelector('dl')
  dl.replaceChildren(...rows.flatMap(([name, value, cls]) => [element('dt', '', name), element('dd', cls, value)]))
  const faults = (node.faults ?? []).map((f) => (f.drop ? `cut from ${f.peer}` : f.delay_ms ? `+${f.delay_ms} ms to ${f.peer}` : f.loss ? `${Math.round(f.loss * 100)}% loss to ${f.peer}` : `fault to ${f.peer}`))
  card.querySelector('.faults').textContent = faults.join(', ')
}

/** One node's log tail (ConsoleLog) as cells colored by term, the commit index outlined. */
export function renderLog(container, log) {
  let row = container.querySelector(`[data-log="${Number(log.node)}"]`)
  if (!row) {
    row = element('div', 'logrow')
    row.dataset.log = String(log.node)
    row.append(element('span', 'label', `node ${log.node}`), element('div', 'cells'))
    const rows = [...container.children]
    container.insertBefore(row, rows.find((r) => Number(r.dataset.log) > log.node) ?? null)
  }
  const cells = []
  for (const run of log.runs) {
    for (let index = run.from; index <= run.to && cells.length < 400; index++) {
      const cell = element('div', 'cell' + (index > log.commit ? ' uncommitted' : '') + (index === log.commit ? ' commit' : ''), run.term)
      cell.style.backgroundColor = PALETTE[run.term % PALETTE.length]
      cell.setAttribute('title', `index ${index}, term ${run.term}` + (index === log.commit ? ' (commit index)' : ''))
      cell.dataset.index = String(index)
      cells.push(cell)
    }
  }
  row.querySelector('.cells').replaceChildren(...cells)
  row.querySelector('.label').textContent = `node ${log.node}  #${log.last_index}`
}

const MAX_TIMELINE = 300

/** A timeline event (ConsoleTimelineEvent) added on top. */
export function renderTimelineEvent(list, event) {
  const item = element('li', event.type === 'scenario' ? 'scenario' : '')
  item.dataset.type = event.type
  item.append(element('span', 'time', String(event.time).slice(11, 23)), element('span', 'type', event.type), element('span', 'text', event.text))
  list.prepend(item)
  while (list.children.length > MAX_TIMELINE) list.lastElementChild.remove()
}

/** The partition boxes: `groups` is an array of arrays of node indexes; chips are draggable into boxes. */
export function renderGroups(container, groups, onDrop) {
  const boxes = groups.map((members, g) => {
    const box = element('div', 'group')
    box.dataset.group = String(g)
    box.append(element('div', 'name', `group ${String.fromCharCode(65 + g)}`))
    for (const index of members) {
      const chip = element('span', 'chip', `node ${index}`)
      chip.draggable = true
      chip.dataset.chip = String(index)
      chip.addEventListener('dragstart', (event) => event.dataTransfer.setData('text/plain', String(index)))
      box.append(chip)
    }
    box.addEventListener('dragover', (event) => {
      event.preventDefault()
      box.classList.add('over')
    })
    box.addEventListener('dragleave', () => box.classList.remove('over'))
    box.addEventListener('drop', (event) => {
      event.preventDefault()
      box.classList.remove('over')
      const index = Number(event.dataTransfer.getData('text/plain'))
      if (Number.isInteger(index)) onDrop(index, g)
    })
    return box
  })
  container.replaceChildren(...boxes)
}
