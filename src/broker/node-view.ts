/** What the HTTP API reads of its node. */
import type {ClusterInfo, HealthInfo, RaftInfo, RaftLogAnswer, StatsInfo, StatusInfo, SubscriberInfo, TopicDetail} from '../api/node-http.js'
import type {MessageStore} from './message-store.js'
import type {Publisher} from './publisher.js'
import type {SessionLimits} from './session-context.js'

export interface NodeView {
  readonly nodeId: string
  readonly limits: SessionLimits
  readonly publisher: Publisher
  readonly store: MessageStore
  raftInfo(): RaftInfo
  /** The terms of the last `last` entries of the log as runs (1..MAX_LOG_TAIL, checked by the caller). */
  raftLog(last: number): RaftLogAnswer
  statusInfo(): StatusInfo
  stats(): StatsInfo
  /** Every stored topic, sorted by name. */
  topics(): TopicDetail[]
  subscribers(): SubscriberInfo[]
  health(): HealthInfo
  prometheusMetrics(): string
  clusterInfo(): ClusterInfo
}
