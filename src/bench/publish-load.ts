/**
 * The publish workload of the peer benchmarks (NATS JetStream, etcd), against pad-cli: fixed-size messages, one at a
 * time (`sync`) or with a window of publishes in flight per connection (`window`), closed
 * loop, or open loop at a fixed `rate`. Reports the same fields as the peers' bench.mjs.
 */
import {performance} from 'node:perf_hooks'
import {BrokerClient} from '../client/broker-client.js'
import {sleep} from '../util/time.js'
import {LatencyRecorder, round3} from './latency.js'

export interface Endpoint {
  host: string
  port: number
}

export interface LoadOptions {
  endpoints: Endpoint[]
  mode: 'sync' | 'window'
  size: number
  window: number
  connections: number
  /** Stop after this many messages... */
  messages?: number
  /** ...or after this long, whichever comes first. */
  durationMs: number
  /** Open loop: messages per second over all connections; closed loop when absent. */
  rate?: number
  topic: string
  /**
   * Publishes sent one at a time before the measured phase and not counted in it, as the
   * peers' bench.mjs does (500): connections, the nodes' JIT and their WAL files warm up.
   */
  warmup?: number
  /** Ends the phase early when aborted (a background load that runs until something else is done). */
  stop?: AbortSignal
}

export interface LoadResult {
  mode: 'sync' | 'window'
  size: number
  window: number
  connections: number
  /** The messages the phase was to send (--messages), or null when only its duration bounds it. */
  n_target: number | null
  /** True when the phase was cut short by its duration before it sent n_target messages. */
  capped: boolean
  sent: number
  acked: number
  errors: number
  error_kinds: Record<string, number>
  elapsed_s: number
  msgs_per_s: number
  p50_ms: number
  p99_ms: number
  max_ms: number
  client_cpu_s: number
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const clients = await Promise.all(
    Array.from({length: options.connections}, (_, i) => {
      const endpoint = options.endpoints[i % options.endpoints.length]
      return BrokerClient.connect(endpoint.host, endpoint.port)
    }),
  )
  const body = makeBody(options.size)
  const latencies = new LatencyRecorder()
  const errorKinds: Record<string, number> = {}
  let sent = 0
  let acked = 0
  let errors = 0
  const perConnectionWindow = options.mode === 'sync' ? 1 : options.window
  await warmUp(clients, options.topic, body, options.warmup ?? 0)
  const cpuBefore = process.cpuUsage()
  const start = performance.now()
  const deadline = start + options.durationMs
  const limit = options.messages ?? Number.POSITIVE_INFINITY
  const interval = options.rate ? 1000 / options.rate : 0

  const publishOne = async (client: BrokerClient): Promise<void> => {
    sent++
    const t0 = performance.now()
    try {
      await client.publish({topic: options.topic, format: 'RAW', body})
      acked++
      latencies.record(performance.now() - t0)
    } catch (error) {
      errors++
      const code = (error as {code?: string}).code ?? 'ERROR'
      errorKinds[code] = (errorKinds[code] ?? 0) + 1
    }
  }

  const more = (): boolean => sent < limit && performance.now() < deadline && !options.stop?.aborted

  const closedLoop = async (client: BrokerClient): Promise<void> => {
    const lane = async (): Promise<void> => {
      while (more()) await publishOne(client)
    }
    await Promise.all(Array.from({length: perConnectionWindow}, lane))
  }

  const openLoop = async (): Promise<void> => {
    const inFlight = new Set<Promise<void>>()
    let next = start
    let turn = 0
    while (more()) {
      const now = performance.now()
      while (next <= now && more()) {
        const client = clients[turn++ % clients.length]
        const p = publishOne(client).finally(() => inFlight.delete(p))
        inFlight.add(p)
        next += interval
      }
      await sleep(Math.max(0, Math.min(next - performance.now(), 10)))
    }
    await Promise.all(inFlight)
  }

  try {
    if (interval > 0) await openLoop()
    else await Promise.all(clients.map(closedLoop))
  } finally {
    for (const client of clients) client.close()
  }
  const elapsed = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  return {
    mode: options.mode,
    size: options.size,
    window: perConnectionWindow,
    connections: options.connections,
    n_target: options.messages ?? null,
    capped: sent < limit,
    sent,
    acked,
    errors,
    error_kinds: errorKinds,
    elapsed_s: round3(elapsed),
    msgs_per_s: Math.round(acked / elapsed),
    p50_ms: latencies.percentileMs(50),
    p99_ms: latencies.percentileMs(99),
    max_ms: latencies.maxMs(),
    client_cpu_s: round3((cpu.user + cpu.system) / 1e6),
  }
}

/**
 * Sends the warm-up publishes round-robin over the connections. Stops at the first error:
 * the measured phase then shows what is wrong, with its own errors and timeouts.
 */
async function warmUp(clients: BrokerClient[], topic: string, body: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    try {
      await clients[i % clients.length].publish({topic, format: 'RAW', body})
    } catch {
      return
    }
  }
}

/** A body of exactly `size` bytes of printable ASCII, as the peers' workload sends. */
export function makeBody(size: number): string {
  const pattern = 'pad-cli benchmark payload 0123456789 abcdefghijklmnopqrstuvwxyz '
  return pattern.repeat(Math.ceil(size / pattern.length)).slice(0, size)
}
