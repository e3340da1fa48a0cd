/** What the HTTP API reads of its node. */
import type {MessageStore} from './message-store.js'
import type {Publisher} from './publisher.js'
import type {SessionLimits} from './session-context.js'

export interface NodeView {
  readonly nodeId: string
  readonly limits: SessionLimits
  readonly publisher: Publisher
  readonly store: MessageStore
  raftInfo(): Record<string, unknown>
  statusInfo(): Record<string, unknown>
  stats(): Record<string, unknown>
  topics(): {topic: string; messages: number; next_offset: number}[]
  subscribers(): Record<string, unknown>[]
  health(): Record<string, unknown>
  prometheusMetrics(): string
  clusterInfo(): Record<string, unknown>
}
