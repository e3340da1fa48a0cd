// Drawings on <canvas>: Raft messages in flight between nodes placed on a circle, and small
// line charts. No library: a few lines of the 2D context each.

/** Colors of terms (log cells) and of message kinds: a fixed palette, cycled. */
export const PALETTE = ['#7fb3d5', '#f5b041', '#82e0aa', '#f1948a', '#bb8fce', '#f7dc6f', '#76d7c4', '#e59866']

const KIND_COLORS = {
  append: '#2e86c1', 'append-reply': '#85c1e9', heartbeat: '#aab7b8', 'heartbeat-reply': '#d5dbdb',
  vote: '#e67e22', 'vote-reply': '#f5cba7', prevote: '#a569bd', 'prevote-reply': '#d2b4de',
  'timeout-now': '#c0392b', snapshot: '#27ae60',
}
/** How long a message takes to cross on screen: slow enough to follow an election. */
const FLIGHT_MS = 700
const MAX_DOTS = 200

export class Wire {
  constructor(canvas) {
    this.canvas = canvas
    this.context = canvas.getContext('2d')
    this.nodes = []
    this.dots = []
    this.frame = this.frame.bind(this)
    requestAnimationFrame(this.frame)
  }

  /** The nodes to place (ConsoleNode[]). */
  setNodes(nodes) {
    this.nodes = nodes
  }

  /** One message (ConsoleRpc) starts its flight now. */
  send(rpc) {
    if (this.dots.length >= MAX_DOTS) this.dots.shift()
    this.dots.push({rpc, start: performance.now()})
  }

  position(index) {
    const count = Math.max(1, this.nodes.length)
    const {width, height} = this.canvas
    const angle = -Math.PI / 2 + (2 * Math.PI * index) / count
    const radius = Math.min(width, height) / 2 - 28
    return {x: width / 2 + radius * Math.cos(angle), y: height / 2 + radius * Math.sin(angle)}
  }

  frame(now) {
    const c = this.context
    c.clearRect(0, 0, this.canvas.width, this.canvas.height)
    c.font = '12px system-ui'
    c.textAlign = 'center'
    c.textBaseline = 'middle'
    for (const node of this.nodes) {
      const {x, y} = this.position(node.index)
      c.beginPath()
      c.arc(x, y, 20, 0, 2 * Math.PI)
      c.fillStyle = node.process !== 'running' ? '#8884' : node.role === 'LEADER' ? '#2e9e4f' : node.role === 'CANDIDATE' || node.role === 'PRE_CANDIDATE' ? '#c98a00' : '#7fb3d5'
      c.fill()
      c.fillStyle = '#000'
      c.fillText(String(node.index), x, y)
    }
    this.dots = this.dots.filter((dot) => now - dot.start < FLIGHT_MS)
    for (const {rpc, start} of this.dots) {
      if (rpc.from >= this.nodes.length || rpc.to >= this.nodes.length) continue
      const t = (now - start) / FLIGHT_MS
      const a = this.position(rpc.from)
      const b = this.position(rpc.to)
      c.beginPath()
      c.arc(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, rpc.kind.endsWith('reply') ? 3 : 5, 0, 2 * Math.PI)
      c.fillStyle = rpc.reject ? '#c0392b' : (KIND_COLORS[rpc.kind] ?? '#888')
      c.fill()
    }
    requestAnimationFrame(this.frame)
  }
}

/** The legend of message kinds, as [kind, color] pairs. */
export function kindLegend() {
  return Object.entries(KIND_COLORS)
}

/** A line chart of the last `capacity` values (null: a gap), scaled to its maximum. */
export class LineChart {
  constructor(canvas, capacity = 60, color = '#2e86c1') {
    this.canvas = canvas
    this.values = []
    this.capacity = capacity
    this.color = color
  }

  push(value) {
    this.values.push(value)
    if (this.values.length > this.capacity) this.values.shift()
    this.draw()
  }

  draw() {
    const c = this.canvas.getContext('2d')
    const {width, height} = this.canvas
    c.clearRect(0, 0, width, height)
    const known = this.values.filter((v) => typeof v === 'number')
    const max = Math.max(1, ...known)
    const top = 14
    const step = width / Math.max(1, this.capacity - 1)
    c.strokeStyle = '#8884'
    c.beginPath()
    c.moveTo(0, height - 1)
    c.lineTo(width, height - 1)
    c.stroke()
    c.strokeStyle = this.color
    c.lineWidth = 2
    c.beginPath()
    let pen = false
    this.values.forEach((v, i) => {
      if (typeof v !== 'number') {
        pen = false
        return
      }
      const x = i * step
      const y = height - 1 - ((height - top - 2) * v) / max
      if (pen) c.lineTo(x, y)
      else c.moveTo(x, y)
      pen = true
    })
    c.stroke()
    c.lineWidth = 1
    c.fillStyle = '#888'
    c.font = '11px system-ui'
    c.textAlign = 'left'
    c.textBaseline = 'top'
    const last = known.at(-1)
    c.fillText('max ' + formatNumber(max) + (last === undefined ? '' : '   now ' + formatNumber(last)), 2, 0)
  }
}

function formatNumber(n) {
  return n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10)
}
