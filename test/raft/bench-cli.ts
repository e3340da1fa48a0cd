// Micro-benchmark of the Raft core: a 3-node cluster in one process, no network and no disk
// (MemoryStorage, messages handed over directly), the leader fed batches of proposals. It
// measures what the core itself costs per committed entry, so that it is never the broker's
// bottleneck.
//
//   node --import tsx test/raft/bench-cli.ts [--entries 2000000] [--batch 1000] [--size 100] [--window 4]
//
// --batch: entries per propose() call (the broker proposes what arrived in one event-loop turn);
// --size: payload bytes per entry; --window: proposal batches in flight before waiting for commit.
import {MemoryStorage, Raft, type Message, type Ready} from '../../src/raft/index.js'
import {prng} from './sim.js'

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`bench: --${name} needs a positive number`)
    process.exit(2)
  }
  return v
}

const TOTAL = arg('entries', 2_000_000)
const BATCH = arg('batch', 1000)
const SIZE = arg('size', 100)
const WINDOW = arg('window', 4)
const N = 3

interface BenchNode {
  raft: Raft
  storage: MemoryStorage
  applied: number
}

const nodes: BenchNode[] = []
for (let id = 0; id < N; id++) {
  const storage = new MemoryStorage()
  const raft = new Raft({
    id,
    peers: [0, 1, 2],
    storage,
    random: prng(id + 1),
    // Large enough that one batch is one message, as the broker would configure it.
    maxEntriesPerMsg: 4096,
    maxBytesPerMsg: 4 << 20,
  })
  nodes.push({raft, storage, applied: 0})
}

let queue: Message[] = []

/** Persist (instantly), send and apply everything each node has ready. */
function pump(n: BenchNode): void {
  while (n.raft.hasReady()) {
    const rd: Ready = n.raft.ready()
    for (const m of rd.messages) queue.push(m)
    if (rd.entries.length > 0) n.storage.append(rd.entries)
    if (rd.hardState) n.storage.setHardState(rd.hardState)
    for (const m of rd.persistedMessages) queue.push(m)
    if (rd.committed.length > 0) n.applied = rd.committed[rd.committed.length - 1].index
    n.raft.advance(rd)
  }
}

function deliverAll(): void {
  for (const n of nodes) pump(n)
  while (queue.length > 0) {
    const q = queue
    queue = []
    for (const m of q) {
      const n = nodes[m.to]
      n.raft.step(m)
      pump(n)
    }
  }
}

// Elect node 0.
const leader = nodes[0]
while (leader.raft.status().role !== 'leader') {
  leader.raft.tick()
  deliverAll()
}
deliverAll()

const payload = new Uint8Array(SIZE).fill(7)
const batch: Uint8Array[] = Array.from({length: BATCH}, () => payload)
const start0 = leader.applied
let proposed = 0
let ticks = 0
const t0 = performance.now()
const cpu0 = process.cpuUsage()
while (leader.applied - start0 < TOTAL) {
  // Keep WINDOW batches in flight, as a busy broker would.
  while (proposed - (leader.applied - start0) < WINDOW * BATCH && proposed < TOTAL) {
    if (leader.raft.propose(batch) === null) throw new Error('bench: leader lost leadership')
    proposed += BATCH
  }
  deliverAll()
  // Time passes too: heartbeats every few rounds.
  if (++ticks % 16 === 0) {
    for (const n of nodes) n.raft.tick()
    deliverAll()
  }
}
const secs = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
// CPU time too: on a shared machine the wall clock also counts other processes' turns.
const cpuSecs = (cpu.user + cpu.system) / 1e6
const committed = leader.applied - start0
const minApplied = Math.min(...nodes.map((n) => n.applied)) - start0
console.log(`3-node in-memory cluster, batches of ${BATCH} entries of ${SIZE} bytes, ${WINDOW} batches in flight`)
console.log(`committed ${committed.toLocaleString('en-US')} entries in ${secs.toFixed(2)} s: ${Math.round(committed / secs).toLocaleString('en-US')} committed entries/s`)
console.log(`CPU time ${cpuSecs.toFixed(2)} s: ${Math.round(committed / cpuSecs).toLocaleString('en-US')} committed entries per CPU second`)
console.log(`applied on every node: ${minApplied.toLocaleString('en-US')}; heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`)
