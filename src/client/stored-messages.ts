/** A node's stored messages of one topic, read page by page from GET /messages. */
import {getJson, type NodeAddress} from './node-http-client.js'

export interface TopicMessage {
  topic: string
  offset: number
  body: string
  id?: string
}

const PAGE = 1000

/** Every message of one topic a node stores, in offset order, paging by offset. */
export async function readTopic(node: NodeAddress, topic: string, timeoutMs = 10_000): Promise<TopicMessage[]> {
  const out: TopicMessage[] = []
  let from = 0
  for (let page = 0; page < 1_000_000; page++) {
    const body = await getJson<{messages: TopicMessage[]}>(node, `/messages?topic=${encodeURIComponent(topic)}&order=oldest&limit=${PAGE}&from=${from}`, timeoutMs)
    out.push(...body.messages)
    if (body.messages.length < PAGE) break
    // Page after the last offset returned, not after a count, so a hole is not papered over.
    from = body.messages[body.messages.length - 1].offset + 1
  }
  return out
}
