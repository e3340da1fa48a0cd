/**
 * The failover phase of the peer benchmarks: publish open loop at a steady rate (each publish with
 * its own ack timeout), SIGKILL the leader after a while, and measure the gap: from the kill
 * to the first ack of a publish sent after it. The publisher talks only to the nodes that
 * survive, so the gap is the cluster's failover, not a client reconnect. Afterwards every
 * acknowledged message must be stored, at the offset its ack named, with its content.
 */
import {performance} from 'node:perf_hooks'
import {BrokerClient} from '../client/broker-client.js'
import {poll, sleep} from '../util/time.js'
import {round3} from './latency.js'
import {makeBody, type Endpoint} from './publish-load.js'

export interface FailoverOptions {
  survivors: Endpoint[]
  rate: number
  ackTimeoutMs: number
  killAfterMs: number
  /** Keep publishing this long after the first ack that follows the kill. */
  settleMs: number
  maxMs: number
  size: number
  topic: string
  /** Kills the leader; returns its name. */
  killLeader: () => Promise<string>
  /** After the run: what the surviving cluster stored in the topic, by offset. */
  readStored: (topic: string) => Promise<Map<number, string>>
}

export interface FailoverResult {
  phase: 'failover'
  killed: string
  rate_per_s: number
  ack_timeout_ms: number
  gap_s: number | null
  last_ok_before_kill_s: number | null
  sent: number
  acked: number
  acked_after_kill: number
  errors: number
  error_kinds: Record<string, number>
  stored_after: number
  acked_all_stored: boolean
}

class AckTimeout extends Error {
  readonly code = 'TIMEOUT'
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new AckTimeout(`no ack within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer))
}

export async function runFailover(options: FailoverOptions): Promise<FailoverResult> {
  const clients = await Promise.all(options.survivors.map((e) => BrokerClient.connect(e.host, e.port)))
  const base = makeBody(options.size)
  // Unique bodies, so that each ack can be checked against what is stored at its offset.
  const bodyOf = (n: number): string => `${n.toString().padStart(10, '0')} ${base}`.slice(0, Math.max(options.size, 11))
  for (let i = 0; i < 20; i++) await clients[i % clients.length].publish({topic: options.topic, format: 'RAW', body: `warm-up ${i}`})

  const acks = new Map<number, string>()
  const errorKinds: Record<string, number> = {}
  let sent = 0
  let acked = 0
  let errors = 0
  let ackedAfterKill = 0
  let inFlight = 0
  let killAt: number | null = null
  let killed = ''
  let lastOkBeforeKill: number | null = null
  let firstOkAfterKill: number | null = null
  const intervalMs = 1000 / options.rate
  const maxMessages = Math.ceil((options.rate * options.maxMs) / 1000) + 10
  const t0 = performance.now()

  const publishOne = (): void => {
    const n = sent++
    const body = bodyOf(n)
    const sentAt = performance.now()
    inFlight++
    withTimeout(clients[n % clients.length].publish({topic: options.topic, format: 'RAW', body}), options.ackTimeoutMs)
      .then(
        (ack) => {
          const at = performance.now()
          acked++
          acks.set(ack.offset, body)
          if (killAt === null) lastOkBeforeKill = at
          else if (sentAt >= killAt) {
            ackedAfterKill++
            firstOkAfterKill ??= at
          }
        },
        (error: {code?: string}) => {
          errors++
          const kind = error.code ?? 'ERROR'
          errorKinds[kind] = (errorKinds[kind] ?? 0) + 1
        },
      )
      .finally(() => inFlight--)
  }

  for (let turn = 0; turn < maxMessages * 10; turn++) {
    const now = performance.now()
    if (killAt === null && now - t0 >= options.killAfterMs) {
      killAt = performance.now()
      killed = await options.killLeader()
    }
    const done = (firstOkAfterKill !== null && now - firstOkAfterKill >= options.settleMs) || now - t0 > options.maxMs || sent >= maxMessages
    if (done) break
    const due = Math.min(Math.floor((now - t0) / intervalMs) - sent, 50)
    for (let k = 0; k < due; k++) publishOne()
    await sleep(Math.max(1, Math.floor(intervalMs)))
  }
  // The last acks, or their timeouts, for up to 2 s.
  await poll(() => (inFlight === 0 ? true : undefined), {timeoutMs: 2000, intervalMs: 20})
  for (const client of clients) client.close()

  const stored = await options.readStored(options.topic)
  let allStored = true
  for (const [offset, body] of acks) if (stored.get(offset) !== body) allStored = false
  return {
    phase: 'failover',
    killed,
    rate_per_s: options.rate,
    ack_timeout_ms: options.ackTimeoutMs,
    gap_s: killAt !== null && firstOkAfterKill !== null ? round3((firstOkAfterKill - killAt) / 1000) : null,
    last_ok_before_kill_s: killAt !== null && lastOkBeforeKill !== null ? round3((killAt - lastOkBeforeKill) / 1000) : null,
    sent,
    acked,
    acked_after_kill: ackedAfterKill,
    errors,
    error_kinds: errorKinds,
    stored_after: stored.size,
    acked_all_stored: allStored,
  }
}
