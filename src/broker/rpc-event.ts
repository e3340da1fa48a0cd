/**
 * A Raft message of the core (src/raft/types.ts) as the `rpc` event of /events
 * (api/node-events.ts): its kind in words, and only what a picture of messages in flight needs.
 */
import type {RpcEvent, RpcKind} from '../api/node-events.js'
import type {Message, MessageType} from '../raft/index.js'

export const RPC_KIND_OF: Readonly<Record<MessageType, RpcKind>> = {
  app: 'append',
  appResp: 'append-reply',
  heartbeat: 'heartbeat',
  heartbeatResp: 'heartbeat-reply',
  vote: 'vote',
  voteResp: 'vote-reply',
  preVote: 'prevote',
  preVoteResp: 'prevote-reply',
  timeoutNow: 'timeout-now',
  snap: 'snapshot',
}

/** The event of a message this node sends; the core's node ids are the member indexes /events uses everywhere. */
export function rpcEvent(message: Message, kind: RpcKind = RPC_KIND_OF[message.type]): RpcEvent {
  return {
    type: 'rpc',
    kind,
    from: message.from,
    to: message.to,
    term: message.term,
    entries: message.entries?.length ?? 0,
    reject: message.reject === true,
  }
}
