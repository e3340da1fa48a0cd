/**
 * The `b` key's background publisher: a steady rate of small JSON messages to the leader
 * (or any running node, which forwards), each with a timeout, at most a few in flight, so a
 * dead or paused node only makes publishes fail (counted), never piles them up.
 */
import {requestJson} from '../client/node-http-client.js'
import type {TopModel} from './model.js'

const MAX_IN_FLIGHT = 8

export class BackgroundPublisher {
  private timer: NodeJS.Timeout | null = null
  private inFlight = 0
  private n = 0

  constructor(
    private readonly model: TopModel,
    private readonly rate: number,
    private readonly topic: string,
  ) {}

  get on(): boolean {
    return this.timer !== null
  }

  start(): void {
    if (this.timer) return
    this.model.publisher = {on: true, rate: this.rate, sent: 0, failed: 0}
    this.timer = setInterval(() => this.publishOne(), Math.max(1, Math.round(1000 / this.rate)))
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.model.publisher = {...this.model.publisher, on: false}
  }

  private publishOne(): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.model.publisher.failed++
      return
    }
    const snapshot = this.model.snapshot()
    const target = (snapshot.leader !== null ? snapshot.nodes[snapshot.leader] : undefined) ?? snapshot.nodes.find((n) => n.process === 'running')
    if (!target || target.process !== 'running') {
      this.model.publisher.failed++
      return
    }
    this.inFlight++
    const body = {topic: this.topic, body: {n: ++this.n, at: new Date().toISOString()}}
    const started = performance.now()
    requestJson({host: target.host, http_port: target.http_port}, 'POST', '/publish', {body, timeoutMs: 1000})
      .then((answer) => {
        if (answer.status >= 200 && answer.status < 300) {
          this.model.publisher.sent++
          // The node answers once the message is committed and applied: the chart's latency.
          this.model.publishAcked(performance.now() - started)
        } else this.model.publisher.failed++
      })
      .catch(() => this.model.publisher.failed++)
      .finally(() => this.inFlight--)
  }
}
