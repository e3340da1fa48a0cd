import {Command, Flags} from '@oclif/core'
import {runLoad, type LoadResult} from '../bench/publish-load.js'

interface Phase {
  phase: 'pub-sync' | 'pub-window'
  mode: 'sync' | 'window'
  messages: number
}

export default class Bench extends Command {
  static override summary = 'Measure publish throughput and ack latency against a running node.'

  static override description = `Runs the workload of the peer benchmarks (../shared/peers): fixed-size messages, \
either one at a time awaiting each ack (sync) or with a window of publishes in flight (window). Every ack arrives \
only after the message is durable. Latencies are recorded in an HdrHistogram. With --json, one line per phase with \
the same fields as the peers' results, so both can be tabulated together.`

  static override examples = [
    '<%= config.bin %> bench',
    '<%= config.bin %> bench --mode window --window 256 --messages 150000',
    '<%= config.bin %> bench --mode sync --messages 20000 --json',
    '<%= config.bin %> bench --mode window --rate 5000 --duration 10',
  ]

  static override flags = {
    mode: Flags.string({description: 'sync: one at a time; window: --window in flight; all: both phases', options: ['sync', 'window', 'all'], default: 'all'}),
    size: Flags.integer({description: 'message body size in bytes', default: 128, min: 1}),
    window: Flags.integer({description: 'publishes in flight per connection in window mode', default: 256, min: 1}),
    connections: Flags.integer({description: 'client connections', default: 1, min: 1}),
    messages: Flags.integer({description: 'messages per phase [default: 20000 sync, 150000 window]', min: 1}),
    duration: Flags.integer({description: 'longest a phase may run, in seconds', default: 15, min: 1}),
    rate: Flags.integer({description: 'open loop: publish at this many msgs/s instead of as fast as acks allow', min: 1}),
    topic: Flags.string({description: 'topic to publish to', default: 'bench'}),
    host: Flags.string({description: 'node address', default: '127.0.0.1'}),
    port: Flags.integer({char: 'p', description: 'node TCP port', default: 5000, min: 1, max: 65535}),
    'http-port': Flags.integer({description: "node HTTP port, to read the cluster's size", default: 8080, min: 1, max: 65535}),
    json: Flags.boolean({description: 'one JSON line per phase'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Bench)
    const phases: Phase[] = []
    if (flags.mode !== 'window') phases.push({phase: 'pub-sync', mode: 'sync', messages: flags.messages ?? 20_000})
    if (flags.mode !== 'sync') phases.push({phase: 'pub-window', mode: 'window', messages: flags.messages ?? 150_000})
    const replicas = await clusterSize(flags.host, flags['http-port'])
    const rows: (LoadResult & {phase: string})[] = []
    for (const phase of phases) {
      let result: LoadResult
      try {
        result = await runLoad({
          endpoints: [{host: flags.host, port: flags.port}],
          mode: phase.mode,
          size: flags.size,
          window: flags.window,
          connections: flags.connections,
          messages: phase.messages,
          durationMs: flags.duration * 1000,
          rate: flags.rate,
          topic: flags.topic,
        })
      } catch (error) {
        this.error((error as Error).message, {exit: 1})
      }
      const row = {phase: phase.phase, ...result}
      rows.push(row)
      if (flags.json) this.log(JSON.stringify({system: 'pad-cli', phase: phase.phase, replicas, ...result}))
    }
    if (!flags.json) this.log(table(rows, replicas))
  }
}

async function clusterSize(host: string, httpPort: number): Promise<number | null> {
  try {
    const response = await fetch(`http://${host}:${httpPort}/raft`, {signal: AbortSignal.timeout(2000)})
    const info = (await response.json()) as {cluster_size?: number}
    return info.cluster_size ?? null
  } catch {
    return null
  }
}

function table(rows: (LoadResult & {phase: string})[], replicas: number | null): string {
  const header = ['phase', 'replicas', 'size', 'window', 'acked', 'errors', 'msgs/s', 'p50 ms', 'p99 ms', 'max ms', 'client cpu s']
  const lines = rows.map((r) => [
    r.phase,
    String(replicas ?? '?'),
    String(r.size),
    String(r.window),
    String(r.acked),
    String(r.errors),
    r.msgs_per_s.toLocaleString('en-US'),
    r.p50_ms.toFixed(3),
    r.p99_ms.toFixed(3),
    r.max_ms.toFixed(3),
    r.client_cpu_s.toFixed(2),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const format = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [format(header), ...lines.map(format)].join('\n')
}
