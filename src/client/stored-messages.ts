/** A node's stored messages of one topic, read page by page from GET /messages. */
import type {MessageItem, MessagePage} from '../api/node-http.js'
import {getJson, type NodeAddress} from './node-http-client.js'

const PAGE = 1000

/** Every message of one topic a node stores, in offset order, paging by offset. */
export async function readTopic(node: NodeAddress, topic: string, timeoutMs = 10_000): Promise<MessageItem[]> {
  const out: MessageItem[] = []
  let from = 0
  for (let page = 0; page < 1_000_000; page++) {
    const body = await getJson<MessagePage>(node, `/messages?topic=${encodeURIComponent(topic)}&order=oldest&limit=${PAGE}&from=${from}`, timeoutMs)
    out.push(...body.messages)
    // A page cut short by the node's byte limit says where the next one starts.
    if (body.truncated && body.next_from !== undefined) from = body.next_from
    else if (body.messages.length < PAGE) break
    // Page after the last offset returned, not after a count, so a hole is not papered over.
    else from = body.messages[body.messages.length - 1].offset + 1
  }
  return out
}
