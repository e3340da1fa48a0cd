/** Publishing helpers for process-level tests. */
import {BrokerClient, type PublishAck, type PublishInput} from '../../../src/client/broker-client.js'
import {HOST, type NodeProcess} from './node-process.js'

const clients = new Set<BrokerClient>()

/** A JSON-lines client of the node, closed by `closeAllClients`. */
export async function connectClient(node: NodeProcess): Promise<BrokerClient> {
  const client = await BrokerClient.connect(HOST, node.ports.tcp)
  clients.add(client)
  return client
}

export function closeAllClients(): void {
  for (const client of clients) client.close()
  clients.clear()
}

/**
 * Publishes `count` messages with up to `window` in flight on one connection; returns the
 * acks by message number.
 */
export async function publishMany(client: BrokerClient, count: number, make: (i: number) => PublishInput, window = 256): Promise<PublishAck[]> {
  const acks: PublishAck[] = new Array(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      acks[i] = await client.publish(make(i))
    }
  }
  await Promise.all(Array.from({length: Math.min(window, count)}, worker))
  return acks
}
