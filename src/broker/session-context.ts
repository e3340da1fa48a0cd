/** What a client session needs of its node. */
import type {NodeLimits} from './limits.js'
import type {Logger} from './logger.js'
import type {MessageStore} from './message-store.js'
import type {Publisher} from './publisher.js'
import type {SubscriptionRegistry} from './subscription.js'

export interface SessionLimits extends NodeLimits {
  /** Longest JSON line accepted; a 1 MiB body escaped in JSON can need up to twice that. */
  maxLineBytes: number
}

export interface SessionContext {
  publisher: Publisher
  store: MessageStore
  subscriptions: SubscriptionRegistry
  limits: SessionLimits
  logger: Logger
}
