/**
 * A scenario's publishes: each with a unique body and dedup id, so the checks can find it on
 * every node. `acked` ones must be stored at their offset on every node; `unacked` ones (sent to
 * a minority or a stale leader, never acknowledged) must not be stored anywhere after the heal.
 */
import {BrokerClient} from '../client/broker-client.js'
import type {ClusterMember} from '../cluster/supervised-cluster.js'

export interface Acked {
  topic: string
  offset: number
  body: string
}

export interface Unacked {
  topic: string
  body: string
  /** Why it was not acknowledged: the node's refusal, or no answer in time. */
  reason: string
}

export class PublishLog {
  readonly acked: Acked[] = []
  readonly unacked: Unacked[] = []
  private sent = 0

  constructor(
    private readonly scenario: string,
    private readonly runId: string,
  ) {}

  /** The topics any publish of the run went to. */
  topics(): string[] {
    return [...new Set([...this.acked, ...this.unacked].map((p) => p.topic))]
  }

  /**
   * Sends `count` publishes to `node` (a few in flight at once), each bounded by `timeoutMs`;
   * resolves with how many were acknowledged and the first refusal, recording every outcome.
   */
  async publish(node: ClusterMember, topic: string, count: number, step: number, timeoutMs: number): Promise<{acked: number; firstError: string | null}> {
    let client: BrokerClient
    try {
      client = await BrokerClient.connect(node.host, node.tcp_port, Math.min(timeoutMs, 3000))
    } catch (error) {
      // Nothing was sent: none of these can ever be stored.
      return {acked: 0, firstError: (error as Error).message}
    }
    let acked = 0
    let firstError: string | null = null
    const one = async (): Promise<void> => {
      const n = ++this.sent
      const body = JSON.stringify({scenario: this.scenario, run: this.runId, step, n})
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no acknowledgement within ${timeoutMs} ms`)), timeoutMs)
      })
      try {
        const ack = await Promise.race([client.publish({topic, format: 'JSON', body, id: `${this.runId}-${n}`}), timeout])
        this.acked.push({topic, offset: ack.offset, body})
        acked++
      } catch (error) {
        const reason = (error as Error).message
        firstError ??= reason
        this.unacked.push({topic, body, reason})
      } finally {
        clearTimeout(timer)
      }
    }
    try {
      const window = 16
      for (let done = 0; done < count; done += window) await Promise.all(Array.from({length: Math.min(window, count - done)}, one))
    } finally {
      client.close()
    }
    return {acked, firstError}
  }
}
